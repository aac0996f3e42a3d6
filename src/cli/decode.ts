// `pgwal slot create` and `pgwal decode`: a slot's catalog from a live server, then test_decoding's or
// wal2json's output from WAL files alone.
import os from 'node:os';
import path from 'node:path';
import { WalError, WalSourceError } from '../errors.js';
import { formatLsn, parseLsn, type Lsn } from '../lsn.js';
import { openSlotFile, readCatalogPages } from '../node/slot.js';
import { HistoricCatalog } from '../catalog/historic.js';
import { catalogSnapshotFromJson, catalogSnapshotToJson } from '../catalog/snapshot-json.js';
import type { Slot } from '../slot/slot.js';
import { judgeEndOfWal, orphanedTransactions, SlotDecodeHooks } from '../node/slot-decode.js';
import { slotDecodeArgs, SLOT_DECODE_OPTIONS, SLOT_DECODE_HELP } from './slot-decode-options.js';
import { defaultSpillDir, FileSpillStore } from '../node/spill.js';
import { LogicalDecoder, type DecoderOptions } from '../reorderbuffer/logical.js';
import { profileForMajor } from '../xlogreader/profile.js';
import { getopt, type OptionSpec } from './getopt.js';
// Type only: the streaming modules (replication protocol, net, tls, crypto) are loaded for --dsn alone.
import type { TimelineForkError } from '../node/stream-wal.js';
import { errorText } from './error-text.js';
import { OrphanedTransactionsError, type OrphanedTransaction } from '../slot/errors.js';
import type { DecodedRecord } from '../xlogreader/record.js';
import type { Major } from '../xlogreader/profile.js';
import type { DumpIo } from './dump.js';
import { OutputBuffer } from './output-buffer.js';
import type { TextByteSink } from '../reorderbuffer/row-bytes.js';
import type { OutputPlugin } from '../reorderbuffer/plugin.js';
import { TestDecodingPlugin } from '../reorderbuffer/testdecoding.js';
// Types only: the thread's modules are loaded when a run may use it (formatThreadPlan).
import type { Shipper } from '../reorderbuffer/ship.js';
import type { BytesRowShipper } from '../reorderbuffer/pgoutput-ship.js';
import type { FormatThread } from './format-thread.js';
import type { FormatWorkerData } from './format-worker.js';

