// What `pgwal decode` and `pgwal slot orphans` share: the output plugin and its -o options, memory sizes, and
// where the WAL is read from (folders or a restore_command, and the old timelines' own WAL).
import path from 'node:path';
import { InvalidArgumentError, WalError, WalFormatError } from '../errors.js';
import { laterPageAddr, openWal, type WalFiles } from '../node/wal.js';
import { decompressMember } from '../node/directory.js';
// Type only: the restore_command modules (and child_process) are loaded when --restore-command is given.
import type { ArchiveWal } from '../node/restore.js';
import { WalEndedEarlyError } from '../errors.js';
import { timelineOfLsn } from '../timeline/history.js';
import { walFileName } from '../walfile.js';
import { formatLsn, parseLsn, type Lsn } from '../lsn.js';
import { isWalPageAt, XLOG_BLCKSZ, type EndOfWal } from '../xlogreader/reader.js';
import { folderTimelineReader, type TimelineReader } from '../node/slot-decode.js';
import type { OutputPlugin } from '../reorderbuffer/plugin.js';
import { TestDecodingPlugin } from '../reorderbuffer/testdecoding.js';
// Types only: the other plugins (pgoutput with its row filter, wal2json, sql) are loaded when chosen (makePlugin).
import type { SqlOptions } from '../reorderbuffer/sql.js';
import type { DecoderCatalog } from '../reorderbuffer/catalog.js';
import type { TimelineHistory } from '../timeline/history.js';
import type { Parsed } from './getopt.js';
import type { DumpIo } from './dump.js';

/** The command-line options `pgwal decode` and `pgwal slot orphans` both take: slot, WAL sources, output. */
export const SHARED_DECODE_OPTIONS = [
  { long: 'state', arg: 'required' },
  { short: 'p', long: 'path', arg: 'required' },
  { long: 'restore-command', arg: 'required' },
  { long: 'wal-segsize', arg: 'required' },
  { long: 'restore-timeout', arg: 'required' },
  { long: 'plugin', arg: 'required' },
  { short: 'o', long: 'option', arg: 'required' },
  { long: 'with-lsn', arg: 'none' },
  { long: 'memory-limit', arg: 'required' },
  { short: '?', long: 'help', arg: 'none' },
] as const;

const TEST_DECODING_OPTIONS = ['include-xids', 'include-timestamp', 'skip-empty-xacts', 'only-local', 'include-rewrites', 'stream-changes'];

/** The largest memory size the server's GUCs take (MAX_KILOBYTES: INT_MAX kB). */
const MAX_KILOBYTES = 2147483647;

/**
 * A size as logical_decoding_work_mem takes it: a number (an integer, or as parse_int takes it a decimal or an
 * exponent, rounded) with an optional unit B, kB, MB, GB or TB (default kB), at most 2147483647kB. `what` names
 * the option in errors, which are worded as the server's for such a value.
 */
export function parseSize(text: string, what = '--memory-limit'): number {
  const m = /^\s*(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)\s*(B|kB|MB|GB|TB)?\s*$/.exec(text);
  if (m === null) throw new InvalidArgumentError(`invalid value for ${what}: "${text}": expected a number with a unit B, kB, MB, GB or TB (default kB)`);
  const unit = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 }[(m[2] ?? 'kB') as 'B'];
  const bytes = Math.round(Number(m[1]) * unit);
  if (!Number.isFinite(bytes) || bytes / 1024 > MAX_KILOBYTES) {
    throw new InvalidArgumentError(`invalid value for ${what}: "${text}": Value exceeds integer range (at most ${MAX_KILOBYTES}kB, as logical_decoding_work_mem)`);
  }
  return bytes;
}

