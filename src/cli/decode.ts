// `pgwal slot create` and `pgwal decode`: a slot's catalog from a live server, then test_decoding's or
// wal2json's output from WAL files alone.
import path from 'node:path';
import { WalError } from '../errors.js';
import { formatLsn, parseLsn } from '../lsn.js';
import { openWal } from '../node/wal.js';
import { ArchiveWal } from '../node/restore.js';
import { openSlotFile, readCatalogPages } from '../node/slot.js';
import { HistoricCatalog } from '../catalog/historic.js';
import { catalogSnapshotFromJson, catalogSnapshotToJson } from '../catalog/snapshot-json.js';
import type { Slot } from '../slot/slot.js';
import { folderTimelineReader, SlotDecodeHooks, type TimelineReader } from '../node/slot-decode.js';
import { slotDecodeArgs, SLOT_DECODE_OPTIONS, SLOT_DECODE_HELP } from './slot.js';
import { FileSpillStore } from '../node/spill.js';
import { LogicalDecoder, type DecoderOptions } from '../reorderbuffer/decoder.js';
import type { OutputPlugin } from '../reorderbuffer/plugin.js';
import { TestDecodingPlugin } from '../reorderbuffer/testdecoding.js';
import { parseWal2JsonOptions, Wal2JsonPlugin } from '../reorderbuffer/wal2json.js';
import { profileForMajor } from '../xlogreader/profile.js';
import { getopt, type Parsed } from './getopt.js';
import { writeOrphans } from './orphans.js';
import type { WalFiles } from '../node/wal.js';
import type { TimelineHistory } from '../timeline/history.js';
import type { DumpIo } from './dump.js';

export const DECODE_HELP = `pgwal decode prints, from WAL files and a slot state file, what the server's test_decoding (or, with
--plugin json, wal2json's format-version 2) returns from pg_logical_slot_peek_changes for that slot (the data
column, one row per line).

Usage:
  pgwal decode --state FILE [--path DIR]... [--restore-command CMD] [--plugin test_decoding|json] [-o NAME=VALUE]... [--end LSN] [--with-lsn] [--advance]

Options:
  --state FILE        a state file written by pgwal slot create
  -p, --path DIR      folders holding the WAL (default: ./pg_wal); repeatable
  --plugin NAME       test_decoding (default), or json: wal2json 2.5's format-version 2, one JSON object per
                      change plus "B"/"C" per transaction (default for a slot created with --plugin wal2json)
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
                      or renamed, with the old and new columns, before the transaction's "C" (historic catalog)
  --end LSN           stop at this LSN (upto_lsn)
  --with-lsn          print "lsn<TAB>xid<TAB>data" as the SQL function's three columns
  --advance           consume what was printed, as pg_logical_slot_get_changes: confirmed_flush moves to the
                      last commit printed and restart_lsn to where no open transaction is lost; the state file
                      is rewritten crash-safely (confirmed_flush never moves back)
${SLOT_DECODE_HELP}  --memory-limit SIZE logical_decoding_work_mem: above it the largest transactions spill to disk (or are
                      streamed) (default 64MB; units B, kB, MB, GB). 0 streams or spills every change at once,
                      as debug_logical_replication_streaming = immediate does
  --spill-dir DIR     where spill files go (default: FILE.spill beside the state file); emptied at start
  --restore-command CMD  fetch segments and history files with a restore_command (%f, %p, %r, %%) before
                      looking in the --path folders, following timeline switches
  --wal-segsize MB    wal_segment_size of the cluster, for --restore-command (default 16)
  --toast-cache SIZE  remember TOAST values up to SIZE (e.g. 64MB) and fill unchanged TOAST columns whose value
                      the decoded range logged earlier (default: off, as the server and wal2json)

A slot created with --two-phase decodes prepared transactions at PREPARE TRANSACTION, as a two_phase slot does.

With stream-changes, where blocks begin and end follows pgwal's memory accounting, which is close to but not the
server's; with --memory-limit 0 it equals the server's immediate mode.

wal2json has no streaming callbacks: with --plugin json, transactions over the memory limit spill, as they do in
the server.

Not yet: DDL inside the range (the catalog is the one of the slot's creation).
`;

const TEST_DECODING_OPTIONS = ['include-xids', 'include-timestamp', 'skip-empty-xacts', 'only-local', 'include-rewrites', 'stream-changes'];

/** A size as logical_decoding_work_mem takes it: a number with an optional unit (B, kB, MB, GB; default kB). */
export function parseSize(text: string): number {
  const m = /^\s*(\d+)\s*(B|kB|MB|GB|TB)?\s*$/.exec(text);
  if (m === null) throw new WalError('invalid-argument', `invalid memory limit "${text}": expected a number with a unit B, kB, MB, GB or TB`);
  const unit = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 }[(m[2] ?? 'kB') as 'B'];
  return Number(m[1]) * unit;
}

const bool = (v: string): boolean => ['1', 'on', 'true', 'yes', 't', 'y'].includes(v.toLowerCase());

