// Starting snapshots for the historic catalog: the catalog relations' raw pages read from a live server
// (pageinspect's get_raw_page, inside a slot's exported snapshot) or from a data directory with no server.
import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { CATALOG_RELATIONS, PG_ATTRIBUTE, PG_CLASS, PG_TYPE, parseRelmapFile, type CatalogSnapshot } from '../catalog/historic.js';
import { CatalogError } from '../catalog/errors.js';
import { HEAP_XMAX_INVALID, HEAP_XMIN_FROZEN, LP_NORMAL, parsePage, tupInfomask, tupXmax, tupXmin } from '../catalog/page.js';
import { BOOTSTRAP_DATA } from '../catalog/bootstrap-data.js';
import { deformTuple } from '../reorderbuffer/tuple.js';
import type { Major } from '../xlogreader/profile.js';

const BLCKSZ = 8192;
const MAPPED = [PG_CLASS, PG_ATTRIBUTE, PG_TYPE];

/** The xids (neither bootstrap nor frozen) in the tuple headers of some pages. */
function xidsOf(pages: CatalogSnapshot['pages']): number[] {
  const xids = new Set<number>();
  for (const p of pages) {
    for (const it of parsePage(p.page, 0).items) {
      if (it.flags !== LP_NORMAL || it.tuple === undefined) continue;
      const im = tupInfomask(it.tuple);
      if ((im & HEAP_XMIN_FROZEN) !== HEAP_XMIN_FROZEN && tupXmin(it.tuple) >= 3) xids.add(tupXmin(it.tuple));
      if (!(im & HEAP_XMAX_INVALID) && tupXmax(it.tuple) >= 3) xids.add(tupXmax(it.tuple));
    }
  }
  return [...xids];
}

/**
 * The catalog pages as the server holds them, read in the caller's transaction (one that imported a slot's
 * exported snapshot), with the xids committed as of that snapshot. Needs pageinspect in the database and a
 * superuser (get_raw_page); pages may be newer than the snapshot — redo skips what they already hold.
 */
export async function readCatalogSnapshot(c: pg.Client): Promise<CatalogSnapshot> {
  const info = (
    await c.query(`select current_setting('server_version_num')::int / 10000 as major, (select oid from pg_database where datname = current_database()) as dboid`)
  ).rows[0];
  const major = Number(info.major) as Major;
  const rels = await c.query(
    `select c.oid::int, c.relname, pg_relation_filenode(c.oid)::int8 as fn, pg_relation_size(c.oid)::int8 / ${BLCKSZ} as blocks
     from pg_class c where c.oid = any($1::oid[])`,
    [Object.keys(CATALOG_RELATIONS).map(Number)],
  );
  const pages: CatalogSnapshot['pages'] = [];
  const relmap: Record<number, number> = {};
  const filenodes: Record<number, number> = {};
  const nblocks: Record<number, number> = {};
  for (const r of rels.rows) {
    const fn = Number(r.fn);
    filenodes[r.oid] = fn;
    nblocks[fn] = Number(r.blocks);
    if (MAPPED.includes(r.oid)) relmap[r.oid] = fn;
    const res = await c.query(`select b, get_raw_page($1, 'main', b) as page from generate_series(0, $2::int8 - 1) b`, [`pg_catalog.${r.relname}`, r.blocks]);
    for (const row of res.rows) pages.push({ relfilenode: fn, block: Number(row.b), page: new Uint8Array(row.page as Buffer) });
  }
  // Committed as of the snapshot: committed now and visible to the snapshot. pg_xact_status is NULL for
  // xids whose status was truncated: those are older than every remaining unfrozen aborted row, so committed.
  const xids = xidsOf(pages);
  const st = await c.query(
    `with s as (select pg_snapshot_xmax(pg_current_snapshot())::text::int8 as xmax8),
          x as (select x, case when x <= (xmax8 & 4294967295) then ((xmax8 >> 32) << 32) | x else (((xmax8 >> 32) - 1) << 32) | x end as f8
                from unnest($1::int8[]) x, s)
     select x, coalesce(pg_xact_status(f8::text::xid8) = 'committed', true)
               and pg_visible_in_snapshot(f8::text::xid8, pg_current_snapshot()) as ok from x`,
    [xids],
  );
  const committedXids = st.rows.filter((r) => r.ok).map((r) => Number(r.x));
  return { major, databaseOid: Number(info.dboid), relmap, filenodes, nblocks, pages, committedXids };
}

/** Creates pageinspect in the connected database when it is not there (readCatalogSnapshot needs it). */
export async function ensurePageinspect(c: pg.Client): Promise<void> {
  await c.query('create extension if not exists pageinspect');
}

