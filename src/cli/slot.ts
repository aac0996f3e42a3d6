// `pgwal slot create|show|advance|drop|export|import`, and the slot options `pgwal decode` takes.
import fs from 'node:fs';
import path from 'node:path';
import { WalError, WalSourceError } from '../errors.js';
import { formatLsn, parseLsn, type Lsn } from '../lsn.js';
import { openWal, type WalFiles } from '../node/wal.js';
import { createSlot, createSlotFromDataDir, dropServerSlot, openSlotFile, readServerSlot, readSlotStateFile, removeSlotStateFile, writeFileDurably, writeSlotStateFile } from '../node/slot.js';
import { pgClient } from '../node/pg-client.js';
import { judgeEndOfWal } from '../node/slot-decode.js';
import { orphansCommand } from './orphans.js';
import { TestDecodingDecoder } from '../reorderbuffer/logical.js';
import { profileForMajor } from '../xlogreader/profile.js';
import type { DecodedRecord } from '../xlogreader/record.js';
import { SlotImportError } from '../slot/errors.js';
import { checkImportPosition, parseSlotExport, serializeSlotExport, SLOT_EXPORT_VERSION, unsafeCatalogXmin, type SlotExport } from '../slot/export.js';
import { catalogFileTest, invalidates, rowRemovalOf } from '../slot/guard.js';
import type { SlotState } from '../slot/state.js';
import type { Slot } from '../slot/slot.js';
import { timelineOfLsn } from '../timeline/history.js';
import { getopt, type OptionSpec } from './getopt.js';
import type { DumpIo } from './dump.js';

export const SLOT_HELP = `pgwal slot keeps a logical slot in a state file: where decoding restarts (restart_lsn), what was consumed
(confirmed_flush), the catalog_xmin it relies on, whether it was invalidated, and the catalog to decode with.

Usage:
  pgwal slot create --dsn URL --slot NAME --state FILE [--plugin test_decoding|wal2json|pgoutput] [--temporary] [--two-phase]
                    [--static-catalog]
      a logical slot on a live server, its catalog as of the slot's consistent point. Beside the state file,
      FILE.catalog-<checksum>.json.gz holds the catalog relations' raw pages (pageinspect's get_raw_page: needs a
      superuser; the extension is created when missing), so decoding follows DDL; each confirm stores them as of
      the new restart_lsn. --static-catalog keeps only the relations and types of the slot's creation.
  pgwal slot create --datadir DIR --dbname NAME --slot NAME --state FILE
      the same with no server, from a cleanly stopped server's data directory (a cold copy): the slot starts at
      its shutdown checkpoint, the catalog read from its relation files, pg_filenode.map and pg_xact
  pgwal slot show --state FILE [--json]
  pgwal slot advance --state FILE --to LSN [--path DIR]...
      consume up to LSN without output (pg_replication_slot_advance): confirmed_flush only moves forward,
      restart_lsn to where no open transaction is lost; the WAL is checked against catalog_xmin on the way
  pgwal slot drop --state FILE [--dsn URL]
      remove the state file (and, with --dsn, the server's slot of the same name)
  pgwal slot export --state FILE --out BLOB [--path DIR]... | --dsn URL --slot NAME --out BLOB
      a versioned blob: the state, its catalog, and the source's WAL position when taken
  pgwal slot orphans --state FILE [--path DIR]... [--restore-command CMD] [--plugin test_decoding|json|pgoutput] [-o ...]
      after a failover: the changes of the transactions the slot consumed on its old timeline past the switch
      point, in its plugin's format, from the old timeline's WAL; each orphan is printed whole or reported as
      "changes unavailable" with why (pgwal slot orphans --help)
  pgwal slot import --from BLOB | --dsn URL --slot NAME   --state FILE --path DIR... [--wait SECONDS] [--force]
      take a slot over on this node's WAL: refused for another system, a position not on this WAL's
      timeline history (naming the fork point), a catalog_xmin the WAL has made unsafe, or a position the WAL
      has not reached (unless --wait, which follows the WAL that long); --force replaces an existing state file
`;