/** The plugin name and -o options, checked: test_decoding's known options, or wal2json's (checked by its parser). */
export function pluginChoice(options: Parsed['options'], statePlugin: string): { name: 'test_decoding' | 'json'; given: [string, string | null][]; flag: (k: string, d: string) => boolean } {
  const pluginName = options.find((o) => o.name === 'plugin')?.value ?? (statePlugin === 'wal2json' ? 'json' : 'test_decoding');
  if (pluginName !== 'test_decoding' && pluginName !== 'json') throw new WalError('invalid-argument', `unknown plugin "${pluginName}": expected test_decoding or json`);
  const given = options.filter((x) => x.name === 'option').map((o): [string, string | null] => {
    const eq = o.value!.indexOf('=');
    return eq < 0 ? [o.value!, null] : [o.value!.slice(0, eq), o.value!.slice(eq + 1)];
  });
  const opts = new Map<string, string>();
  if (pluginName === 'test_decoding') {
    for (const [k, v] of given) {
      if (!TEST_DECODING_OPTIONS.includes(k)) throw new WalError('invalid-argument', `option "${k}" = "${v ?? ''}" is unknown`);
      opts.set(k, v ?? '1');
    }
  }
  return { name: pluginName, given, flag: (k, d) => bool(opts.get(k) ?? d) };
}

/** A new output plugin as chosen (each decoding run gets its own: plugins keep per-transaction state). */
export function makePlugin(choice: ReturnType<typeof pluginChoice>): OutputPlugin {
  const { flag } = choice;
  return choice.name === 'json'
    ? new Wal2JsonPlugin(parseWal2JsonOptions([['format-version', '2'], ...choice.given]))
    : new TestDecodingPlugin({ includeXids: flag('include-xids', '1'), includeTimestamp: flag('include-timestamp', '0'), skipEmptyXacts: flag('skip-empty-xacts', '0'), onlyLocal: flag('only-local', '0'), streamChanges: flag('stream-changes', '0') });
}

/** Where decode reads WAL: folders, or a restore_command with the folders after it; and the old timelines' own WAL. */
export interface WalSources {
  archive: ArchiveWal | undefined;
  files: WalFiles | undefined;
  history: TimelineHistory | undefined;
  oldTimeline: TimelineReader;
  segmentSize: number;
}

export async function openWalSources(options: Parsed['options'], io: DumpIo): Promise<WalSources> {
  const dirs = options.filter((o) => o.name === 'path').map((o) => path.resolve(io.cwd, o.value!));
  const restoreCommand = options.find((o) => o.name === 'restore-command')?.value;
  const segText = options.find((o) => o.name === 'wal-segsize')?.value;
  // With a restore_command the archive comes first and the folders after it, as the server's recovery does.
  const segmentSize = segText === undefined ? undefined : parseSize(segText.replace(/^(\d+)$/, '$1MB'));
  const archive = restoreCommand === undefined ? undefined : await ArchiveWal.open({ restoreCommand, dirs, segmentSize, cwd: io.cwd });
  const files = archive === undefined ? openWal({ path: dirs.length > 0 ? dirs : [path.resolve(io.cwd, 'pg_wal')], timeline: 'latest' }) : undefined;
  const history = archive?.history ?? files!.history;
  const oldTimeline: TimelineReader =
    archive === undefined
      ? folderTimelineReader(files!.dirs)
      : async (tli, start) => {
          const old = await ArchiveWal.open({ restoreCommand: restoreCommand!, dirs, segmentSize, cwd: io.cwd, timeline: tli });
          return (async function* () {
            try {
              yield* old.records({ start });
            } finally {
              old.close();
            }
          })();
        };
  return { archive, files, history, oldTimeline, segmentSize: archive?.segmentSize ?? files!.segmentSize };
}

