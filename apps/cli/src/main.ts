import { TOKEN_USAGE, tokenCommand } from './token.command';

const USAGE = `usage: keygate <command> [options]

commands:
  ${TOKEN_USAGE.replace(/\n/g, '\n  ')}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'token':
      process.stdout.write(`${await tokenCommand(rest, process.env)}\n`);
      return 0;
    case undefined:
    case '--help':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command: ${command}\n\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
