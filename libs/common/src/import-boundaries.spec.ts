import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * The boundaries of eslint.config.mjs bite: each forbidden import, linted as if it were a file in
 * the folder concerned, is an error of `no-restricted-imports`; the same import where it is allowed
 * is not. ESLint's Node API loads the flat config with a dynamic import(), which jest's module
 * sandbox refuses (it needs --experimental-vm-modules), so every case is linted in one plain node
 * process through `new ESLint().lintText(code, { filePath })` and the messages come back as JSON.
 */
const root = join(__dirname, '..', '..', '..');

const LINT = `
const { join } = require('node:path');
const { ESLint } = require('eslint');
const eslint = new ESLint({ cwd: process.cwd() });
const cases = JSON.parse(process.argv[1]);
Promise.all(
  cases.map(async ([code, file]) => {
    const [result] = await eslint.lintText(code, { filePath: join(process.cwd(), file) });
    return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
  }),
).then((out) => process.stdout.write(JSON.stringify(out)));
`;

const use = (from: string, name = 'x') =>
  `import { ${name} } from '${from}';\nexport const y = ${name};\n`;

const APP = 'A library never imports an app';
const PURE = 'stay pure';
const SIM = 'never imports the simulator';

/** [what, file it is linted as, code, the message expected (none: allowed)] */
const CASES: [string, string, string, string | null][] = [
  [
    'a lib imports the gateway by path',
    'libs/audit/src/probe.ts',
    use('../../../apps/gateway/src/config/gateway.config'),
    APP,
  ],
  ['a lib imports the simulator', 'libs/upstream/src/probe.ts', use('@app/upstream-sim'), APP],
  ['a lib imports a simulator file', 'libs/auth/src/probe.ts', use('@app/upstream-sim/clock'), APP],
  [
    'libs/policy imports Nest',
    'libs/policy/src/probe.ts',
    use('@nestjs/common', 'Injectable'),
    PURE,
  ],
  ['libs/policy imports axios', 'libs/policy/src/probe.ts', use('axios', 'create'), PURE],
  ['libs/policy imports fs', 'libs/policy/src/probe.ts', use('fs', 'readFileSync'), PURE],
  ['libs/policy imports node:fs', 'libs/policy/src/probe.ts', use('node:fs', 'readFileSync'), PURE],
  [
    'libs/policy imports node:fs/promises',
    'libs/policy/src/probe.ts',
    use('node:fs/promises', 'readFile'),
    PURE,
  ],
  [
    'libs/policy imports @app/auth (its index pulls in Nest)',
    'libs/policy/src/probe.ts',
    use('@app/auth', 'isAdmin'),
    PURE,
  ],
  [
    'libs/policy imports @app/upstream (axios)',
    'libs/policy/src/probe.ts',
    use('@app/upstream', 'QwietClient'),
    PURE,
  ],
  [
    'libs/policy imports @app/audit (fs)',
    'libs/policy/src/probe.ts',
    use('@app/audit', 'verifyChain'),
    PURE,
  ],
  [
    'libs/common imports Nest',
    'libs/common/src/probe.ts',
    use('@nestjs/common', 'Injectable'),
    PURE,
  ],
  [
    'libs/policy imports node:crypto',
    'libs/policy/src/probe.ts',
    use('node:crypto', 'createHash'),
    null,
  ],
  [
    'libs/policy imports @app/common',
    'libs/policy/src/probe.ts',
    use('@app/common', 'GatewayRole'),
    null,
  ],
  [
    'the gateway imports the simulator',
    'apps/gateway/src/qwiet/probe.ts',
    use('@app/upstream-sim', 'UpstreamSimulator'),
    SIM,
  ],
  [
    'the gateway imports a simulator type',
    'apps/gateway/src/qwiet/probe.ts',
    "import type { FaultSpec } from '@app/upstream-sim';\nexport type Y = FaultSpec;\n",
    SIM,
  ],
  [
    'the gateway re-exports the simulator',
    'apps/gateway/src/probe.ts',
    "export { UpstreamSimulator } from '@app/upstream-sim';\n",
    SIM,
  ],
  [
    'the gateway imports a simulator file by path',
    'apps/gateway/src/audit/probe.ts',
    use('../../../upstream-sim/src/clock', 'Clock'),
    SIM,
  ],
  [
    'main.dev.ts starts the simulator',
    'apps/gateway/src/main.dev.ts',
    use('@app/upstream-sim', 'UpstreamSimulator'),
    null,
  ],
  [
    'dev/ starts the simulator',
    'apps/gateway/src/dev/probe.ts',
    use('@app/upstream-sim', 'UpstreamSimulator'),
    null,
  ],
];

describe('import boundaries (eslint.config.mjs, no-restricted-imports)', () => {
  let messages: string[][];
  beforeAll(async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['-e', LINT, JSON.stringify(CASES.map(([, file, code]) => [code, file]))],
      { cwd: root, timeout: 60_000 },
    );
    messages = JSON.parse(stdout) as string[][];
  }, 60_000);

  it.each(CASES.map((c, i) => [...c, i] as const))(
    '%s (%s)',
    (_what, _file, _code, expected, i) => {
      expect(messages[i]).toEqual(expected ? [expect.stringContaining(expected)] : []);
    },
  );
});