/** --wal-segsize as initdb takes it: megabytes, a power of two from 1 to 1024 (a unit is accepted too). */
export function parseWalSegSize(text: string): number {
  const m = /^\s*(\d+)\s*(MB|GB)?\s*$/.exec(text);
  if (m === null) throw new InvalidArgumentError(`argument of --wal-segsize must be a number: "${text}"`);
  const mb = Number(m[1]) * (m[2] === 'GB' ? 1024 : 1);
  if (mb < 1 || mb > 1024 || (mb & (mb - 1)) !== 0) throw new InvalidArgumentError(`argument of --wal-segsize must be a power of two between 1 and 1024: "${text}"`);
  return mb * 1024 * 1024;
}

/** parse_bool (bool.c), shared with the walsender's option parsing. */
export { parseBool } from '../protocol/replication-command.js';
import { parseBool } from '../protocol/replication-command.js';

/**
 * The plugin name and -o options, checked: test_decoding's known options, or wal2json's, pgoutput's and sql's
 * (checked by their parsers); pgwal's own old-rows options for every plugin.
 */
export function pluginChoice(
  options: Parsed['options'],
  statePlugin: string,
): { name: 'test_decoding' | 'json' | 'sql' | 'pgoutput'; given: [string, string | null][]; flag: (k: string, d: string) => boolean; oldRows?: { budget?: number }; sql?: SqlOptions } {
  const pluginName = options.find((o) => o.name === 'plugin')?.value ?? (statePlugin === 'wal2json' ? 'json' : statePlugin === 'pgoutput' ? 'pgoutput' : 'test_decoding');
  if (pluginName !== 'test_decoding' && pluginName !== 'json' && pluginName !== 'sql' && pluginName !== 'pgoutput') throw new WalError('invalid-argument', `unknown plugin "${pluginName}": expected test_decoding, json, pgoutput or sql`);
  const all = options.filter((x) => x.name === 'option').map((o): [string, string | null] => {
    const eq = o.value!.indexOf('=');
    return eq < 0 ? [o.value!, null] : [o.value!.slice(0, eq), o.value!.slice(eq + 1)];
  });
  // pgwal's own options, for every plugin: whole old rows from kept heap pages, and the memory those pages may take.
  const own = new Map(all.filter(([k]) => k === 'old-rows' || k === 'old-rows-memory'));
  const given = all.filter(([k]) => !own.has(k));
  const oldRowsText = own.get('old-rows');
  if (oldRowsText !== undefined && oldRowsText !== 'full' && oldRowsText !== 'key') throw new WalError('invalid-argument', `option "old-rows" = "${oldRowsText ?? ''}": expected full or key`);
  const memoryText = own.get('old-rows-memory');
  if (memoryText === null) throw new WalError('invalid-argument', 'option "old-rows-memory" needs a size (e.g. 256MB)');
  const sql = pluginName === 'sql' ? sqlFilterFlags(options, sqlOptions(given)) : undefined;
  const filter = SQL_FILTER_OPTIONS.find((f) => options.some((o) => o.name === f.long));
  if (sql === undefined && filter !== undefined) throw new WalError('invalid-argument', `--${filter.long} selects what --plugin sql prints: it needs --plugin sql`);
  // Undo needs whole old rows: on unless asked off.
  const oldRows = oldRowsText === 'full' || (sql?.undo === true && oldRowsText === undefined) ? (memoryText !== undefined ? { budget: parseSize(memoryText) } : {}) : undefined;
  const opts = new Map<string, string>();
  if (pluginName === 'test_decoding') {
    for (const [k, v] of given) {
      if (!TEST_DECODING_OPTIONS.includes(k)) throw new WalError('invalid-argument', `option "${k}" = "${v ?? ''}" is unknown`);
      // test_decoding refuses a value parse_bool does not take, naming it.
      if (v !== null && parseBool(v) === undefined) throw new InvalidArgumentError(`could not parse value "${v}" for parameter "${k}"`);
      opts.set(k, v ?? '1');
    }
  }
  return { name: pluginName, given, flag: (k, d) => parseBool(opts.get(k) ?? d) === true, ...(oldRows !== undefined ? { oldRows } : {}), ...(sql !== undefined ? { sql } : {}) };
}