export const DECODE_HELP = `pgwal decode prints, from WAL files and a slot state file, what the server's test_decoding (or, with
--plugin json, wal2json's format-version 2) returns from pg_logical_slot_peek_changes for that slot (the data
column, one row per line); with --plugin pgoutput, what pg_logical_slot_peek_binary_changes returns, each
message as psql prints a bytea (\\x and lowercase hex).

Usage:
  pgwal decode --state FILE [--path DIR]... [--restore-command CMD] [--plugin test_decoding|json|pgoutput|sql] [-o NAME=VALUE]... [-e LSN] [--with-lsn] [--advance]
  pgwal decode --state FILE --dsn CONNSTR [--physical-slot NAME] [--endpos LSN | -f] [options as above]

Options:
  --state FILE        a state file written by pgwal slot create
  -p, --path DIR      folders holding the WAL (default: ./pg_wal); repeatable
  --plugin NAME       test_decoding (default), or json: wal2json 2.5's format-version 2, one JSON object per
                      change plus "B"/"C" per transaction (default for a slot created with --plugin wal2json),
                      or pgoutput: the logical replication protocol (default for a slot created with it),
                      or sql: one SQL statement per change (INSERT, UPDATE/DELETE … WHERE key), BEGIN/COMMIT
  -o NAME[=VALUE]     test_decoding options: include-xids (default 1), include-timestamp (0), skip-empty-xacts (0),
                      only-local (0), include-rewrites (0), stream-changes (0: transactions over the memory limit
                      are streamed in blocks before they end instead of spilled);
                      json options (wal2json's names and defaults): include-xids (0), include-timestamp (0),
                      include-lsn (0), include-pk (0), include-types (1), include-schemas (1), include-transaction (1),
                      include-type-oids (0), include-not-null (0), include-column-positions (0), include-origin (0),
                      include-default (0), include-domain-data-type (0),
                      actions (insert,update,delete,truncate), filter-tables, add-tables (schema.table, *.table,
                      schema.*, comma-separated, \\ escapes), filter-msg-prefixes, add-msg-prefixes, filter-origins;
                      and pgwal's include-ddl (0): a {"action":"DDL",...} row per table created, altered, dropped
                      or renamed, with the old and new columns, before the transaction's "C" (historic catalog);
                      pgoutput options (the server's): proto_version (required; 1-3 on 15, 1-4 on 16+),
                      publication_names (required; publications as of each change), messages (false),
                      streaming (off; on, or parallel with proto_version 4), two_phase, origin (any|none, 16+),
                      binary (false; values in their send format, built-in types and arrays)
                      for every plugin, pgwal's old-rows=full: UPDATE and DELETE carry the whole old row (as under
                      REPLICA IDENTITY FULL) where its heap page was seen since a full-page image in the range,
                      else the key as without it (stderr says how many were known at the end);
                      old-rows-memory=SIZE bounds the pages kept (default 256MB);
                      sql options: undo (0: the statements reversing the range, newest first, printed at the end;
                      an unknown old row stops it with an error before anything is printed); xids, tables,
                      start-time and end-time: the same as --xid, --table, --start-time and --end-time below
  -e, --end LSN       stop at this LSN (upto_lsn)
  --endpos LSN        the same as --end (pg_recvlogical's name)
${SQL_FILTER_HELP}  --dsn CONNSTR       decode straight from the server's physical replication stream (key=value or postgresql://
                      connection string; not with -p or --restore-command): output as from its WAL files; without
                      --end, up to the server's flush position when pgwal connected. The flush position reported
                      to the server is the slot's restart_lsn; a lost connection is retried (said on stderr) from
                      the first byte not yet read. A timeline switch in the stream (a promoted server) is followed
                      as a standby follows it, and a host list (host=a,b target_session_attrs=primary) leads to a
                      promoted standby; a slot on an older timeline streams it up to its switch point
  -f, --follow        with --dsn and no --endpos: keep decoding as WAL arrives; SIGINT or SIGTERM ends after the
                      last whole record, the slot saved as at any end (with --confirm-every, what was confirmed).
                      A failover to a server that lacks WAL pgwal read: a slot that confirmed past the switch point
                      is refused (orphaned transactions, as from files); else, with --confirm-every, decoding
                      starts again from the slot
  --physical-slot NAME  stream through this physical slot of the server (it must exist): its restart_lsn follows
                      the slot's, and hot standby feedback sets its catalog_xmin to the slot's, so the server keeps
                      the WAL and the catalog rows decoding still needs; a slot whose restart_lsn is past the
                      slot's is refused (naming both)
  --status-interval SECONDS  with --dsn: time between status packets sent to the server (default: 10; 0: only
                      when the server asks)
  --wal-receiver-timeout SECONDS  with --dsn: a server that sends nothing this long (no WAL, no keepalive; a reply
                      is asked for at half of it) is a lost connection, said on stderr and retried (default: 60;
                      0: no limit), as walreceiver's wal_receiver_timeout
  --with-lsn          print "lsn<TAB>xid<TAB>data" as the SQL function's three columns
  --advance           consume what was printed, as pg_logical_slot_get_changes: confirmed_flush moves to the
                      last commit printed and restart_lsn to where no open transaction is lost; the state file
                      is rewritten crash-safely (confirmed_flush never moves back)
${SLOT_DECODE_HELP}  --memory-limit SIZE logical_decoding_work_mem: above it the largest transactions spill to disk (or are
                      streamed) (default 64MB; units B, kB, MB, GB). 0 streams or spills every change at once,
                      as debug_logical_replication_streaming = immediate does
  --format-thread auto|on|off  rows formatted on a second thread while the first reads, decodes and reorders
                      (output the same; pgoutput's messages printed there, and those of stored changes of
                      built-in column types written there): auto (default) starts it once 8 MB of WAL were
                      read, on a machine of two cores or more, reading from folders with output to a file or
                      pipe, without --confirm-every (nor, but for pgoutput, stream-changes or old-rows); on
                      starts it at once wherever it can be used; off keeps one thread
  --spill-dir DIR     where spill files go, in a folder of this run's own (default: FILE.spill beside the state
                      file, or in the temp folder when that folder is read-only); folders of runs that are gone
                      are removed at start, those of running ones never
  --restore-command CMD  fetch segments and history files with a restore_command (%f, %p, %r, %%) before
                      looking in the --path folders, following timeline switches
  --wal-segsize MB    wal_segment_size of the cluster, for --restore-command (default: the long page header of the
                      restart_lsn's segment, fetched under each size's file name, 16 MB first)
  --restore-timeout SECONDS  stop a restore_command that runs longer, as an error (default: no limit)
  --toast-cache SIZE  remember TOAST values up to SIZE (e.g. 64MB) and fill unchanged TOAST columns whose value
                      the decoded range logged earlier (default: off, as the server and wal2json)
  -?, --help          show this help

A slot created with --two-phase decodes prepared transactions at PREPARE TRANSACTION, as a two_phase slot does.

With stream-changes (or pgoutput's streaming), pgwal counts changes against --memory-limit as the server counts
them against logical_decoding_work_mem, so streamed blocks begin and end at the server's changes; with
--memory-limit 0 it equals the server's immediate mode.

wal2json has no streaming callbacks: with --plugin json, transactions over the memory limit spill, as they do in
the server.

Where decoding stops: at --end; else at the end of the WAL, said on stderr with the server's reason (e.g. "end
of WAL at 0/7023B0: invalid record length at 0/7023B0: expected at least 24, got 0"). WAL that ends before the
slot's restart_lsn, its confirmed_flush or --end, and an invalid record with valid WAL after it, are errors
(exit 1; pgwal dump -p DIR -s LSN shows the records there). Exit 141: stdout's reader went away (| head);
nothing is confirmed past what was written.
`;