/** The options each `pgwal slot` subcommand parses (besides -h/--help); its usage lines in SLOT_HELP list the same. */
export const SLOT_OPTIONS = {
  create: [
    { long: 'dsn', arg: 'required' },
    { long: 'slot', arg: 'required' },
    { long: 'state', arg: 'required' },
    { long: 'plugin', arg: 'required' },
    { long: 'temporary', arg: 'none' },
    { long: 'two-phase', arg: 'none' },
    { long: 'static-catalog', arg: 'none' },
    { long: 'datadir', arg: 'required' },
    { long: 'dbname', arg: 'required' },
  ],
  show: [
    { long: 'state', arg: 'required' },
    { long: 'json', arg: 'none' },
  ],
  advance: [
    { long: 'state', arg: 'required' },
    { long: 'to', arg: 'required' },
    { short: 'p', long: 'path', arg: 'required' },
  ],
  drop: [
    { long: 'state', arg: 'required' },
    { long: 'dsn', arg: 'required' },
  ],
  export: [
    { long: 'state', arg: 'required' },
    { long: 'dsn', arg: 'required' },
    { long: 'slot', arg: 'required' },
    { long: 'out', arg: 'required' },
    { short: 'p', long: 'path', arg: 'required' },
  ],
  import: [
    { long: 'from', arg: 'required' },
    { long: 'dsn', arg: 'required' },
    { long: 'slot', arg: 'required' },
    { long: 'state', arg: 'required' },
    { short: 'p', long: 'path', arg: 'required' },
    { long: 'wait', arg: 'required' },
    { long: 'force', arg: 'none' },
  ],
} satisfies Record<string, OptionSpec[]>;

/** One subcommand's help: its usage lines of SLOT_HELP, each with what follows it up to the next usage line. */
export function slotSubHelp(sub: string): string {
  const lines = SLOT_HELP.split('\n');
  const out: string[] = [];
  let mine = false;
  for (const line of lines) {
    const usage = /^  pgwal slot (\w+)/.exec(line);
    if (usage !== null) mine = usage[1] === sub;
    else if (!line.startsWith('      ')) mine = false;
    if (mine) out.push(line);
  }
  return `Usage:\n${out.join('\n')}\n  -h, --help          show this help\n\nAll of pgwal slot: pgwal slot --help\n`;
}

const bad = (m: string): never => {
  throw new WalError('invalid-argument', m);
};

// `pgwal decode`'s slot options live in slot-decode-options.ts (decode loads them without the slot commands).
export { archiveSource, slotDecodeArgs, SLOT_DECODE_HELP, SLOT_DECODE_OPTIONS, standbyFlushSource } from './slot-decode-options.js';

function parse(argv: string[], specs: OptionSpec[]): { get: (n: string) => string | undefined; all: (n: string) => string[]; has: (n: string) => boolean } {
  const p = getopt(argv, specs, bad);
  if (p.positional.length > 0) bad(`unexpected argument "${p.positional[0]}"`);
  return {
    get: (n) => p.options.find((o) => o.name === n)?.value,
    all: (n) => p.options.filter((o) => o.name === n).map((o) => o.value!),
    has: (n) => p.options.some((o) => o.name === n),
  };
}

const need = (v: string | undefined, what: string): string => v ?? bad(`${what} is required`);

const STRERROR: Record<string, string> = {
  ENOENT: 'No such file or directory',
  ENOTDIR: 'Not a directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EISDIR: 'Is a directory',
  ELOOP: 'Too many levels of symbolic links',
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  ETIMEDOUT: 'Connection timed out',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
};

