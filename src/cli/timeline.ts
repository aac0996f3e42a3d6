// `pgwal timeline`: the timeline history the sources hold, as a table or JSON.
import fs from 'node:fs';
import path from 'node:path';
import { WalError } from '../errors.js';
import { formatLsn } from '../lsn.js';
import { newestTimeline, readHistory } from '../node/wal.js';
import { ArchiveWal, restoreTimeoutMs } from '../node/restore.js';
import type { TimelineHistory } from '../timeline/history.js';
import { getopt, type OptionSpec } from './getopt.js';
import type { DumpIo } from './dump.js';

export const TIMELINE_HELP = `pgwal timeline prints the timeline history that WAL folders or an archive hold.

Usage:
  pgwal timeline [OPTION]...

Options:
  -p, --path=DIR             a pg_wal or archive folder (repeatable; default: ./pg_wal, or .)
      --restore-command=CMD  fetch history files with a restore_command (%f, %p, %r, %%)
      --restore-timeout=SECONDS  stop a restore_command that runs longer, as an error (default: no limit)
  -t, --timeline=TLI|latest  whose history to print (default: latest — the newest history file found,
                             probing N+1.history as the server does)
      --json                 one JSON array of {timeline, begins_at, switched_at, reason}
  -?, --help                 show this help, then exit
`;

function holdsWal(dir: string): boolean {
  try {
    return fs.readdirSync(dir).some((n) => /^[0-9A-F]{8}(\.history$|[0-9A-F]{16})/.test(n));
  } catch {
    return false;
  }
}

function table(history: TimelineHistory): string {
  const rows = [...history].reverse().map((e) => [String(e.tli), formatLsn(e.begin), e.end === undefined ? '' : formatLsn(e.end), e.reason]);
  const head = ['timeline', 'begins at', 'switched at', 'reason'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? ` ${c.padStart(width[i]!)} ` : ` ${c.padEnd(width[i]!)} `)).join('|').trimEnd() + '\n';
  return line(head) + width.map((w) => '-'.repeat(w + 2)).join('+') + '\n' + rows.map(line).join('');
}

/** Every option `pgwal timeline` parses; its help lists the same (test/cli-help.test.ts). */
export const TIMELINE_OPTIONS: OptionSpec[] = [
  { short: 'p', long: 'path', arg: 'required' },
  { long: 'restore-command', arg: 'required' },
  { long: 'restore-timeout', arg: 'required' },
  { short: 't', long: 'timeline', arg: 'required' },
  { long: 'json', arg: 'none' },
  { short: '?', long: 'help', arg: 'none' },
];

export async function timeline(argv: string[], io: DumpIo): Promise<number> {
  let parsed;
  try {
    parsed = getopt(
      argv,
      TIMELINE_OPTIONS,
      (m) => {
        throw new WalError('invalid-argument', m);
      },
    );
  } catch (e) {
    io.err(`pgwal timeline: error: ${(e as Error).message}\npgwal timeline: hint: Try "pgwal timeline --help" for more information.\n`);
    return 1;
  }
  const opt = (name: string): string[] => parsed.options.filter((o) => o.name === name).map((o) => o.value ?? '');
  if (opt('help').length > 0) {
    io.out(TIMELINE_HELP);
    return 0;
  }
  const t = opt('timeline')[0];
  const target = t === undefined || t === 'latest' ? 'latest' : Number(t);
  if (target !== 'latest' && (!Number.isInteger(target) || target < 1 || target > 0xffffffff)) {
    io.err(`pgwal timeline: error: invalid value "${t}" for option -t/--timeline\n`);
    return 1;
  }
  try {
    let history: TimelineHistory;
    const restore = opt('restore-command')[0];
    const dirs = opt('path').map((d) => path.resolve(io.cwd, d));
    if (restore !== undefined) {
      const timeoutMs = restoreTimeoutMs(opt('restore-timeout')[0]);
      const wal = await ArchiveWal.open({ restoreCommand: restore, dirs: dirs.length > 0 ? dirs : undefined, timeline: target, timeoutMs });
      history = wal.history;
      wal.close();
    } else {
      // ./pg_wal, or the current folder when there is none and it holds WAL or history files itself.
      const pgWal = path.resolve(io.cwd, 'pg_wal');
      const where = dirs.length > 0 ? dirs : !fs.existsSync(pgWal) && holdsWal(io.cwd) ? [io.cwd] : [pgWal];
      history = readHistory(where, target === 'latest' ? newestTimeline(where) : target);
    }
    if (opt('json').length > 0) {
      const rows = [...history].reverse().map((e) => ({ timeline: e.tli, begins_at: formatLsn(e.begin), switched_at: e.end === undefined ? null : formatLsn(e.end), reason: e.end === undefined ? null : e.reason }));
      io.out(JSON.stringify(rows) + '\n');
    } else io.out(table(history));
    return 0;
  } catch (e) {
    if (e instanceof WalError) {
      io.err(`pgwal timeline: error: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