// Types only: a plugin's module is loaded when it is chosen (makePlugin), --orphans' when it is given.
import type { SqlPlugin } from '../reorderbuffer/sql.js';
import type { PgOutputPlugin } from '../reorderbuffer/pgoutput.js';
import { StaticCatalog } from '../reorderbuffer/catalog.js';
import { archiveDamageAfter, makePlugin, openWalSources, parseSize, pluginChoice, SHARED_DECODE_OPTIONS, SQL_FILTER_HELP, SQL_FILTER_OPTIONS } from './decode-options.js';

/** StreamWal's TimelineForkError, recognized without loading the streaming modules (only --dsn raises it). */
const isTimelineFork = (e: unknown): e is TimelineForkError => e instanceof WalSourceError && e.code === 'timeline-fork' && 'switchPoint' in e;

export { parseSize };

/** Every option `pgwal decode` parses; DECODE_HELP lists the same (test/cli-help.test.ts). */
export const DECODE_OPTIONS: OptionSpec[] = [
  ...SHARED_DECODE_OPTIONS,
  { short: 'e', long: 'end', arg: 'required' },
  { long: 'endpos', arg: 'required' },
  ...SQL_FILTER_OPTIONS,
  { long: 'dsn', arg: 'required' },
  { long: 'physical-slot', arg: 'required' },
  { short: 'f', long: 'follow', arg: 'none' },
  { long: 'status-interval', arg: 'required' },
  { long: 'wal-receiver-timeout', arg: 'required' },
  { long: 'advance', arg: 'none' },
  { long: 'spill-dir', arg: 'required' },
  { long: 'toast-cache', arg: 'required' },
  { long: 'orphans', arg: 'required' },
  { long: 'format-thread', arg: 'required' },
  ...SLOT_DECODE_OPTIONS,
];

/**
 * A failover through --dsn to a server whose history left the old timeline before records already decoded, none
 * of them confirmed past the switch point: decoding starts again from the slot, as a restart would.
 */
class DecodeAgain extends Error {
  constructor(readonly fork: TimelineForkError) {
    super(fork.message);
  }
}

export async function decodeCommand(argv: string[], io: DumpIo): Promise<number> {
  // Bounded: each new start follows another failover.
  for (let starts = 1; ; starts++) {
    try {
      return await decodeRun(argv, io);
    } catch (e) {
      if (!(e instanceof DecodeAgain)) throw e;
      if (starts >= 10) {
        io.err(`pgwal decode: error: ${e.fork.message}\n`);
        return 1;
      }
      io.err(`pgwal decode: ${e.fork.message.replace(/: decode again from the slot.*$/, '')}; decoding again from the slot's restart_lsn\n`);
    }
  }
}

