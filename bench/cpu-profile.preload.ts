/**
 * Preloaded into a gateway by `npm run bench:profile`: the first SIGUSR2 starts a CPU profile,
 * the second writes it to $CPU_PROFILE_FILE (after start-up, so module loading is left out; and
 * the gateway's SIGTERM handling ends the process by signal, which node --cpu-prof does not survive).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const session = new Session();
session.connect();
let running = false;
process.on('SIGUSR2', () => {
  if (!running) {
    running = true;
    session.post('Profiler.enable', () =>
      session.post('Profiler.setSamplingInterval', { interval: 250 }, () =>
        session.post('Profiler.start', () => process.stdout.write('cpu profile started\n')),
      ),
    );
    return;
  }
  session.post('Profiler.stop', (error, result) => {
    if (!error)
      writeFileSync(process.env.CPU_PROFILE_FILE as string, JSON.stringify(result.profile));
    process.stdout.write('cpu profile written\n');
  });
});