/** Microseconds since 2000-01-01 UTC (TimestampTz) of a time as Date.parse reads it (ISO 8601, with a zone). */
function timestampTz(name: string, text: string): bigint {
  const ms = Date.parse(text.replace(' ', 'T'));
  const what = name.startsWith('--') ? name : `option "${name}" =`;
  if (!Number.isFinite(ms)) throw new WalError('invalid-argument', `${what} "${text}": expected a time such as 2024-05-01T12:00:00Z`);
  return (BigInt(ms) - 946_684_800_000n) * 1000n;
}

/** The range filters of `--plugin sql` as flags (the -o forms xids, tables, start-time, end-time do the same). */
export const SQL_FILTER_OPTIONS = [
  { long: 'xid', arg: 'required' },
  { long: 'table', arg: 'required' },
  { long: 'start-time', arg: 'required' },
  { long: 'end-time', arg: 'required' },
  { short: 's', long: 'start', arg: 'required' },
] as const;

export const SQL_FILTER_HELP = `  --xid XID           with --plugin sql: only this transaction (top-level xid; repeatable, or a,b,…)
  --table NAME        with --plugin sql: only this table's changes (schema.table; repeatable, or a,b,…)
  --start-time TIME   with --plugin sql: only transactions committed at or after TIME (ISO 8601, e.g.
                      2024-05-01T12:00Z; without a zone, local time)
  --end-time TIME     with --plugin sql: only transactions committed before TIME
  -s, --start LSN     with --plugin sql: only transactions whose commit record is at or after LSN (with -e: the
                      range of LSNs within the slot's; old rows are known from the slot's restart_lsn on)
`;

/** The filter flags added to the -o ones: xids and tables joined, a time or LSN flag over its -o form. */
function sqlFilterFlags(options: Parsed['options'], o: SqlOptions): SqlOptions {
  const values = (name: string): string[] => options.filter((x) => x.name === name).map((x) => x.value!);
  const once = (name: string): string | undefined => {
    const v = values(name);
    if (v.length > 1) throw new WalError('invalid-argument', `--${name} given ${v.length} times`);
    return v[0];
  };
  const xids = values('xid');
  if (xids.length > 0) o.xids = new Set([...(o.xids ?? []), ...parseXids('--xid', xids.join(','))]);
  const tables = values('table');
  if (tables.length > 0) o.tables = new Set([...(o.tables ?? []), ...parseTables('--table', tables.join(','))]);
  const start = once('start-time');
  if (start !== undefined) o.startTime = timestampTz('--start-time', start);
  const end = once('end-time');
  if (end !== undefined) o.endTime = timestampTz('--end-time', end);
  const startLsn = once('start');
  if (startLsn !== undefined) {
    try {
      o.startLsn = parseLsn(startLsn);
    } catch (e) {
      if (e instanceof InvalidArgumentError) throw new InvalidArgumentError(`--start: ${e.message}`);
      throw e;
    }
  }
  if (o.startTime !== undefined && o.endTime !== undefined && o.endTime <= o.startTime) throw new InvalidArgumentError('the end time is not after the start time: nothing would be printed');
  return o;
}

function parseXids(name: string, value: string): number[] {
  const xids = value.split(',').map((x) => x.trim());
  if (xids.some((x) => !/^\d+$/.test(x) || Number(x) > 0xffffffff)) throw new WalError('invalid-argument', `${name} "${value}": expected transaction ids separated by commas`);
  return xids.map(Number);
}

function parseTables(name: string, value: string): string[] {
  const tables = value.split(',').map((x) => x.trim());
  if (tables.some((t) => !/^[^.]+\.[^.]+$/.test(t))) throw new WalError('invalid-argument', `${name} "${value}": expected schema.table names separated by commas`);
  return tables;
}