// --------------------------------------------------------------------------------------------------
// Data directory

const CLOG_XACTS_PER_SEGMENT = 32 * BLCKSZ * 4;

/** Transaction status from pg_xact: 1 committed, 2 aborted, 3 sub-committed, 0 in progress / unknown. */
// see TransactionIdGetStatus (clog.c)
export function clogStatus(dataDir: string, xid: number, cache = new Map<number, Uint8Array | null>()): number {
  const seg = Math.floor(xid / CLOG_XACTS_PER_SEGMENT);
  let bytes = cache.get(seg);
  if (bytes === undefined) {
    const file = path.join(dataDir, 'pg_xact', seg.toString(16).toUpperCase().padStart(4, '0'));
    bytes = fs.existsSync(file) ? new Uint8Array(fs.readFileSync(file)) : null;
    cache.set(seg, bytes);
  }
  if (bytes === null) return 0;
  const i = xid % CLOG_XACTS_PER_SEGMENT;
  const b = bytes[i >> 2];
  return b === undefined ? 0 : (b >> ((i & 3) * 2)) & 3;
}

function readRelationPages(dataDir: string, databaseOid: number, relfilenode: number, pages: CatalogSnapshot['pages'], nblocks: Record<number, number>): void {
  const base = path.join(dataDir, 'base', String(databaseOid), String(relfilenode));
  if (!fs.existsSync(base)) throw new CatalogError('catalog-page-missing', `catalog relation file ${base} does not exist`, { file: base });
  const blocksPerSegment = (1 << 30) / BLCKSZ;
  for (let segno = 0; ; segno++) {
    const file = segno === 0 ? base : `${base}.${segno}`;
    if (!fs.existsSync(file)) break;
    const data = new Uint8Array(fs.readFileSync(file));
    for (let off = 0; off + BLCKSZ <= data.length; off += BLCKSZ) {
      pages.push({ relfilenode, block: segno * blocksPerSegment + off / BLCKSZ, page: data.slice(off, off + BLCKSZ) });
    }
    nblocks[relfilenode] = segno * blocksPerSegment + Math.floor(data.length / BLCKSZ);
  }
}

/**
 * The catalog of one database read from a data directory (a base backup, or a cold copy of a stopped server's
 * data directory): relation files, base/<db>/pg_filenode.map and pg_xact. No server is needed.
 */
export function readCatalogSnapshotFromDataDir(dataDir: string, databaseOid: number): CatalogSnapshot {
  const major = Number(fs.readFileSync(path.join(dataDir, 'PG_VERSION'), 'utf8').trim()) as Major;
  const data = BOOTSTRAP_DATA[major];
  if (data === undefined) throw new CatalogError('unsupported-version', `data directory ${dataDir} is of PostgreSQL ${major}, not 15–18`, { file: dataDir });
  const mapFile = path.join(dataDir, 'base', String(databaseOid), 'pg_filenode.map');
  const map = parseRelmapFile(new Uint8Array(fs.readFileSync(mapFile)));
  const relmap: Record<number, number> = {};
  for (const oid of MAPPED) {
    const fn = map.get(oid);
    if (fn === undefined) throw new CatalogError('invalid-relmap', `${mapFile} has no entry for ${CATALOG_RELATIONS[oid]}`, { file: mapFile });
    relmap[oid] = fn;
  }
  const pages: CatalogSnapshot['pages'] = [];
  const filenodes: Record<number, number> = { ...relmap };
  const nblocks: Record<number, number> = {};
  for (const oid of MAPPED) readRelationPages(dataDir, databaseOid, relmap[oid]!, pages, nblocks);
  const clog = new Map<number, Uint8Array | null>();
  const committed = (xid: number): boolean => xid < 3 || clogStatus(dataDir, xid, clog) === 1;
  // The other catalogs' relfilenodes: from their live pg_class rows.
  const cls = data.catalogs['pg_class']!;
  const attrs = cls.attributes.map(([name, typeOid, len, align, byval], i) => ({ attnum: i + 1, name, typeOid, len, align, byval, dropped: false }));
  const fnCol = attrs.findIndex((a) => a.name === 'relfilenode');
  for (const p of pages.filter((x) => x.relfilenode === relmap[PG_CLASS])) {
    for (const it of parsePage(p.page, 0).items) {
      if (it.flags !== LP_NORMAL || it.tuple === undefined) continue;
      const t = it.tuple;
      const im = tupInfomask(t);
      const xminOk = (im & HEAP_XMIN_FROZEN) === HEAP_XMIN_FROZEN || committed(tupXmin(t));
      const deleted = !(im & HEAP_XMAX_INVALID) && tupXmax(t) !== 0 && !(im & 0x0080) && committed(tupXmax(t));
      if (!xminOk || deleted) continue;
      const row = deformTuple(t.subarray(23), t[18]! | (t[19]! << 8), im, t[22]!, attrs);
      const v = row[0];
      const oid = v?.kind === 'bytes' ? new DataView(v.bytes.buffer, v.bytes.byteOffset).getUint32(0, true) : 0;
      if (CATALOG_RELATIONS[oid] === undefined || MAPPED.includes(oid)) continue;
      const f = row[fnCol];
      if (f?.kind !== 'bytes') continue;
      filenodes[oid] = new DataView(f.bytes.buffer, f.bytes.byteOffset).getUint32(0, true);
      readRelationPages(dataDir, databaseOid, filenodes[oid]!, pages, nblocks);
    }
  }
  const committedXids = xidsOf(pages).filter(committed);
  return { major, databaseOid, relmap, filenodes, nblocks, pages, committedXids };
}