async function decodeRun(argv: string[], io: DumpIo): Promise<number> {
  let slot: Slot | undefined;
  try {
    const p = getopt(
      argv,
      DECODE_OPTIONS,
      (m) => {
        throw new WalError('invalid-argument', m);
      },
    );
    if (p.options.some((o) => o.name === 'help')) {
      io.out(DECODE_HELP);
      return 0;
    }
    const stateFile = p.options.find((o) => o.name === 'state')?.value;
    if (stateFile === undefined) throw new WalError('invalid-argument', '--state is required');
    const dsn = p.options.find((o) => o.name === 'dsn')?.value;
    const physicalSlot = p.options.find((o) => o.name === 'physical-slot')?.value;
    if (dsn !== undefined) {
      const clash = ['path', 'restore-command', 'wal-segsize', 'restore-timeout', 'orphans'].find((n) => p.options.some((o) => o.name === n));
      if (clash !== undefined) throw new WalError('invalid-argument', `--dsn and --${clash} cannot be used together: the WAL comes from the server's stream`);
    } else {
      const needsDsn = ['physical-slot', 'follow', 'status-interval', 'wal-receiver-timeout'].find((n) => p.options.some((o) => o.name === n));
      if (needsDsn !== undefined) throw new WalError('invalid-argument', `--${needsDsn} needs --dsn`);
    }
    const seconds = (name: string, dflt: number): number => {
      const v = p.options.find((o) => o.name === name)?.value;
      if (v === undefined) return dflt;
      const n = Number(v);
      if (!/^\d+(\.\d+)?$/.test(v) || n > 2147483) throw new WalError('invalid-argument', `--${name} must be a number of seconds in range 0..2147483, not "${v}"`);
      return Math.round(n * 1000);
    };
    const statusIntervalMs = seconds('status-interval', 10);
    const walReceiverTimeoutMs = seconds('wal-receiver-timeout', 60);
    const follow = p.options.some((o) => o.name === 'follow');
    // slot hooks (src/cli/slot.ts, src/node/slot-decode.ts): usability, failover, catalog_xmin, confirms
    // A peek takes the slot too (as the server's), but where no lock can be made (a read-only folder) it goes on.
    const peek = !['advance', 'confirm-every', 'rewind', 'accept-orphans'].some((n) => p.options.some((o) => o.name === n));
    const statePath = path.resolve(io.cwd, stateFile);
    slot = openSlotFile(statePath, { peek });
    const state = slot.state;
    const spillDir = p.options.find((o) => o.name === 'spill-dir')?.value;
    // Before any WAL is opened: a spill folder that cannot be one is refused at once.
    const spill = new FileSpillStore(spillDir === undefined ? defaultSpillDir(statePath) : path.resolve(io.cwd, spillDir));
    const choice = pluginChoice(p.options, state.plugin);
    const endText = p.options.find((o) => o.name === 'end' || o.name === 'endpos')?.value;
    const profile = profileForMajor(state.major);
    if (profile === undefined) throw new WalError('invalid-argument', `unsupported major ${state.major} in the state file`);
    const streamWal =
      dsn === undefined
        ? undefined
        : await (await import('../node/stream-wal.js')).StreamWal.open({
            connectionString: dsn,
            env: io.env,
            ...(physicalSlot !== undefined ? { physicalSlot } : {}),
            statusIntervalMs,
            walReceiverTimeoutMs,
            // A lost connection is retried from the first byte not yet read: said on stderr, never silent.
            onReconnect: ({ error, delayMs, resumeAt }) =>
              io.err(`pgwal decode: ${errorText(error)}; connecting again in ${delayMs} ms at ${formatLsn(resumeAt)}\n`),
          });
    if (streamWal !== undefined && streamWal.systemIdentifier !== state.systemIdentifier) {
      throw new WalError('invalid-argument', `the server of --dsn has system identifier ${streamWal.systemIdentifier}, the slot state "${stateFile}" ${state.systemIdentifier}`);
    }
    // Each record is decoded (its changes copied into the reorder buffer) before the next is read: windows are recycled.
    const { archive, files, history, oldTimeline, segmentSize } =
      streamWal === undefined
        ? await openWalSources(p.options, io, true, slot.restartLsn)
        : {
            archive: undefined,
            files: undefined,
            history: streamWal.history,
            oldTimeline: async (): Promise<never> => {
              throw new WalError('invalid-argument', 'the WAL of an older timeline is not read over --dsn: decode from files');
            },
            segmentSize: streamWal.segmentSize,
          };
    const orphansFile = p.options.find((o) => o.name === 'orphans')?.value;
    if (orphansFile !== undefined && history !== undefined) {
      // Before the slot is refused, rewound or accepted: the orphans' changes, while the slot still says what it consumed.
      try {
        await (await import('./orphans.js')).writeOrphans(state, history, oldTimeline, segmentSize, choice, p.options, path.resolve(io.cwd, orphansFile), io, 'pgwal decode');
      } catch (e) {
        archive?.close();
        throw e;
      }
    }
    // Rows that are not held back are written synchronously (where the CLI can): a reader slower than the
    // decoder then holds it back, instead of the rows piling up in stdout's queue.
    let out = io.out;
    const hooks = new SlotDecodeHooks(slot, profile.major, slotDecodeArgs(p.options, io, segmentSize), (t) => out(t));
    if (!hooks.holdsBack && io.outSync !== undefined) out = io.outSync;
    try {
      await hooks.begin(history, oldTimeline, io.err);
    } catch (e) {
      archive?.close();
      throw e;
    }
    // With the catalog's pages, the historic catalog follows DDL (and each confirm stores it as of the new
    // restart_lsn); without, the slot's fixed catalog.
    const pages = readCatalogPages(state);
    const historic = pages !== undefined ? new HistoricCatalog(catalogSnapshotFromJson(pages), { defaults: state.catalog }) : undefined;
    if (historic !== undefined) hooks.catalogPagesAt = (restart) => catalogSnapshotToJson(historic.exportSnapshot(restart));
    // Rows not yet written: text rows in `pending`; binary rows (pgoutput) as `\x` hex lines in `bytesOut`, with
    // any text after them (bytesOut, when not empty, holds the newer rows).
    let pending = '';
    const bytesOut = new OutputBuffer();
    const direct = !hooks.holdsBack && !hooks.asksCandidate;
    const withLsn = p.options.some((o) => o.name === 'with-lsn');
    // Straight from the buffer where output is synchronous; else (and for held-back rows) as text.
    const outBytes = out === io.outSync ? io.outBytesSync : undefined;
    // Where output goes straight out as bytes, every text row is put in bytesOut too, and a plugin that can
    // (test_decoding, wal2json) writes its change rows there as bytes.
    const textBytes = direct && outBytes !== undefined;
    /** Writes what is pending now, in order. */
    const flushPending = (): void => {
      if (pending !== '') out(pending);
      pending = '';
      if (bytesOut.length === 0) return;
      if (outBytes !== undefined) {
        outBytes(bytesOut.bytes, bytesOut.length);
        bytesOut.length = 0;
      } else {
        out(bytesOut.take());
      }
    };
    /** What is pending as one text (for the hooks), emptied. */
    const takePending = (): string => {
      const text = bytesOut.length === 0 ? pending : pending + bytesOut.take();
      pending = '';
      return text;
    };
    const limitText = p.options.find((o) => o.name === 'memory-limit')?.value;
    const flag = choice.flag;
    const pluginName = choice.name;
    const realPlugin = await makePlugin(choice, { major: profile.major, catalog: state.catalog });
    const pgoutput = pluginName === 'pgoutput' ? (realPlugin as PgOutputPlugin) : undefined;
    // --format-thread: rows formatted on a second thread (see formatThreadPlan and bytesThreadPlan).
    // How much WAL the folders hold from restart_lsn (to --end): a run too short for the thread loads nothing of it.
    const threadAfter = Number(io.env.PGWAL_FORMAT_THREAD_AFTER) || FORMAT_THREAD_AFTER;
    const walAhead = (): number => {
      const segs = files?.info.segments ?? [];
      const last = segs.length === 0 ? Infinity : (segs[segs.length - 1]! + 1) * files!.info.segmentSize;
      return Math.min(last, endText === undefined ? Infinity : parseLsn(endText)) - slot!.restartLsn;
    };
    const threadMode = p.options.find((o) => o.name === 'format-thread')?.value ?? 'auto';
    if (threadMode !== 'auto' && threadMode !== 'on' && threadMode !== 'off') throw new WalError('invalid-argument', `--format-thread must be auto, on or off, not "${threadMode}"`);
    const streaming = pluginName === 'test_decoding' ? flag('stream-changes', '0') : pgoutput !== undefined && pgoutput.options.streaming !== 'off';
    // pgoutput's messages are written here and only printed there (bytesThreadPlan): every option goes to the thread.
    const threadable = pluginName === 'test_decoding' || pluginName === 'json' || pgoutput !== undefined;
    const autoThread = pgoutput !== undefined || (!streaming && choice.oldRows === undefined);
    const shipping =
      threadMode !== 'off' && threadable && streamWal === undefined && archive === undefined && direct && outBytes !== undefined && !hooks.confirmsAsItGoes && (threadMode === 'on' || (autoThread && os.availableParallelism() > 1 && walAhead() >= threadAfter))
        ? pgoutput !== undefined
          ? await bytesThreadPlan(realPlugin)
          : await formatThreadPlan(realPlugin, () => makePlugin(choice, { major: profile.major, catalog: state.catalog }))
        : undefined;
    // pgoutput's rows once shipped: to the thread instead of bytesRow.
    let byteRow = bytesRow;
    const plugin = shipping?.plugin ?? realPlugin;
    if (choice.sql?.undo === true && p.options.some((o) => o.name === 'advance')) throw new WalError('invalid-argument', 'undo (--plugin sql -o undo=1) does not consume the slot: drop --advance');
    const decoderOptions: DecoderOptions = {
      catalog: pgoutput !== undefined ? pgoutput.catalogView(historic ?? new StaticCatalog(state.catalog), state.catalog) : (historic ?? state.catalog),
      major: profile.major,
      plugin,
      startAt: slot.confirmedFlush,
      spill,
      includeRewrites: flag('include-rewrites', '0'),
      streaming,
      ...(limitText !== undefined ? { memoryLimit: parseSize(limitText) } : {}),
      ...(state.twoPhase ? { twoPhaseAt: parseLsn(state.twoPhaseAt ?? state.confirmedFlush) } : {}),
      sink: (o) => {
        if (typeof o.data !== 'string') {
          bytesRow(o.lsn, o.xid, o.data, o.data.length);
          return;
        }
        const line = withLsn ? `${formatLsn(o.lsn)}\t${o.xid}\t${o.data}\n` : `${o.data}\n`;
        if (bytesOut.length > 0 || textBytes) bytesOut.text(line);
        else pending += line;
        // Without hold-back rows go out as they come, in 64 KiB writes: a large transaction is never one string.
        if (direct && pending.length + bytesOut.length >= 65536) flushPending();
      },
      // pgoutput's messages, hexed from the plugin's buffer into bytesOut (no copy, string or row object each).
      byteSink: (lsn, xid, bytes, n) => byteRow(lsn, xid, bytes, n),
      // test_decoding's and wal2json's change rows, written by the plugin as bytes into bytesOut (no string per row).
      ...(textBytes ? { textByteSink: textRowSink() } : {}),
      timezone: state.timezone,
      ...(p.options.some((o) => o.name === 'toast-cache') ? { toastCache: parseSize(p.options.find((o) => o.name === 'toast-cache')!.value!, '--toast-cache') } : {}),
      ...(choice.oldRows !== undefined ? { oldRows: choice.oldRows } : {}),
    };
    /** Text rows as bytes in bytesOut: each begun after what is pending, with its --with-lsn columns. */
    function textRowSink(): TextByteSink {
      let rowAt = 0;
      return {
        start: (lsn, xid) => {
          if (pending !== '') {
            bytesOut.text(pending);
            pending = '';
          }
          rowAt = bytesOut.length;
          if (withLsn) bytesOut.text(`${formatLsn(lsn)}\t${xid}\t`);
          return bytesOut;
        },
        end: () => {
          bytesOut.ensure(1)[bytesOut.length++] = 0x0a;
          if (bytesOut.length >= BYTES_FLUSH_AT) flushPending();
        },
        cancel: () => {
          bytesOut.length = rowAt;
        },
      };
    }
    function bytesRow(lsn: Lsn, xid: number, bytes: Uint8Array, n: number): void {
      if (pending !== '') {
        bytesOut.text(pending);
        pending = '';
      }
      bytesOut.hexLine(withLsn ? `${formatLsn(lsn)}\t${xid}\t` : undefined, bytes, n);
      if (direct && bytesOut.length >= BYTES_FLUSH_AT) flushPending();
    }
    const decoder = new LogicalDecoder(decoderOptions);
    const range = {
      start: slot.restartLsn,
      end: endText === undefined ? undefined : parseLsn(endText),
      startTimeline: hooks.startTimeline(history),
      expect: { systemIdentifier: BigInt(state.systemIdentifier), major: state.major, what: `the slot state "${stateFile}"` },
    };
    // Where the run must get to, as the slot stood when it began (confirms on the way only move it forward).
    const targets = { restartLsn: slot.restartLsn, confirmedFlush: slot.confirmedFlush, end: range.end };
    let endNotice: string | undefined;
    let lastRecord: Lsn | undefined;
    // The stream is ended after the slot has moved (--advance): the server is told its final restart_lsn.
    let closeStream: (() => Promise<void>) | undefined;
    try {
      if (streamWal !== undefined) {
        const heldSlot = slot;
        // --follow: SIGINT or SIGTERM ends decoding after the last whole record; the slot is saved as at any end.
        const stop = follow ? stopOnSignals(io.signal) : undefined;
        const stream = streamWal.records({
          ...range,
          flushLsn: () => heldSlot.restartLsn,
          catalogXmin: () => heldSlot.catalogXmin,
          follow,
          ...(stop !== undefined ? { signal: stop.signal } : {}),
          onTimelineSwitch: ({ timeline, nextTimeline, switchLsn }) => io.err(`pgwal decode: timeline ${timeline} ended at ${formatLsn(switchLsn)}; following timeline ${nextTimeline}\n`),
        });
        closeStream = stream.close;
        const seen = new SeenCommits(state.major, state.databaseOid);
        try {
          for await (const rec of stream) {
            await seen.add(rec);
            lastRecord = rec.lsn;
            hooks.checkRecord(rec);
            decoder.process(rec);
            const text = takePending();
            await hooks.emitted(rec, text, decoder.lastCommitEnd, () => decoder.restartPoint(rec.endLsn));
          }
          endNotice = await judgeEndOfWal(stream.end, targets, lastRecord, async () => undefined);
        } catch (e) {
          // A failover to a server that never had what the slot confirmed: the refusal the next run gives.
          if (isTimelineFork(e) && e.timeline === slot.timeline && slot.confirmedFlush > e.switchPoint) {
            throw new OrphanedTransactionsError(slot.name, slot.timeline, e.switchPoint, slot.confirmedFlush, seen.between(e.switchPoint, slot.confirmedFlush));
          }
          // Nothing past the switch point confirmed (--confirm-every): what the decoder holds from the old timeline
          // is dropped and the run starts again from the slot; output after the last confirm may come again.
          if (isTimelineFork(e) && follow && hooks.confirmsAsItGoes) throw new DecodeAgain(e);
          if (stop?.signal.aborted !== true) throw e;
          endNotice = `stopped by ${stop.reason()}${lastRecord !== undefined ? ` after the record at ${formatLsn(lastRecord)}` : ''}`;
        } finally {
          stop?.dispose();
        }
      } else if (archive === undefined && direct) {
        // Folders and no hold-back: a synchronous loop, no await per record.
        // Output is written in 64 KiB pieces; only when commits may be confirmed on the way (--confirm-every) is it
        // written at every record, so that nothing is confirmed before its rows are out.
        const flushEach = hooks.confirmsAsItGoes;
        // The rows of every record processed whole: what is printed when a later record fails (a refusal, a typed
        // error), as when each record's rows were written at once.
        let whole = 0;
        let wholeBytes = 0;
        // One function for every record (not a closure each): where decoding could restart after the current one.
        let current = 0;
        const restartAt = (): Lsn => decoder.restartPoint(current);
        const iter = files!.recordsSync(range);
        // The second thread starts at once with --format-thread on; with auto, once the run has read enough WAL
        // for its start-up to pay, and rows go to it once it is ready (meanwhile they are formatted here). The
        // switch is between records: no transaction is being emitted then.
        let thread: FormatThread | undefined;
        let threadAt = shipping === undefined ? Infinity : threadMode === 'on' ? 0 : range.start + threadAfter;
        let shipped = false;
        try {
          for (const rec of iter) {
            if (rec.lsn >= threadAt) {
              threadAt = Infinity;
              thread = shipping!.start({ plugin: shipping!.spec, major: profile.major, withLsn, timezone: state.timezone }, outBytes!);
            }
            if (thread !== undefined && !shipped && (threadMode === 'on' || thread.ready)) {
              shipped = true;
              flushPending();
              shipping!.shipper.ship(thread.post);
              if (shipping!.rows !== undefined) {
                byteRow = shipping!.rows.row;
                pgoutput!.rowSink = shipping!.rows.storedRow;
                pgoutput!.txnSink = shipping!.rows.txnSink;
              }
            }
            lastRecord = rec.lsn;
            current = rec.endLsn;
            hooks.checkRecord(rec);
            decoder.process(rec);
            if (shipped) shipping!.shipper.recordEnd();
            let text = '';
            if (flushEach || pending.length >= 65536 || bytesOut.length >= BYTES_FLUSH_AT) {
              // Binary rows go out from their buffer here, before emittedNow may confirm them.
              if (bytesOut.length > 0 && outBytes !== undefined) flushPending();
              else text = takePending();
            }
            hooks.emittedNow(rec, text, decoder.lastCommitEnd, restartAt);
            whole = pending.length;
            wholeBytes = bytesOut.length;
          }
        } catch (e) {
          try {
            if (shipped) {
              // The rows shipped before the failure are written; a failure the other thread met first is the one told.
              shipping!.shipper.flush();
              thread!.drain('drop');
              throw e;
            }
            if (whole > 0) out(pending.slice(0, whole));
            pending = '';
            bytesOut.length = Math.min(wholeBytes, bytesOut.length);
            flushPending();
            throw e;
          } finally {
            thread?.close();
          }
        }
        try {
          if (shipped) {
            shipping!.shipper.flush();
            thread!.drain();
          }
        } finally {
          thread?.close();
          // Anything written after (nothing is, today) goes out here, not into a batch nobody sends.
          byteRow = bytesRow;
          if (pgoutput !== undefined) {
            pgoutput.rowSink = undefined;
            pgoutput.txnSink = undefined;
          }
        }
        flushPending();
        endNotice = await judgeEndOfWal(iter.end, targets, lastRecord, (e) => files!.damageAfter(e));
      } else {
        const stream = archive === undefined ? files!.records(range) : archive.records(range);
        for await (const rec of stream) {
          lastRecord = rec.lsn;
          hooks.checkRecord(rec);
          decoder.process(rec);
          // Rows are written before the commit they belong to is confirmed (hooks.emitted): never the other way round.
          const text = takePending();
          await hooks.emitted(rec, text, decoder.lastCommitEnd, () => decoder.restartPoint(rec.endLsn));
        }
        endNotice = await judgeEndOfWal(stream.end, targets, lastRecord, (e) => (archive === undefined ? files!.damageAfter(e) : archiveDamageAfter(archive, e)));
      }
    } catch (e) {
      await closeStream?.();
      throw e;
    } finally {
      decoder.close();
      archive?.close();
    }
    // Undo: the reversing statements, newest first, once the whole range decoded without an unknown old row.
    if (pluginName === 'sql' && choice.sql?.undo === true) out((plugin as SqlPlugin).undoScript().map((l) => `${l}\n`).join(''));
    const stats = decoder.oldRowStats;
    if (stats !== undefined && stats.known + stats.unknown > 0) {
      io.err(`pgwal decode: old rows known for ${stats.known} of ${stats.known + stats.unknown} updates and deletes (${stats.kept} pages kept, ${stats.evicted} evicted)\n`);
    }
    let held: number;
    try {
      ({ held } = await hooks.end());
    } finally {
      await closeStream?.();
    }
    if (endNotice !== undefined) io.err(`pgwal decode: ${endNotice}\n`);
    if (held > 0) io.err(`pgwal decode: ${hooks.describeHeld()}\n`);
    return 0;
  } catch (e) {
    if (e instanceof WalError) {
      io.err(`pgwal decode: error: ${errorText(e)}\n`);
      return 1;
    }
    throw e;
  } finally {
    slot?.release();
  }
}

