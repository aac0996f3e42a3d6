// The `pgwal` command line: dispatches to one subcommand per job.
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const VERSION = (require('../../package.json') as { version: string }).version;

const HELP = `pgwal ${VERSION} — read PostgreSQL WAL files and decode them outside the server

Usage:
  pgwal --version          print the version
  pgwal --help             print this help

Subcommands arrive as their issues land (dump, decode, timeline, slot).
`;

export function main(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: { version: { type: 'boolean', short: 'V' }, help: { type: 'boolean', short: '?' } },
    allowPositionals: true,
    strict: false,
  });
  if (values.version) {
    process.stdout.write(`pgwal ${VERSION}\n`);
    return 0;
  }
  process.stdout.write(HELP);
  return values.help ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