/** The sql plugin's -o options: undo, xids, tables, start-time, end-time (commit times). */
function sqlOptions(given: readonly [string, string | null][]): SqlOptions {
  const o: SqlOptions = {};
  for (const [k, v] of given) {
    const value = v ?? '1';
    if (k === 'undo') {
      const undo = parseBool(value);
      if (undo === undefined) throw new InvalidArgumentError(`could not parse value "${value}" for parameter "undo"`);
      o.undo = undo;
    }
    else if (k === 'xids') o.xids = new Set(parseXids('option "xids" =', value));
    else if (k === 'tables') o.tables = new Set(parseTables('option "tables" =', value));
    else if (k === 'start-time') o.startTime = timestampTz(k, value);
    else if (k === 'end-time') o.endTime = timestampTz(k, value);
    else throw new WalError('invalid-argument', `option "${k}" = "${v ?? ''}" is unknown`);
  }
  return o;
}

/**
 * A new output plugin as chosen (each decoding run gets its own: plugins keep per-transaction state); pgoutput
 * takes its publications from the slot's catalog and checks its options as the slot's major does. Each plugin but
 * test_decoding (which the decoder loads anyway) is imported here, when chosen: a test_decoding run does not load
 * pgoutput, its row filter, wal2json or sql (start-up, bench/README.md).
 */
export async function makePlugin(choice: ReturnType<typeof pluginChoice>, slot?: { major: number; catalog: DecoderCatalog }): Promise<OutputPlugin> {
  const { flag } = choice;
  if (choice.name === 'sql') return new (await import('../reorderbuffer/sql.js')).SqlPlugin(choice.sql);
  if (choice.name === 'pgoutput') {
    if (slot === undefined) throw new WalError('invalid-argument', 'pgoutput needs the slot state');
    const { PgOutputPlugin, parsePgOutputOptions } = await import('../reorderbuffer/pgoutput.js');
    return new PgOutputPlugin(parsePgOutputOptions(choice.given, slot.major), slot.major, slot.catalog.publications, slot.catalog.partitions, new Map(slot.catalog.replicationOrigins), slot.catalog.databaseLocale);
  }
  if (choice.name === 'json') {
    const { Wal2JsonPlugin, parseWal2JsonOptions } = await import('../reorderbuffer/wal2json.js');
    return new Wal2JsonPlugin(parseWal2JsonOptions([['format-version', '2'], ...choice.given]));
  }
  return new TestDecodingPlugin({ includeXids: flag('include-xids', '1'), includeTimestamp: flag('include-timestamp', '0'), skipEmptyXacts: flag('skip-empty-xacts', '0'), onlyLocal: flag('only-local', '0'), streamChanges: flag('stream-changes', '0') });
}

/** Where decode reads WAL: folders, or a restore_command with the folders after it; and the old timelines' own WAL. */
export interface WalSources {
  archive: ArchiveWal | undefined;
  files: WalFiles | undefined;
  history: TimelineHistory | undefined;
  oldTimeline: TimelineReader;
  segmentSize: number;
}

/**
 * wal_segment_size from the segment of `lsn` a restore_command (or the folders after it) gives: the file's name
 * depends on the size, so each size's name is asked for (16 MB first) until one comes, and its long page header
 * says the size. Nothing found is an error naming the files asked for: never a silent default.
 */
async function probeSegmentSize(archive: ArchiveWal, lsn: Lsn): Promise<number> {
  const tli = timelineOfLsn(lsn, archive.history);
  const asked: string[] = [];
  for (const mb of [16, 1, 2, 4, 8, 32, 64, 128, 256, 512, 1024]) {
    const name = walFileName(tli, Math.floor(lsn / (mb * 1048576)), mb * 1048576);
    if (asked.includes(name)) continue;
    asked.push(name);
    for (const f of archive.fetchers) {
      const got = await f.fetch(name);
      if (got === null) continue;
      const page = decompressMember(got, 1024 * 1048576, name).subarray(0, 40);
      const v = new DataView(page.buffer, page.byteOffset, page.byteLength);
      // XLP_LONG_HEADER: xlp_seg_size at offset 32.
      if (page.length < 40 || (v.getUint16(2, true) & 0x0002) === 0) throw new WalFormatError('not-a-segment', `archive file "${name}" does not start with a long page header`, { file: name });
      return v.getUint32(32, true);
    }
  }
  throw new WalEndedEarlyError(`could not restore the segment of ${formatLsn(lsn)} for any wal_segment_size (asked for ${asked.map((n) => `"${n}"`).join(', ')})`, { lsn });
}