/** What pgwal needs of global/pg_control. */
export interface ControlFile {
  systemIdentifier: string;
  /** DBState: 1 = shut down (a clean stop), 2 = shut down in recovery. */
  state: number;
  /** The last checkpoint record, its redo pointer and timeline. */
  checkPoint: number;
  redo: number;
  timeline: number;
}

// see ControlFileData and CheckPoint (pg_control.h): the same leading fields in 15-18
export function readControlFile(dataDir: string): ControlFile {
  const file = path.join(dataDir, 'global', 'pg_control');
  const b = fs.readFileSync(file);
  if (b.length < 56) throw new CatalogError('invalid-control-file', `${file} is too short (${b.length} bytes)`, { file });
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const u64 = (o: number): number => v.getUint32(o + 4, true) * 0x1_0000_0000 + v.getUint32(o, true);
  return {
    systemIdentifier: ((BigInt(v.getUint32(4, true)) << 32n) | BigInt(v.getUint32(0, true))).toString(),
    state: v.getUint32(16, true),
    checkPoint: u64(32),
    redo: u64(40),
    timeline: v.getUint32(48, true),
  };
}

/** A database's OID by name, from the shared catalog pg_database in the data directory (global/). */
export function databaseOidByName(dataDir: string, name: string): number {
  const major = Number(fs.readFileSync(path.join(dataDir, 'PG_VERSION'), 'utf8').trim()) as Major;
  const desc = BOOTSTRAP_DATA[major]?.catalogs['pg_database'];
  if (desc === undefined) throw new CatalogError('unsupported-version', `no pg_database descriptor for PostgreSQL ${major}`, { file: dataDir });
  const map = parseRelmapFile(new Uint8Array(fs.readFileSync(path.join(dataDir, 'global', 'pg_filenode.map'))));
  const fn = map.get(desc.oid);
  if (fn === undefined) throw new CatalogError('invalid-relmap', `global/pg_filenode.map has no entry for pg_database`, { file: dataDir });
  const attrs = desc.attributes.map(([n, typeOid, len, align, byval], i) => ({ attnum: i + 1, name: n, typeOid, len, align, byval, dropped: false }));
  const nameCol = attrs.findIndex((a) => a.name === 'datname');
  const data = new Uint8Array(fs.readFileSync(path.join(dataDir, 'global', String(fn))));
  const clog = new Map<number, Uint8Array | null>();
  const committed = (xid: number): boolean => xid < 3 || clogStatus(dataDir, xid, clog) === 1;
  for (let off = 0; off + BLCKSZ <= data.length; off += BLCKSZ) {
    for (const it of parsePage(data.subarray(off, off + BLCKSZ), 0).items) {
      if (it.flags !== LP_NORMAL || it.tuple === undefined) continue;
      const t = it.tuple;
      const im = tupInfomask(t);
      if (!((im & HEAP_XMIN_FROZEN) === HEAP_XMIN_FROZEN || committed(tupXmin(t)))) continue;
      if (!(im & HEAP_XMAX_INVALID) && tupXmax(t) !== 0 && !(im & 0x0080) && committed(tupXmax(t))) continue;
      const row = deformTuple(t.subarray(23), t[18]! | (t[19]! << 8), im, t[22]!, attrs);
      const n = row[nameCol];
      if (n?.kind === 'bytes' && new TextDecoder().decode(n.bytes.subarray(0, n.bytes.indexOf(0) < 0 ? n.bytes.length : n.bytes.indexOf(0))) === name) {
        const o = row[0]!;
        if (o.kind === 'bytes') return new DataView(o.bytes.buffer, o.bytes.byteOffset).getUint32(0, true);
      }
    }
  }
  throw new CatalogError('unknown-database', `database "${name}" does not exist in ${dataDir}`, { file: dataDir });
}
