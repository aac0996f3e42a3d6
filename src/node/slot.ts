// Slots on disk and on live servers: creating a slot with its catalog as of the slot's consistent point,
// reading a server slot's state from pg_replication_slots, and keeping the state in a file written
// crash-safely (temp file, fsync, rename, fsync of the folder).
import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { WalSourceError } from '../errors.js';
import { pgClient } from './pg-client.js';
import { ownStartTime, processAlive, processStartedAt } from './process-identity.js';
import { catalogChecksum, parseSlotState, serializeSlotState, SLOT_STATE_VERSION, type SlotState } from '../slot/state.js';
import { Slot } from '../slot/slot.js';
import { SlotImportError, SlotStateError } from '../slot/errors.js';
import { loadCatalog } from './catalog.js';
import zlib from 'node:zlib';
import { formatLsn } from '../lsn.js';
import { crc32c } from '../xlogreader/crc32c.js';
import { databaseOidByName, readCatalogSnapshot, readCatalogSnapshotFromDataDir, readControlFile } from './catalog-snapshot.js';
import { catalogSnapshotToJson } from '../catalog/snapshot-json.js';
import type { Major } from '../xlogreader/profile.js';

export interface CreateSlotOptions {
  /** node-postgres connection settings or a connection string. */
  connection: pg.ClientConfig | string;
  slotName: string;
  plugin?: string;
  temporary?: boolean;
  /** A two_phase slot: prepared transactions are decoded at PREPARE TRANSACTION. */
  twoPhase?: boolean;
  /**
   * Store the catalog's raw pages for the historic catalog (default true): decoding then follows DDL. Needs a
   * superuser and the pageinspect extension, which is created in the database when missing.
   */
  historicCatalog?: boolean;
}

const quoteIdent = (s: string): string => `"${s.replace(/"/g, '""')}"`;

function supportedMajor(m: number): Major {
  if (m !== 15 && m !== 16 && m !== 17 && m !== 18) throw new SlotImportError('slot-unsupported-major', `server major version ${m} is not one pgwal decodes (15–18)`);
  return m;
}

const clientConfig = (c: pg.ClientConfig | string): pg.ClientConfig => (typeof c === 'string' ? { connectionString: c } : c);

/** The server facts a state records, read in the given session. */
async function serverInfo(sql: pg.Client): Promise<{ sysid: string; major: number; dboid: number; dbname: string; tli: number; tz: string }> {
  const r = (
    await sql.query(`select (select system_identifier::text from pg_control_system()) as sysid,
                            current_setting('server_version_num')::int / 10000 as major,
                            (select oid from pg_database where datname = current_database()) as dboid,
                            current_database() as dbname,
                            case when pg_is_in_recovery() then (select received_tli from pg_stat_wal_receiver)
                                 else ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int end as tli,
                            (select timeline_id from pg_control_checkpoint()) as ckpt_tli,
                            current_setting('TimeZone') as tz`)
  ).rows[0];
  return { sysid: r.sysid, major: Number(r.major), dboid: Number(r.dboid), dbname: r.dbname, tli: Number(r.tli ?? r.ckpt_tli), tz: r.tz };
}

/**
 * (tablespace, relfilenode) of every relation logical decoding treats as a catalog (IsCatalogRelationOid: oid
 * below FirstUnpinnedObjectId; and user_catalog_table tables, their TOAST tables and indexes), so that 15's
 * prune and vacuum records, which do not say so, can be recognised.
 */
// see RelationIsAccessibleInLogicalDecoding (rel.h), IsCatalogRelationOid (catalog.c)
export async function loadCatalogFilenodes(sql: pg.Client): Promise<[number, number][]> {
  const r = await sql.query(`
    with uc as (select oid, reltoastrelid from pg_class where coalesce('user_catalog_table=true' = any(reloptions), false))
    select case when c.reltablespace = 0 then d.dattablespace else c.reltablespace end as spc, pg_relation_filenode(c.oid) as fn
    from pg_class c cross join (select dattablespace from pg_database where datname = current_database()) d
    where pg_relation_filenode(c.oid) is not null
      and (c.oid < 12000 or c.oid in (select oid from uc) or c.oid in (select reltoastrelid from uc)
           or c.oid in (select indexrelid from pg_index where indrelid in (select oid from uc)))
    order by 1, 2`);
  return r.rows.map((x) => [Number(x.spc), Number(x.fn)]);
}

