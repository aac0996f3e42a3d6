// `pgwal slot orphans` and `pgwal decode --orphans FILE`: the changes of the transactions a slot consumed on the
// old timeline past a failover's switch point, in the slot's output format, and a report of those not printed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WalError } from '../errors.js';
import { formatLsn, parseLsn } from '../lsn.js';
import { decodeOrphans, type OrphanReport } from '../node/orphans.js';
import { FileSpillStore } from '../node/spill.js';
import { readSlotStateFile } from '../node/slot.js';
import type { TimelineReader } from '../node/slot-decode.js';
import type { SlotState } from '../slot/state.js';
import type { TimelineHistory } from '../timeline/history.js';
import { getopt, type Parsed } from './getopt.js';
import { byteaHex } from '../reorderbuffer/pgoutput.js';
import { makePlugin, openWalSources, parseSize, pluginChoice, SHARED_DECODE_OPTIONS } from './decode-options.js';
import type { DumpIo } from './dump.js';

export const ORPHANS_HELP = `pgwal slot orphans prints the changes of the transactions a slot consumed on its old timeline past the
point where a failover left it (orphaned transactions), as the old primary's own decoding printed them: the
slot's plugin format (test_decoding, or --plugin json), one row per line, in commit order. A report goes to
stderr: each orphan's xid, commit LSN, first record, and, for one not printed, why.

Usage:
  pgwal slot orphans --state FILE [--path DIR]... [--restore-command CMD] [--wal-segsize MB]
                     [--plugin test_decoding|json] [-o NAME=VALUE]... [--with-lsn] [--memory-limit SIZE] [--json]

  The old timeline's WAL from the slot's start point to its confirmed_flush must be on hand (its own segment
  files in the --path folders or the archive). Decoding starts at a restart point of the slot: a kept one
  (pgwal decode --orphan-window) whose confirmed_flush is at or before the switch point when there is one, and
  then every orphan is printed; otherwise the oldest it has, and an orphan that began before it is reported as
  "changes unavailable", never printed in part.

  --with-lsn           print "lsn<TAB>xid<TAB>data", as pg_logical_slot_peek_changes's three columns
  --memory-limit SIZE  logical_decoding_work_mem (default 64MB); above it transactions spill to a temporary folder
  --json               the report as one JSON object on stderr instead of text
  -?, --help           show this help
  -p, --restore-command, --restore-timeout, --wal-segsize, --plugin, -o: as pgwal decode takes them (stream-changes does not apply)

Exit status: 0 all orphans printed, 2 some not (see the report), 1 an error.
`;

/** `slot orphans`' options: those it shares with decode, and --json. */
export const ORPHANS_OPTIONS = [...SHARED_DECODE_OPTIONS, { long: 'json', arg: 'none' }] as const;

/** The report as text: one line per orphan. */
export function orphanReportText(r: OrphanReport, who: string): string {
  const printed = r.transactions.filter((t) => t.unavailable === undefined).length;
  let out =
    `${who}: slot "${r.slotName}": ${r.transactions.length} orphaned transaction(s) on timeline ${r.timeline} between the switch point ${formatLsn(r.switchPoint)} ` +
    `and confirmed_flush ${formatLsn(r.confirmedFlush)}, decoded from ${r.start.what}: ${printed} printed, ${r.transactions.length - printed} not\n`;
  for (const t of r.transactions) {
    const first = t.firstLsn === undefined ? '' : `, began at ${formatLsn(t.firstLsn)}`;
    out += `  xid ${t.xid} committed at ${formatLsn(t.commitLsn)}${first}: ${t.unavailable === undefined ? 'printed' : `changes unavailable (${t.unavailable.code}): ${t.unavailable.reason}`}\n`;
  }
  return out;
}

export function orphanReportJson(r: OrphanReport): string {
  return `${JSON.stringify({
    slot: r.slotName,
    timeline: r.timeline,
    switchPoint: formatLsn(r.switchPoint),
    confirmedFlush: formatLsn(r.confirmedFlush),
    start: { lsn: formatLsn(r.start.lsn), confirmedFlush: formatLsn(r.start.confirmedFlush), what: r.start.what },
    transactions: r.transactions.map((t) => ({
      xid: t.xid,
      commitLsn: formatLsn(t.commitLsn),
      commitEndLsn: formatLsn(t.commitEndLsn),
      firstLsn: t.firstLsn === undefined ? null : formatLsn(t.firstLsn),
      printed: t.unavailable === undefined,
      ...(t.unavailable !== undefined ? { unavailable: t.unavailable } : {}),
    })),
  })}\n`;
}