/** An abort signal for --follow: the CLI's (SIGINT, a closed stdout) or SIGTERM. */
function stopOnSignals(outer: AbortSignal | undefined): { signal: AbortSignal; reason(): string; dispose(): void } {
  const ac = new AbortController();
  let why = 'SIGINT';
  const onTerm = (): void => {
    why = 'SIGTERM';
    ac.abort();
  };
  const onOuter = (): void => ac.abort();
  process.once('SIGTERM', onTerm);
  if (outer?.aborted === true) ac.abort();
  outer?.addEventListener('abort', onOuter, { once: true });
  return {
    signal: ac.signal,
    reason: () => why,
    dispose: () => {
      process.off('SIGTERM', onTerm);
      outer?.removeEventListener('abort', onOuter);
    },
  };
}

/**
 * With --format-thread auto, the WAL read before the second thread starts (its start-up is ~50 ms of a core).
 * PGWAL_FORMAT_THREAD_AFTER (bytes) sets another, for tests of the switch on small WAL.
 */
const FORMAT_THREAD_AFTER = 8 * 1048576;

/** How a run uses the second thread: the plugin to decode with, what ships to the thread, and how to start it. */
interface ThreadPlan {
  plugin: OutputPlugin;
  shipper: Shipper;
  /** pgoutput's rows, when they are what is shipped. */
  rows?: BytesRowShipper;
  spec: FormatWorkerData['plugin'];
  start: (data: Omit<FormatWorkerData, 'progress' | 'port'>, write: (b: Uint8Array, n: number) => void) => FormatThread;
}