/**
 * CREATE_REPLICATION_SLOT … LOGICAL … (SNAPSHOT 'export') on a replication connection, then, in a transaction
 * that imports the exported snapshot, the catalog as of the slot's consistent point. A temporary slot lives
 * only as long as the connection: it is dropped when this returns.
 */
export async function createSlot(options: CreateSlotOptions): Promise<SlotState> {
  const base = clientConfig(options.connection);
  const repl = await pgClient({ ...base, replication: 'database' } as pg.ClientConfig);
  const sql = await pgClient(base);
  await repl.connect();
  try {
    await sql.connect();
    const plugin = options.plugin ?? 'test_decoding';
    const historic = options.historicCatalog ?? true;
    // Before the slot: creating the extension is a catalog change of its own, not one the slot should see.
    if (historic) await sql.query('create extension if not exists pageinspect');
    const created = await repl.query(
      `CREATE_REPLICATION_SLOT ${quoteIdent(options.slotName)} ${options.temporary ? 'TEMPORARY ' : ''}LOGICAL ${quoteIdent(plugin)} (SNAPSHOT 'export'${options.twoPhase ? ', TWO_PHASE' : ''})`,
    );
    const snapshot = created.rows[0].snapshot_name as string;
    await sql.query('begin isolation level repeatable read');
    await sql.query(`set transaction snapshot '${snapshot.replace(/'/g, "''")}'`);
    const catalog = await loadCatalog(sql);
    const catalogFilenodes = await loadCatalogFilenodes(sql);
    const catalogPages = historic ? catalogSnapshotToJson(await readCatalogSnapshot(sql)) : undefined;
    const info = await serverInfo(sql);
    const slot = (
      await sql.query(`select restart_lsn::text, confirmed_flush_lsn::text, catalog_xmin::text from pg_replication_slots where slot_name = $1`, [options.slotName])
    ).rows[0];
    await sql.query('commit');
    const full = { databaseOid: info.dboid, ...catalog };
    return {
      version: SLOT_STATE_VERSION,
      name: options.slotName,
      plugin,
      pluginOptions: {},
      systemIdentifier: info.sysid,
      databaseOid: info.dboid,
      database: info.dbname,
      major: supportedMajor(info.major),
      timeline: info.tli,
      restartLsn: slot.restart_lsn,
      confirmedFlush: slot.confirmed_flush_lsn,
      catalogXmin: Number(slot.catalog_xmin),
      twoPhase: options.twoPhase === true,
      // two_phase_at of a slot made with two_phase is its consistent point.
      ...(options.twoPhase ? { twoPhaseAt: slot.confirmed_flush_lsn as string } : {}),
      invalidation: null,
      catalogRef: { kind: 'embedded', asOf: slot.confirmed_flush_lsn, crc32c: catalogChecksum(full) },
      catalogFilenodes,
      timezone: info.tz,
      catalog: full,
      ...(catalogPages !== undefined ? { catalogPages } : {}),
    };
  } finally {
    await sql.end().catch(() => undefined);
    await repl.end().catch(() => undefined);
  }
}

/**
 * A server slot's state from pg_replication_slots (on a primary or a standby), with the catalog as the
 * session sees it now: right only while no DDL touched the decoded tables since the slot's restart_lsn,
 * which the caller must know. Refuses a physical, an invalidated or a not-yet-consistent slot.
 */
