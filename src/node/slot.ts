// Creating a slot on a live server with its catalog as of the slot's consistent point, and keeping its state
// in a file written crash-safely (temp file, fsync, rename, fsync of the folder).
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import pg from 'pg';
import { WalSourceError } from '../errors.js';
import { formatLsn } from '../lsn.js';
import { crc32c } from '../xlogreader/crc32c.js';
import { parseSlotState, serializeSlotState, SLOT_STATE_VERSION, type SlotState } from '../slot/state.js';
import { loadCatalog } from './catalog.js';
import { databaseOidByName, readCatalogSnapshot, readCatalogSnapshotFromDataDir, readControlFile } from './catalog-snapshot.js';
import { catalogSnapshotToJson } from '../catalog/snapshot-json.js';

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

/**
 * CREATE_REPLICATION_SLOT … LOGICAL … (SNAPSHOT 'export') on a replication connection, then, in a transaction
 * that imports the exported snapshot, the catalog as of the slot's consistent point. A temporary slot lives
 * only as long as the connection: it is dropped when this returns.
 */
export async function createSlot(options: CreateSlotOptions): Promise<SlotState> {
  const base: pg.ClientConfig = typeof options.connection === 'string' ? { connectionString: options.connection } : options.connection;
  const repl = new pg.Client({ ...base, replication: 'database' } as pg.ClientConfig);
  const sql = new pg.Client(base);
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
    const catalogPages = historic ? catalogSnapshotToJson(await readCatalogSnapshot(sql)) : undefined;
    const info = (
      await sql.query(`select (select system_identifier::text from pg_control_system()) as sysid,
                              current_setting('server_version_num')::int / 10000 as major,
                              (select oid from pg_database where datname = current_database()) as dboid,
                              ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int as tli,
                              current_setting('TimeZone') as tz`)
    ).rows[0];
    const slot = (
      await sql.query(`select restart_lsn::text, confirmed_flush_lsn::text, catalog_xmin::text from pg_replication_slots where slot_name = $1`, [options.slotName])
    ).rows[0];
    await sql.query('commit');
    return {
      version: SLOT_STATE_VERSION,
      slotName: options.slotName,
      plugin,
      systemIdentifier: info.sysid,
      major: Number(info.major),
      databaseOid: Number(info.dboid),
      timeline: Number(info.tli),
      restartLsn: slot.restart_lsn,
      confirmedFlushLsn: slot.confirmed_flush_lsn,
      catalogXmin: slot.catalog_xmin,
      timezone: info.tz,
      // two_phase_at of a slot made with two_phase is its consistent point.
      ...(options.twoPhase ? { twoPhase: true, twoPhaseAt: slot.confirmed_flush_lsn } : {}),
      catalog: { databaseOid: Number(info.dboid), ...catalog },
      ...(catalogPages !== undefined ? { catalogPages } : {}),
    };
  } finally {
    await sql.end().catch(() => undefined);
    await repl.end().catch(() => undefined);
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
 * files: no server needed. Decoding the WAL written after the checkpoint (by a server started on that data
 * directory or a copy of it) prints what a slot created at that point prints.
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
  return {
    version: SLOT_STATE_VERSION,
    slotName: options.slotName,
    plugin: 'test_decoding',
    systemIdentifier: control.systemIdentifier,
    major: snapshot.major,
    databaseOid,
    timeline: control.timeline,
    restartLsn: formatLsn(control.redo),
    confirmedFlushLsn: formatLsn(control.checkPoint),
    catalogXmin: '0',
    timezone,
    catalog: { databaseOid, relations: [], types: [] },
    catalogPages: catalogSnapshotToJson(snapshot),
  };
}

/** Writes a file durably: temp file, fsync, rename, fsync of the folder. */
function writeDurably(file: string, data: Uint8Array): void {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  const dfd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}

/**
 * Writes the state so that a crash leaves either the old file or the new one, never a mix. The catalog's pages
 * (about a megabyte) go to a file of their own beside it, named by their checksum and written before the state
 * that names them (catalogPagesFile); older such files are removed once the new state is in place.
 */
export function writeSlotStateFile(file: string, state: SlotState): void {
  const dir = path.dirname(path.resolve(file));
  let out = state;
  if (state.catalogPages !== undefined) {
    const json = new TextEncoder().encode(JSON.stringify(state.catalogPages));
    const name = `${path.basename(file)}.catalog-${(crc32c(json) >>> 0).toString(16).padStart(8, '0')}.json.gz`;
    if (!fs.existsSync(path.join(dir, name))) writeDurably(path.join(dir, name), zlib.gzipSync(json));
    const { catalogPages: _pages, ...rest } = state;
    out = { ...rest, catalogPagesFile: name };
  } else if (state.catalogPagesFile !== undefined) {
    out = { ...state, catalogPagesFile: path.relative(dir, path.resolve(dir, state.catalogPagesFile)) };
  }
  writeDurably(file, serializeSlotState(out));
  const prefix = `${path.basename(file)}.catalog-`;
  for (const f of fs.readdirSync(dir)) {
    if (f.startsWith(prefix) && f.endsWith('.json.gz') && f !== out.catalogPagesFile) fs.rmSync(path.join(dir, f), { force: true });
  }
}

/**
 * Reads a state file. A `catalogPagesFile` is made absolute but not read (the pages are large and a consumer
 * confirming often needs only the LSNs): `readCatalogPages` reads them.
 */
export function readSlotStateFile(file: string): SlotState {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new WalSourceError('unreadable-file', `could not read slot state file "${file}": ${(e as Error).message}`, { file, cause: e });
  }
  const state = parseSlotState(bytes, file);
  if (state.catalogPagesFile !== undefined) state.catalogPagesFile = path.resolve(path.dirname(path.resolve(file)), state.catalogPagesFile);
  return state;
}

/** The historic catalog's pages of a state: inline, or from its catalogPagesFile (JSON, gzipped when .gz). */
export function readCatalogPages(state: SlotState): SlotState['catalogPages'] {
  if (state.catalogPages !== undefined || state.catalogPagesFile === undefined) return state.catalogPages;
  const pagesFile = state.catalogPagesFile;
  try {
    const raw = fs.readFileSync(pagesFile);
    return JSON.parse((pagesFile.endsWith('.gz') ? zlib.gunzipSync(raw) : raw).toString('utf8')) as SlotState['catalogPages'];
  } catch (e) {
    throw new WalSourceError('unreadable-file', `could not read the catalog pages "${pagesFile}" of slot "${state.slotName}": ${(e as Error).message}`, { file: pagesFile, cause: e });
  }
}