/** A system error (a file, a connection) as libpq and the server word it; undefined for anything else. */
function systemErrorText(e: unknown): string | undefined {
  const x = e as NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string };
  if (!(e instanceof Error) || typeof x.code !== 'string' || typeof x.syscall !== 'string') return undefined;
  if (x.code === 'ENOTFOUND' || x.code === 'EAI_AGAIN') return `could not translate host name "${x.hostname ?? ''}" to address: Name or service not known`;
  const why = STRERROR[x.code] ?? x.code;
  if (x.syscall === 'connect') {
    const where = x.port === undefined ? `on socket "${x.address}"` : `at "${x.address}", port ${x.port}`;
    return `connection to server ${where} failed: ${why}`;
  }
  return x.path !== undefined ? `could not ${x.syscall} "${x.path}": ${why}` : `${x.syscall}: ${why}`;
}

export async function slotCommand(argv: string[], io: DumpIo): Promise<number> {
  const [sub, ...rest] = argv;
  const subs: Record<string, (a: string[], io: DumpIo) => Promise<void>> = { create, show, advance, drop, export: exportCmd, import: importCmd };
  if (sub === '--help' || sub === '-?') {
    io.out(SLOT_HELP);
    return 0;
  }
  if (sub === 'orphans') {
    // Its own exit status: 2 when some orphans' changes could not be printed.
    try {
      return await orphansCommand(rest, io);
    } catch (e) {
      if (!(e instanceof WalError)) throw e;
      io.err(`pgwal slot orphans: error: ${e.message}\n`);
      return 1;
    }
  }
  if (sub !== undefined && Object.hasOwn(subs, sub) && (rest.includes('--help') || rest.includes('-h'))) {
    io.out(slotSubHelp(sub));
    return 0;
  }
  if (sub === undefined || !Object.hasOwn(subs, sub)) {
    io.err(sub === undefined ? SLOT_HELP : `pgwal slot: unknown subcommand "${sub}"\n\n${SLOT_HELP}`);
    return 1;
  }
  try {
    await subs[sub]!(rest, io);
    return 0;
  } catch (e) {
    if (e instanceof WalError || (e instanceof Error && 'code' in e && typeof (e as { severity?: string }).severity === 'string')) {
      io.err(`pgwal slot ${sub}: error: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

async function create(argv: string[], io: DumpIo): Promise<void> {
  const o = parse(argv, SLOT_OPTIONS['create']);
  const slot = need(o.get('slot'), '--slot');
  const state = need(o.get('state'), '--state');
  const datadir = o.get('datadir');
  if (datadir !== undefined && o.get('dsn') !== undefined) throw new WalError('invalid-argument', '--datadir and --dsn exclude each other');
  let s: SlotState;
  try {
    s =
      datadir !== undefined
        ? createSlotFromDataDir({ dataDir: path.resolve(io.cwd, datadir), database: need(o.get('dbname'), '--dbname'), slotName: slot })
        : await createSlot({
            connection: need(o.get('dsn'), '--dsn'),
            slotName: slot,
            plugin: o.get('plugin'),
            temporary: o.has('temporary'),
            twoPhase: o.has('two-phase'),
            historicCatalog: !o.has('static-catalog'),
          });
  } catch (e) {
    // A missing data directory, a server that is down: one line naming what could not be reached.
    const text = systemErrorText(e);
    if (text === undefined) throw e;
    throw new WalSourceError('unreachable', datadir !== undefined ? `data directory "${datadir}": ${text}` : text, { cause: e });
  }
  writeSlotStateFile(path.resolve(io.cwd, state), s);
  io.out(`slot "${s.name}" created: restart_lsn ${s.restartLsn}, confirmed_flush_lsn ${s.confirmedFlush}, catalog_xmin ${s.catalogXmin}\n`);
}

/** The fields as pg_replication_slots names them. */
function showText(s: SlotState): string {
  const rows: [string, string][] = [
    ['slot_name', s.name],
    ['plugin', s.plugin],
    ['database', s.database ?? `oid ${s.databaseOid}`],
    ['system_identifier', s.systemIdentifier],
    ['server_version', String(s.major)],
    ['timeline', String(s.timeline)],
    ['restart_lsn', s.restartLsn],
    ['confirmed_flush_lsn', s.confirmedFlush],
    ['catalog_xmin', String(s.catalogXmin)],
    ['two_phase', s.twoPhase ? 't' : 'f'],
    ['invalidation_reason', s.invalidation?.reason ?? ''],
    ['invalidation_lsn', s.invalidation?.lsn ?? ''],
    ['invalidation_detail', s.invalidation?.detail ?? ''],
    ['catalog', `${s.catalogRef.kind}, as of ${s.catalogRef.asOf}, ${s.catalog.relations.length} relations, crc32c ${s.catalogRef.crc32c}`],
    // For the orphans of a failover (decode --orphan-window): restart_lsn (the confirmed_flush it covers from).
    ['kept_restart_points', (s.keptRestarts ?? []).map((k) => `${k.restartLsn} (from ${k.confirmedFlush})`).join(', ')],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([k, v]) => `${k.padEnd(w)} | ${v}\n`).join('');
}

async function show(argv: string[], io: DumpIo): Promise<void> {
  const o = parse(argv, SLOT_OPTIONS['show']);
  const s = readSlotStateFile(path.resolve(io.cwd, need(o.get('state'), '--state')));
  if (o.has('json')) {
    const { catalog: _catalog, catalogFilenodes: _files, ...rest } = s;
    io.out(`${JSON.stringify(rest)}\n`);
  } else io.out(showText(s));
}

function walOf(dirs: string[], io: DumpIo): WalFiles {
  return openWal({ path: dirs.length > 0 ? dirs.map((d) => path.resolve(io.cwd, d)) : [path.resolve(io.cwd, 'pg_wal')], timeline: 'latest' });
}

async function advance(argv: string[], io: DumpIo): Promise<void> {
  const o = parse(argv, SLOT_OPTIONS['advance']);
  const slot = openSlotFile(path.resolve(io.cwd, need(o.get('state'), '--state')));
  try {
    await advanceSlot(slot, o.all('path'), need(o.get('to'), '--to'), io);
  } finally {
    slot.release();
  }
}

async function advanceSlot(slot: Slot, paths: string[], to: string, io: DumpIo): Promise<void> {
  slot.assertUsable();
  const target = parseLsn(to);
  if (target < slot.confirmedFlush) slot.advance(target); // throws the server's error
  if (target === slot.confirmedFlush) {
    io.out(`slot "${slot.name}" already at ${formatLsn(target)}\n`);
    return;
  }
  const wal = walOf(paths, io);
  const profile = profileForMajor(slot.state.major) ?? bad(`unsupported major ${slot.state.major} in the state file`);
  const st = slot.state;
  // Decoded for the positions only: nothing is printed.
  const decoder = new TestDecodingDecoder(st.catalog, profile.major, { includeXids: true, skipEmptyXacts: true }, slot.confirmedFlush, {
    sink: () => undefined,
    ...(st.twoPhase ? { twoPhaseAt: parseLsn(st.twoPhaseAt ?? st.confirmedFlush) } : {}),
  });
  let readTo = slot.restartLsn;
  let tli = slot.timeline;
  const start = wal.history === undefined ? slot.timeline : timelineOfLsn(slot.restartLsn, wal.history);
  let lastRecord: Lsn | undefined;
  let notice: string | undefined;
  try {
    const stream = wal.records({ start: slot.restartLsn, end: target, startTimeline: start });
    for await (const rec of stream) {
      slot.checkRecord(rec, profile.major);
      decoder.process(rec);
      lastRecord = rec.lsn;
      readTo = rec.endLsn;
      tli = rec.timeline;
    }
    // Like the server, a target past the end of WAL is clamped to what could be read; but not reaching the
    // restart_lsn or confirmed_flush, or damage with WAL after it, is an error, and a clamp is said.
    notice = await judgeEndOfWal(stream.end, { restartLsn: slot.restartLsn, confirmedFlush: slot.confirmedFlush }, lastRecord, (e) => wal.damageAfter(e));
  } finally {
    decoder.close();
  }
  const moveTo = Math.min(target, Math.max(readTo, slot.confirmedFlush));
  if (notice !== undefined) io.err(`pgwal slot advance: ${notice}; --to ${formatLsn(target)} is past it\n`);
  if (moveTo === slot.confirmedFlush) {
    io.out(`slot "${slot.name}" already at ${formatLsn(moveTo)}\n`);
    return;
  }
  slot.advance(moveTo, { restartLsn: decoder.restartPoint(moveTo), timeline: tli });
  io.out(`slot "${slot.name}" advanced: restart_lsn ${slot.state.restartLsn}, confirmed_flush_lsn ${slot.state.confirmedFlush}, catalog_xmin ${slot.catalogXmin}\n`);
}

async function drop(argv: string[], io: DumpIo): Promise<void> {
  const o = parse(argv, SLOT_OPTIONS['drop']);
  const file = path.resolve(io.cwd, need(o.get('state'), '--state'));
  const slot = openSlotFile(file); // refused while another process uses it
  try {
    const dsn = o.get('dsn');
    if (dsn !== undefined) {
      const dropped = await dropServerSlot(dsn, slot.name);
      io.out(dropped ? `server slot "${slot.name}" dropped\n` : `no server slot "${slot.name}"\n`);
    }
    removeSlotStateFile(file);
  } finally {
    slot.release();
  }
  io.out(`slot "${slot.name}" dropped\n`);
}

/**
 * The end of the WAL readable from `start` on the followed history: the end of the last record, or, when not
 * even the first could be read, where the reader stopped (which may be before `start`: the WAL ends earlier).
 */
async function walEndFrom(wal: WalFiles, start: Lsn, startTimeline: number | undefined, check?: (rec: DecodedRecord) => void): Promise<Lsn> {
  let end: Lsn | undefined;
  const stream = wal.records({ start, startTimeline });
  for await (const rec of stream) {
    check?.(rec);
    end = rec.endLsn;
  }
  return end ?? Math.min(start, stream.end?.lsn ?? 0);
}

async function exportCmd(argv: string[], io: DumpIo): Promise<void> {
  const o = parse(argv, SLOT_OPTIONS['export']);
  const out = path.resolve(io.cwd, need(o.get('out'), '--out'));
  let blob: SlotExport;
  const dsn = o.get('dsn');
  if (dsn !== undefined) {
    const s = await readServerSlot(dsn, need(o.get('slot'), '--slot'));
    const c = await pgClient({ connectionString: dsn });
    await c.connect();
    const insert = (await c.query(`select (case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_insert_lsn() end)::text as l`)).rows[0].l as string;
    await c.end();
    blob = { format: 'pgwal-slot-export', version: SLOT_EXPORT_VERSION, insertLsn: insert, source: 'server', slot: s };
  } else {
    const s = readSlotStateFile(path.resolve(io.cwd, need(o.get('state'), '--state or --dsn')));
    if (s.invalidation !== null) throw new SlotImportError('slot-import-invalid', `slot "${s.name}" has been invalidated (${s.invalidation.reason}) and cannot be exported`);
    let insert = s.confirmedFlush;
    if (o.all('path').length > 0) {
      const wal = walOf(o.all('path'), io);
      insert = formatLsn(await walEndFrom(wal, parseLsn(s.restartLsn), wal.history === undefined ? s.timeline : undefined));
    }
    // Kept restart points stay behind: their catalog pages are files beside this state, not part of the blob.
    const { keptRestarts: _kept, ...exported } = s;
    blob = { format: 'pgwal-slot-export', version: SLOT_EXPORT_VERSION, insertLsn: insert, source: 'pgwal', slot: exported };
  }
  writeFileDurably(out, serializeSlotExport(blob));
  io.out(`slot "${blob.slot.name}" exported: timeline ${blob.slot.timeline}, restart_lsn ${blob.slot.restartLsn}, confirmed_flush_lsn ${blob.slot.confirmedFlush}, catalog_xmin ${blob.slot.catalogXmin}, WAL at ${blob.insertLsn}\n`);
}

async function importCmd(argv: string[], io: DumpIo): Promise<void> {
  const o = parse(argv, SLOT_OPTIONS['import']);
  const stateFile = path.resolve(io.cwd, need(o.get('state'), '--state'));
  if (fs.existsSync(stateFile) && !o.has('force')) bad(`slot state file "${stateFile}" already exists (--force replaces it)`);
  const from = o.get('from');
  const dsn = o.get('dsn');
  let slot: SlotState;
  if (from !== undefined) slot = parseSlotExport(fs.readFileSync(path.resolve(io.cwd, from)), from).slot;
  else if (dsn !== undefined) slot = await readServerSlot(dsn, need(o.get('slot'), '--slot'));
  else return bad('--from BLOB or --dsn URL --slot NAME is required');
  if (o.all('path').length === 0) bad('--path is required: the WAL this node decodes');
  const imported = await checkImport(slot, walOf(o.all('path'), io), o.get('wait') === undefined ? 0 : Number(o.get('wait')), io);
  writeSlotStateFile(stateFile, imported);
  io.out(`slot "${slot.name}" imported: timeline ${imported.timeline}, restart_lsn ${slot.restartLsn}, confirmed_flush_lsn ${slot.confirmedFlush}, catalog_xmin ${slot.catalogXmin}\n`);
}

/**
 * The import checks against this node's WAL: system identifier, position on the followed history, then a scan
 * from restart_lsn to the end of WAL for records that make catalog_xmin unsafe; a confirmed_flush the WAL has
 * not reached is waited for (`waitSeconds`, following the WAL) or refused.
 */
export async function checkImport(slot: SlotState, wal: WalFiles, waitSeconds: number, io: DumpIo): Promise<SlotState> {
  const history = wal.history ?? [{ tli: wal.info.timeline, begin: 0, end: undefined, reason: '' }];
  const target = { systemIdentifier: wal.info.systemIdentifier.toString(), history, walEnd: Number.MAX_SAFE_INTEGER };
  checkImportPosition(slot, target);
  const profile = profileForMajor(slot.major) ?? bad(`unsupported major ${slot.major}`);
  const isCatalogFile = catalogFileTest(slot.catalogFilenodes);
  const confirmed = parseLsn(slot.confirmedFlush);
  const check = (rec: DecodedRecord): void => {
    const r = rowRemovalOf(rec, profile.major, isCatalogFile);
    if (r !== undefined && invalidates(r, slot.catalogXmin, slot.databaseOid)) throw unsafeCatalogXmin(slot, r);
  };
  const startTli = timelineOfLsn(parseLsn(slot.restartLsn), history);
  let end = await walEndFrom(wal, parseLsn(slot.restartLsn), startTli, check);
  if (end < confirmed && waitSeconds > 0) {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), waitSeconds * 1000);
    try {
      for await (const rec of wal.records({ start: end, startTimeline: timelineOfLsn(end, history), follow: { pollMs: 200 }, signal: ac.signal })) {
        check(rec);
        end = rec.endLsn;
        if (end >= confirmed) break;
      }
    } finally {
      clearTimeout(timer);
    }
  }
  if (end < confirmed) {
    throw new SlotImportError(
      'slot-import-future',
      `slot "${slot.name}" cannot be imported: its confirmed_flush ${slot.confirmedFlush} is past the end of this node's WAL at ${formatLsn(end)}` +
        (waitSeconds > 0 ? ` (waited ${waitSeconds} s)` : ' (--wait SECONDS follows the WAL until it gets there)'),
      { lsn: confirmed },
    );
  }
  void io;
  return { ...slot, timeline: timelineOfLsn(confirmed, history) };
}