/**
 * `recycle`: the caller keeps no record past the next one (openWal's recycleWindows). `firstLsn`: where reading
 * will begin; with a restore_command and no --wal-segsize, its segment says the segment size.
 */
export async function openWalSources(options: Parsed['options'], io: DumpIo, recycle = false, firstLsn?: Lsn): Promise<WalSources> {
  const dirs = options.filter((o) => o.name === 'path').map((o) => path.resolve(io.cwd, o.value!));
  const restoreCommand = options.find((o) => o.name === 'restore-command')?.value;
  const segText = options.find((o) => o.name === 'wal-segsize')?.value;
  // With a restore_command the archive comes first and the folders after it, as the server's recovery does.
  let segmentSize = segText === undefined ? undefined : parseWalSegSize(segText);
  const timeoutText = options.find((o) => o.name === 'restore-timeout')?.value;
  const restore = restoreCommand !== undefined || timeoutText !== undefined ? await import('../node/restore.js') : undefined;
  const timeoutMs = restore?.restoreTimeoutMs(timeoutText);
  const Archive = restore?.ArchiveWal;
  let archive = restoreCommand === undefined ? undefined : await Archive!.open({ restoreCommand, dirs, segmentSize, cwd: io.cwd, timeoutMs });
  if (archive !== undefined && segmentSize === undefined && firstLsn !== undefined) {
    segmentSize = await probeSegmentSize(archive, firstLsn);
    if (segmentSize !== archive.segmentSize) {
      archive.close();
      archive = await Archive!.open({ restoreCommand: restoreCommand!, dirs, segmentSize, cwd: io.cwd, timeoutMs });
    }
  }
  const files = archive === undefined ? openWal({ path: dirs.length > 0 ? dirs : [path.resolve(io.cwd, 'pg_wal')], timeline: 'latest', recycleWindows: recycle }) : undefined;
  const history = archive?.history ?? files!.history;
  const oldTimeline: TimelineReader =
    archive === undefined
      ? folderTimelineReader(files!.dirs)
      : async (tli, start) => {
          const old = await Archive!.open({ restoreCommand: restoreCommand!, dirs, segmentSize, cwd: io.cwd, timeline: tli, timeoutMs });
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

/**
 * The archive's counterpart of WalFiles.damageAfter: a page after the failing one, in its segment or at the start
 * of the next, that carries the header the server wrote for it means the WAL went on (damage, not its end).
 */
export async function archiveDamageAfter(archive: ArchiveWal, end: EndOfWal): Promise<string | undefined> {
  const { segmentSize } = archive;
  const { ArchiveSource } = await import('../node/restore.js');
  const source = new ArchiveSource({ fetchers: archive.fetchers, segmentSize, timeline: archive.history[0]!.tli, history: archive.history, prefetch: 0 });
  try {
    const next = (Math.floor(end.lsn / segmentSize) + 1) * segmentSize;
    const failPage = end.lsn - (end.lsn % XLOG_BLCKSZ);
    const failing = await source.read(failPage);
    if (!('missing' in failing)) {
      const later = laterPageAddr(failing.bytes.subarray(failPage - failing.start), failPage);
      if (later !== undefined) return later;
    }
    // The rest of the failing segment (fetched once), then the next segment's first page.
    for (let p = end.lsn - (end.lsn % XLOG_BLCKSZ) + XLOG_BLCKSZ; p <= next; p += XLOG_BLCKSZ) {
      const got = await source.read(p);
      if ('missing' in got) {
        if (p >= next) break;
        p = next - XLOG_BLCKSZ;
        continue;
      }
      if (isWalPageAt(got.bytes.subarray(p - got.start), p)) return `WAL continues after it, at ${formatLsn(p)}`;
    }
    return undefined;
  } finally {
    source.close();
  }
}