/**
 * Decodes a slot's orphans with the chosen plugin and writes their rows through `write`; the report goes to
 * stderr. Undefined when the slot has none (its confirmed_flush is not past a switch point of `history`).
 */
export async function writeOrphans(
  state: SlotState,
  history: TimelineHistory,
  oldTimeline: TimelineReader,
  segmentSize: number,
  choice: ReturnType<typeof pluginChoice>,
  options: Parsed['options'],
  target: string | ((text: string) => void),
  io: DumpIo,
  who: string,
): Promise<OrphanReport | undefined> {
  const entry = history.find((e) => e.tli === state.timeline);
  if (entry?.end === undefined || entry.end >= parseLsn(state.confirmedFlush)) return undefined;
  // Orphans are written as they are decoded: an undo script (printed at the end of a decode) has no place here.
  if (choice.sql?.undo === true) throw new WalError('invalid-argument', 'orphans cannot be written as undo statements (-o undo=1)');
  const withLsn = options.some((o) => o.name === 'with-lsn');
  const limitText = options.find((o) => o.name === 'memory-limit')?.value;
  const spillDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-orphans-spill-'));
  // Rows go out in 64 KiB writes (to a file: appended), never one string per transaction.
  let fd: number | undefined;
  let pending = '';
  const flush = (): void => {
    if (pending === '') return;
    if (typeof target === 'string') fs.writeSync(fd!, pending);
    else target(pending);
    pending = '';
  };
  // A file is written under a temporary name and renamed when complete: a run that fails leaves no file whose
  // last transaction is cut short.
  const tmp = typeof target === 'string' ? path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`) : undefined;
  let done = false;
  try {
    if (tmp !== undefined) fd = fs.openSync(tmp, 'w', 0o600);
    const report = await decodeOrphans({
      state,
      history,
      oldTimeline,
      segmentSize,
      plugin: await makePlugin({ ...choice, flag: (k, d) => (k === 'stream-changes' ? false : choice.flag(k, d)) }, { major: state.major, catalog: state.catalog }),
      sink: (row) => {
        const data = typeof row.data === 'string' ? row.data : byteaHex(row.data);
        pending += withLsn ? `${formatLsn(row.lsn)}\t${row.xid}\t${data}\n` : `${data}\n`;
        if (pending.length >= 65536) flush();
      },
      spill: new FileSpillStore(spillDir),
      includeRewrites: choice.flag('include-rewrites', '0'),
      ...(limitText !== undefined ? { memoryLimit: parseSize(limitText) } : {}),
    });
    flush();
    if (fd !== undefined) {
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fd = undefined;
      fs.renameSync(tmp!, target as string);
    }
    done = true;
    io.err(options.some((o) => o.name === 'json') ? orphanReportJson(report) : orphanReportText(report, who));
    return report;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
    if (!done && tmp !== undefined) fs.rmSync(tmp, { force: true });
    fs.rmSync(spillDir, { recursive: true, force: true });
  }
}


/** `pgwal slot orphans`: returns the exit status. */
export async function orphansCommand(argv: string[], io: DumpIo): Promise<number> {
  const p = getopt(argv, [...ORPHANS_OPTIONS], (m) => {
    throw new WalError('invalid-argument', m);
  });
  if (p.options.some((o) => o.name === 'help')) {
    io.out(ORPHANS_HELP);
    return 0;
  }
  if (p.positional.length > 0) throw new WalError('invalid-argument', `unexpected argument "${p.positional[0]}"`);
  const stateFile = p.options.find((o) => o.name === 'state')?.value;
  if (stateFile === undefined) throw new WalError('invalid-argument', '--state is required');
  // Read only: the slot is not locked or moved, so this may run beside a decode that refused.
  const state = readSlotStateFile(path.resolve(io.cwd, stateFile));
  const choice = pluginChoice(p.options, state.plugin);
  const sources = await openWalSources(p.options, io, false, parseLsn(state.restartLsn));
  try {
    const report =
      sources.history === undefined
        ? undefined
        : await writeOrphans(state, sources.history, sources.oldTimeline, sources.segmentSize, choice, p.options, io.out, io, 'pgwal slot orphans');
    if (report === undefined) {
      throw new WalError('no-orphans', `slot "${state.name}" has no orphaned transactions: its confirmed_flush ${state.confirmedFlush} on timeline ${state.timeline} is not past a switch point of the WAL's timeline history`);
    }
    return report.transactions.every((t) => t.unavailable === undefined) ? 0 : 2;
  } finally {
    sources.archive?.close();
  }
}