/**
 * The plugin behind a ShippingPlugin, for --format-thread: its callbacks go to it on this thread until the
 * shipper ships them to a FormatThread (`start`) running a plugin made from `spec` (the options, structured-cloned). Undefined when the
 * thread cannot be had: the CLI is not built (run from its sources), or the options do not clone.
 */
async function formatThreadPlan(
  real: OutputPlugin,
  makeProbe: () => Promise<OutputPlugin>,
): Promise<ThreadPlan | undefined> {
  const { FormatThread, formatThreadAvailable } = await import('./format-thread.js');
  if (!formatThreadAvailable()) return undefined;
  const name = real instanceof TestDecodingPlugin ? 'test_decoding' : 'json';
  let options: unknown;
  try {
    options = structuredClone((real as unknown as { options: unknown }).options);
  } catch {
    return undefined;
  }
  const { ShippingPlugin } = await import('../reorderbuffer/ship.js');
  const shipper = new ShippingPlugin(real, await makeProbe());
  return {
    plugin: shipper.plugin,
    shipper,
    spec: { name, options },
    start: (data, write) => {
      const thread = new FormatThread(data, write);
      thread.onSpare = (buf) => shipper.giveBack(buf);
      return thread;
    },
  };
}

/**
 * pgoutput on the second thread: the plugin stays here (its publications, invalidations and relations sent are
 * this thread's), its messages go there in batches (BytesRowShipper) to be printed in hex and come back as rows.
 */