// see the slot-sync rules of PG17 (synchronize_one_slot, slotsync.c): a remote slot is usable once it has a
// restart_lsn, a confirmed_flush and a catalog_xmin.
export async function readServerSlot(connection: pg.ClientConfig | string, slotName: string): Promise<SlotState> {
  const sql = await pgClient(clientConfig(connection));
  await sql.connect();
  try {
    const rows = (await sql.query(`select * from pg_replication_slots where slot_name = $1`, [slotName])).rows;
    const s = rows[0];
    if (s === undefined) throw new SlotImportError('slot-import-missing', `replication slot "${slotName}" does not exist`);
    if (s.slot_type !== 'logical') throw new SlotImportError('slot-import-invalid', `replication slot "${slotName}" is ${s.slot_type}, not logical`);
    const reason = s.invalidation_reason ?? (s.conflicting === true ? 'rows_removed' : s.wal_status === 'lost' ? 'wal_removed' : null);
    if (reason !== null && reason !== undefined) throw new SlotImportError('slot-import-invalid', `replication slot "${slotName}" has been invalidated (${reason})`);
    const restart = s.restart_lsn as string | null;
    const confirmed = s.confirmed_flush_lsn as string | null;
    if (restart === null || confirmed === null || s.catalog_xmin === null) {
      throw new SlotImportError('slot-import-invalid', `replication slot "${slotName}" has no restart_lsn, confirmed_flush_lsn or catalog_xmin yet (not consistent)`);
    }
    const info = await serverInfo(sql);
    const [db] = (await sql.query(`select oid from pg_database where datname = $1`, [s.database])).rows;
    if (s.database !== info.dbname) throw new SlotImportError('slot-import-invalid', `replication slot "${slotName}" belongs to database "${s.database}", connected to "${info.dbname}"`);
    const catalog = { databaseOid: Number(db.oid), ...(await loadCatalog(sql)) };
    return {
      version: SLOT_STATE_VERSION,
      name: slotName,
      plugin: s.plugin,
      pluginOptions: {},
      systemIdentifier: info.sysid,
      databaseOid: Number(db.oid),
      database: s.database,
      major: supportedMajor(info.major),
      timeline: info.tli,
      restartLsn: restart,
      confirmedFlush: confirmed,
      catalogXmin: Number(s.catalog_xmin),
      twoPhase: s.two_phase === true,
      invalidation: null,
      catalogRef: { kind: 'embedded', asOf: confirmed, crc32c: catalogChecksum(catalog) },
      catalogFilenodes: await loadCatalogFilenodes(sql),
      timezone: info.tz,
      catalog,
    };
  } finally {
    await sql.end().catch(() => undefined);
  }
}

/** Drops the server's slot of that name (pg_drop_replication_slot); false when there is none. */
export async function dropServerSlot(connection: pg.ClientConfig | string, slotName: string): Promise<boolean> {
  const sql = await pgClient(clientConfig(connection));
  await sql.connect();
  try {
    const r = await sql.query(`select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1`, [slotName]);
    return (r.rowCount ?? 0) > 0;
  } finally {
    await sql.end().catch(() => undefined);
  }
}

/**
 * Writes a state file crash-safely. The historic catalog's pages (about 1 MB) go to a sidecar file named for
 * their checksum, written first, so the state file stays small and always names a complete pages file; so do the
 * pages of the kept restart points. Sidecars no longer named are removed after. Returns the state as it is kept
 * in memory from then on: pages named by absolute file names, none inline.
 */
export function writeSlotStateFile(file: string, state: SlotState): SlotState {
  try {
    return writeStateAndSidecars(file, state);
  } catch (e) {
    // Nothing is reported written (the slot keeps its state as it was): one line naming the state file.
    if (!(e instanceof WalSourceError) || e.code !== 'write-failed') throw e;
    throw new SlotStateError('slot-state-write', e.file === file ? e.message : `could not write slot state file "${file}": ${e.message}`, { file, cause: e });
  }
}