export async function decodeCommand(argv: string[], io: DumpIo): Promise<number> {
  let slot: Slot | undefined;
  try {
    const p = getopt(
      argv,
      [
        { long: 'state', arg: 'required' },
        { short: 'p', long: 'path', arg: 'required' },
        { short: 'o', long: 'option', arg: 'required' },
        { long: 'end', arg: 'required' },
        { long: 'with-lsn', arg: 'none' },
        { long: 'advance', arg: 'none' },
        { long: 'memory-limit', arg: 'required' },
        { long: 'spill-dir', arg: 'required' },
        { long: 'plugin', arg: 'required' },
        { long: 'restore-command', arg: 'required' },
        { long: 'wal-segsize', arg: 'required' },
        { long: 'toast-cache', arg: 'required' },
        { long: 'orphans', arg: 'required' },
        { short: '?', long: 'help', arg: 'none' },
        ...SLOT_DECODE_OPTIONS,
      ],
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
    // slot hooks (src/cli/slot.ts, src/node/slot-decode.ts): usability, failover, catalog_xmin, confirms
    slot = openSlotFile(path.resolve(io.cwd, stateFile));
    const state = slot.state;
    const choice = pluginChoice(p.options, state.plugin);
    const endText = p.options.find((o) => o.name === 'end')?.value;
    const profile = profileForMajor(state.major);
    if (profile === undefined) throw new WalError('invalid-argument', `unsupported major ${state.major} in the state file`);
    const { archive, files, history, oldTimeline, segmentSize } = await openWalSources(p.options, io);
    const orphansFile = p.options.find((o) => o.name === 'orphans')?.value;
    if (orphansFile !== undefined && history !== undefined) {
      // Before the slot is refused, rewound or accepted: the orphans' changes, while the slot still says what it consumed.
      try {
        await writeOrphans(state, history, oldTimeline, segmentSize, choice, p.options, path.resolve(io.cwd, orphansFile), io, 'pgwal decode');
      } catch (e) {
        archive?.close();
        throw e;
      }
    }
    const hooks = new SlotDecodeHooks(slot, profile.major, slotDecodeArgs(p.options, io, segmentSize), io.out);
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
    let pending = '';
    const direct = !hooks.holdsBack && !hooks.asksCandidate;
    const withLsn = p.options.some((o) => o.name === 'with-lsn');
    const statePath = path.resolve(io.cwd, stateFile);
    const spillDir = p.options.find((o) => o.name === 'spill-dir')?.value;
    const spill = new FileSpillStore(spillDir === undefined ? `${statePath}.spill` : path.resolve(io.cwd, spillDir));
    const limitText = p.options.find((o) => o.name === 'memory-limit')?.value;
    const flag = choice.flag;
    const pluginName = choice.name;
    const plugin = makePlugin(choice);
    const decoderOptions: DecoderOptions = {
      catalog: historic ?? state.catalog,
      major: profile.major,
      plugin,
      startAt: slot.confirmedFlush,
      spill,
      includeRewrites: flag('include-rewrites', '0'),
      streaming: pluginName === 'test_decoding' && flag('stream-changes', '0'),
      ...(limitText !== undefined ? { memoryLimit: parseSize(limitText) } : {}),
      ...(state.twoPhase ? { twoPhaseAt: parseLsn(state.twoPhaseAt ?? state.confirmedFlush) } : {}),
      sink: (o) => {
        pending += withLsn ? `${formatLsn(o.lsn)}\t${o.xid}\t${o.data}\n` : `${o.data}\n`;
        // Without hold-back rows go out as they come, in 64 KiB writes: a large transaction is never one string.
        if (direct && pending.length >= 65536) {
          io.out(pending);
          pending = '';
        }
      },
      timezone: state.timezone,
      ...(p.options.some((o) => o.name === 'toast-cache') ? { toastCache: parseSize(p.options.find((o) => o.name === 'toast-cache')!.value!) } : {}),
    };
    const decoder = new LogicalDecoder(decoderOptions);
    const range = {
      start: slot.restartLsn,
      end: endText === undefined ? undefined : parseLsn(endText),
      startTimeline: hooks.startTimeline(history),
      expect: { systemIdentifier: BigInt(state.systemIdentifier), major: state.major, what: `the slot state "${stateFile}"` },
    };
    try {
      if (archive === undefined && direct) {
        // Folders and no hold-back: a synchronous loop, no await per record.
        // Output is written in 64 KiB pieces; only when commits may be confirmed on the way (--confirm-every) is it
        // written at every record, so that nothing is confirmed before its rows are out.
        const flushEach = hooks.confirmsAsItGoes;
        // The rows of every record processed whole: what is printed when a later record fails (a refusal, a typed
        // error), as when each record's rows were written at once.
        let whole = 0;
        try {
          for (const rec of files!.recordsSync(range)) {
            hooks.checkRecord(rec);
            decoder.process(rec);
            let text = '';
            if (flushEach || pending.length >= 65536) {
              text = pending;
              pending = '';
            }
            hooks.emittedNow(rec, text, decoder.lastCommitEnd, () => decoder.restartPoint(rec.endLsn));
            whole = pending.length;
          }
        } catch (e) {
          if (whole > 0) io.out(pending.slice(0, whole));
          pending = '';
          throw e;
        }
        if (pending !== '') io.out(pending);
        pending = '';
      } else {
        const stream = archive === undefined ? files!.records(range) : archive.records(range);
        for await (const rec of stream) {
          hooks.checkRecord(rec);
          decoder.process(rec);
          // Rows are written before the commit they belong to is confirmed (hooks.emitted): never the other way round.
          const text = pending;
          pending = '';
          await hooks.emitted(rec, text, decoder.lastCommitEnd, () => decoder.restartPoint(rec.endLsn));
        }
      }
    } finally {
      decoder.close();
      archive?.close();
    }
    const { held } = await hooks.end();
    if (held > 0) io.err(`pgwal decode: ${hooks.describeHeld()}\n`);
    return 0;
  } catch (e) {
    if (e instanceof WalError) {
      io.err(`pgwal decode: error: ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    slot?.release();
  }
}