async function bytesThreadPlan(real: OutputPlugin): Promise<ThreadPlan | undefined> {
  const { FormatThread, formatThreadAvailable } = await import('./format-thread.js');
  if (!formatThreadAvailable()) return undefined;
  const { BytesRowShipper } = await import('../reorderbuffer/pgoutput-ship.js');
  const rows = new BytesRowShipper();
  return {
    plugin: real,
    shipper: rows,
    rows,
    spec: { name: 'pgoutput', options: { binary: (real as PgOutputPlugin).options.binary } },
    start: (data, write) => {
      const thread = new FormatThread(data, write);
      thread.onSpare = (buf) => rows.giveBack(buf);
      return thread;
    },
  };
}

/** Binary rows are written in pieces of about this many bytes (a large transaction's rows are never held whole). */
const BYTES_FLUSH_AT = 256 * 1024;

const RM_XACT_ID = 1;

/**
 * The commits of the slot's database this run read, to list the orphaned transactions when a failover leaves
 * them off the new history (the old timeline's WAL past the switch point is not on the server pgwal reconnects
 * to). Bounded: past MAX entries the oldest go, and a range reaching before what is kept cannot be listed.
 */
class SeenCommits {
  private static readonly MAX = 100_000;
  private readonly commits: OrphanedTransaction[] = [];
  /** Commits from here on were all kept (the first record read, then the end of the last one dropped). */
  private from: Lsn | undefined;

  constructor(
    private readonly major: Major,
    private readonly dbOid: number,
  ) {}

  async add(rec: DecodedRecord): Promise<void> {
    this.from ??= rec.lsn;
    // Only xact records can be commits: the rest cost nothing here.
    if (rec.rmid !== RM_XACT_ID) return;
    const [c] = await orphanedTransactions(oneRecord(rec), Number.MAX_SAFE_INTEGER, this.major, this.dbOid);
    if (c === undefined) return;
    this.commits.push(c);
    if (this.commits.length > SeenCommits.MAX) this.from = this.commits.shift()!.commitEndLsn;
  }

  /** The commits in [from, to] (orphanedTransactions' range), or undefined when not all of it was read. */
  between(from: Lsn, to: Lsn): OrphanedTransaction[] | undefined {
    if (this.from === undefined || this.from > from) return undefined;
    return this.commits.filter((c) => c.commitLsn >= from && c.commitLsn < to && c.commitEndLsn <= to);
  }
}

async function* oneRecord(rec: DecodedRecord): AsyncGenerator<DecodedRecord> {
  yield rec;
}