function writeStateAndSidecars(file: string, state: SlotState): SlotState {
  const dir = path.dirname(path.resolve(file));
  const named = new Map<object, string>();
  // Pages inline → a sidecar's name; a sidecar already named → its name relative to the folder.
  const sidecar = (pages: SlotState['catalogPages'], pagesFile: string | undefined): string | undefined => {
    if (pages !== undefined) {
      let name = named.get(pages);
      if (name === undefined) {
        const json = new TextEncoder().encode(JSON.stringify(pages));
        name = `${path.basename(file)}.catalog-${(crc32c(json) >>> 0).toString(16).padStart(8, '0')}.json.gz`;
        if (!fs.existsSync(path.join(dir, name))) writeFileDurably(path.join(dir, name), zlib.gzipSync(json), 'catalog pages file');
        named.set(pages, name);
      }
      return name;
    }
    return pagesFile === undefined ? undefined : path.relative(dir, path.resolve(dir, pagesFile));
  };
  const withFile = <T extends { catalogPages?: SlotState['catalogPages']; catalogPagesFile?: string }>(x: T): T => {
    const { catalogPages, catalogPagesFile, ...rest } = x;
    const name = sidecar(catalogPages, catalogPagesFile);
    return (name === undefined ? rest : { ...rest, catalogPagesFile: name }) as T;
  };
  const out: SlotState = withFile(state);
  if (state.keptRestarts !== undefined) out.keptRestarts = state.keptRestarts.map(withFile);
  writeFileDurably(file, serializeSlotState(out), 'slot state file');
  // The state is written: sidecars it no longer names go as far as they can (left ones are only space).
  const inUse = new Set([out.catalogPagesFile, ...(out.keptRestarts ?? []).map((k) => k.catalogPagesFile)]);
  const prefix = `${path.basename(file)}.catalog-`;
  try {
    for (const f of fs.readdirSync(dir)) {
      if (f.startsWith(prefix) && f.endsWith('.json.gz') && !inUse.has(f)) fs.rmSync(path.join(dir, f), { force: true });
    }
  } catch {
    // removed at the next write
  }
  return resolvePagesFiles(out, dir);
}

/** Sidecar names made absolute (they are stored relative to the state file's folder). */
function resolvePagesFiles(state: SlotState, dir: string): SlotState {
  const abs = <T extends { catalogPagesFile?: string }>(x: T): T => (x.catalogPagesFile === undefined ? x : { ...x, catalogPagesFile: path.resolve(dir, x.catalogPagesFile) });
  const out = abs(state);
  if (state.keptRestarts !== undefined) out.keptRestarts = state.keptRestarts.map(abs);
  return out;
}

/** The historic catalog's pages of a state: inline, or from its catalogPagesFile (JSON, gzipped when .gz). */
export function readCatalogPages(state: SlotState): SlotState['catalogPages'] {
  if (state.catalogPages !== undefined || state.catalogPagesFile === undefined) return state.catalogPages;
  const pagesFile = state.catalogPagesFile;
  try {
    const raw = fs.readFileSync(pagesFile);
    return JSON.parse((pagesFile.endsWith('.gz') ? zlib.gunzipSync(raw) : raw).toString('utf8')) as SlotState['catalogPages'];
  } catch (e) {
    throw new WalSourceError('unreadable-file', `could not read the catalog pages "${pagesFile}" of slot "${state.name}": ${(e as Error).message}`, { file: pagesFile, cause: e });
  }
}

/**
 * temp file, fsync, rename over the target, fsync of the folder. A failure (EACCES, ENOSPC, EIO) is a
 * WalSourceError `write-failed` naming the file (`what`: "slot state file"); the temp file is removed and the
 * target is as it was (unless only the folder's fsync failed).
 */
export function writeFileDurably(file: string, bytes: Uint8Array, what = 'file'): void {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at, bytes.length - at);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // the folder refuses even that: nothing was made
    }
    throw new WalSourceError('write-failed', `could not write ${what} "${file}": ${(e as Error).message}`, { file, cause: e });
  }
  try {
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch (e) {
    // The file is in place but perhaps not durable: not reported as written.
    throw new WalSourceError('write-failed', `could not write ${what} "${file}": fsync of its folder failed: ${(e as Error).message}`, { file, cause: e });
  }
}

export function readSlotStateFile(file: string): SlotState {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new SlotStateError('slot-state-missing', `slot state file "${file}" does not exist`, { file, cause: e });
    throw new WalSourceError('unreadable-file', `could not read slot state file "${file}": ${(e as Error).message}`, { file, cause: e });
  }
  // The pages files are named relative to the state file; they are read only when asked for (readCatalogPages).
  return resolvePagesFiles(parseSlotState(bytes, file), path.dirname(path.resolve(file)));
}

export interface OpenSlotFileOptions {
  /**
   * The slot is only read (a peek: decode without --advance). Where its folder lets no lock file be made
   * (read-only: EACCES, EPERM, EROFS) it is used without one: nothing can be written there anyway, and a
   * write it must make (an invalidation) is a SlotStateError naming the state file.
   */
  peek?: boolean;
}

/**
 * The slot kept in `file`: every move is written crash-safely before it is reported done. While it is open,
 * a lock file (`.NAME.lock`, holding the PID and that process's start time) keeps other pgwal processes off it,
 * as an active server slot refuses a second consumer; a lock left by a process that no longer exists (killed;
 * or its PID now another process's) is taken over, and the temp files its interrupted writes left are removed.
 * `slot.release()` (or the process's exit) lets it go.
 */
export function openSlotFile(file: string, options: OpenSlotFileOptions = {}): Slot {
  const state = readSlotStateFile(file);
  const release = lockSlotFile(file, state.name, options.peek === true);
  return new Slot(state, (s) => writeSlotStateFile(file, s), release);
}

const READ_ONLY = new Set(['EACCES', 'EPERM', 'EROFS']);

/** The holder a lock file names: its PID, and its start time where the lock recorded one. */
function lockHolder(text: string): { pid: number; start: number | undefined } | undefined {
  const m = /^(\d+)(?: (\d+))?\n$/.exec(text);
  if (m === null) return undefined;
  return { pid: Number(m[1]), start: m[2] === undefined ? undefined : Number(m[2]) };
}

/**
 * Whether the lock's holder still runs. A lock of an older pgwal has no start time: then a process that
 * started after the lock was written is not its holder either (its PID was reused).
 */
function holderAlive(holder: { pid: number; start: number | undefined }, lockWritten: number): boolean {
  if (holder.pid <= 0) return false;
  if (holder.start !== undefined) return processAlive(holder.pid, holder.start);
  if (!processAlive(holder.pid, undefined)) return false;
  const started = processStartedAt(holder.pid);
  // /proc's start time is exact to 10 ms, the boot time to a second.
  return started === undefined || started <= lockWritten + 2000;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Makes the lock file holding `content`, whole from the first moment (written aside, then linked into place);
 * false when there is one already. Where the file system has no hard links: created exclusively, then written.
 */
function createLock(lock: string, content: string): boolean {
  const tmp = `${lock}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content, { mode: 0o600 });
  let linked: boolean | undefined;
  try {
    fs.linkSync(tmp, lock);
    linked = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') linked = false;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  if (linked !== undefined) return linked;
  let fd: number;
  try {
    fd = fs.openSync(lock, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    fs.writeSync(fd, content);
  } catch (e) {
    fs.rmSync(lock, { force: true });
    throw e;
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

function lockSlotFile(file: string, name: string, peek: boolean): () => void {
  const dir = path.dirname(path.resolve(file));
  const lock = path.join(dir, `.${path.basename(file)}.lock`);
  const start = ownStartTime();
  const failed = (what: string, e: unknown): SlotStateError =>
    new SlotStateError('slot-lock', `could not ${what} lock file "${lock}" of replication slot "${name}": ${(e as Error).message}`, { file: lock, cause: e });
  const content = `${process.pid}${start === undefined ? '' : ` ${start}`}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      if (createLock(lock, content)) break;
    } catch (e) {
      if (peek && READ_ONLY.has((e as NodeJS.ErrnoException).code ?? '')) return () => undefined;
      throw failed('create', e);
    }
    if (attempt > 2) throw failed('take over', new Error('another process makes it again each time'));
    let text: string;
    let written: number;
    try {
      text = fs.readFileSync(lock, 'utf8');
      written = fs.statSync(lock).mtimeMs;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // let go meanwhile
      throw failed('read', e);
    }
    const holder = lockHolder(text);
    // see ReplicationSlotAcquire (slot.c): "replication slot \"%s\" is active for PID %d"
    if (holder !== undefined && holderAlive(holder, written)) {
      throw new SlotStateError('slot-active', `replication slot "${name}" is active for PID ${holder.pid} (lock file "${lock}")`, { file: lock });
    }
    // Not a whole line: being written by its holder (where locks cannot be linked into place), unless it is old.
    if (holder === undefined && Date.now() - written < 10_000) {
      throw new SlotStateError('slot-active', `replication slot "${name}" is being acquired by another process (lock file "${lock}")`, { file: lock });
    }
    try {
      fs.rmSync(lock, { force: true });
    } catch (e) {
      if (peek && READ_ONLY.has((e as NodeJS.ErrnoException).code ?? '')) return () => undefined;
      throw failed('remove the stale', e);
    }
  }
  // Lock temp files of processes that died between writing and linking them.
  const lockTmp = new RegExp(`^${escape(path.basename(lock))}\\.(\\d+)\\.tmp$`);
  const tmp = new RegExp(`^\\.${escape(path.basename(file))}\\.\\d+\\.tmp$`);
  try {
    for (const n of fs.readdirSync(dir)) {
      const m = lockTmp.exec(n);
      if (tmp.test(n) || (m !== null && !processAlive(Number(m[1]), undefined))) fs.rmSync(path.join(dir, n), { force: true });
    }
  } catch {
    // left for the next holder
  }
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    process.removeListener('exit', release);
    try {
      fs.rmSync(lock, { force: true });
    } catch {
      // a lock left behind is taken over as stale by the next holder
    }
  };
  process.on('exit', release);
  return release;
}

/** Removes the state file durably (the unlink is fsynced through the folder). */
export function removeSlotStateFile(file: string): void {
  readSlotStateFile(file); // refuse to delete something that is not a slot state
  fs.unlinkSync(file);
  const dfd = fs.openSync(path.dirname(path.resolve(file)), 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}

export interface DataDirSlotOptions {
  /** A data directory of a cleanly stopped server: a cold copy or a base backup taken of a stopped server. */
  dataDir: string;
  /** The database to decode, by name or OID. */
  database: string | number;
  slotName: string;
}

/**
 * A pgwal slot that starts at a data directory's shutdown checkpoint, with the historic catalog read from its
 * relation files, pg_filenode.map and pg_xact: no server involved. Only a cleanly stopped server's directory.
 */
export function createSlotFromDataDir(options: DataDirSlotOptions): SlotState {
  const control = readControlFile(options.dataDir);
  // Only a clean stop leaves no transaction open at the checkpoint: decoding can start right there.
  if (control.state !== 1) {
    throw new WalSourceError('unclean-data-directory', `data directory "${options.dataDir}" was not shut down cleanly (pg_control state ${control.state}): start and stop its server first`, { file: options.dataDir });
  }
  const databaseOid = typeof options.database === 'number' ? options.database : databaseOidByName(options.dataDir, options.database);
  const snapshot = readCatalogSnapshotFromDataDir(options.dataDir, databaseOid);
  let timezone = 'GMT';
  try {
    const conf = fs.readFileSync(path.join(options.dataDir, 'postgresql.conf'), 'utf8');
    const m = /^\s*timezone\s*=\s*'([^']*)'/im.exec(conf);
    if (m !== null) timezone = m[1]!;
  } catch {
    // no postgresql.conf (e.g. kept elsewhere): GMT, the server's default
  }
  const catalog = { databaseOid, relations: [], types: [] };
  return {
    version: SLOT_STATE_VERSION,
    name: options.slotName,
    plugin: 'test_decoding',
    pluginOptions: {},
    systemIdentifier: control.systemIdentifier,
    databaseOid,
    database: typeof options.database === 'string' ? options.database : undefined,
    major: supportedMajor(snapshot.major),
    timeline: control.timeline,
    restartLsn: formatLsn(control.redo),
    confirmedFlush: formatLsn(control.checkPoint),
    // No server slot holds back catalog rows for it: nothing is removed before the first checkpoint after start.
    catalogXmin: 0,
    twoPhase: false,
    invalidation: null,
    catalogRef: { kind: 'embedded', asOf: formatLsn(control.checkPoint), crc32c: catalogChecksum(catalog) },
    catalogFilenodes: [],
    timezone,
    catalog,
    catalogPages: catalogSnapshotToJson(snapshot),
  };
}
