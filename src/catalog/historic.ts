// The historic catalog: pg_class, pg_attribute, pg_type, pg_namespace, pg_enum and pg_range kept as pages from a
// starting snapshot and the WAL's redo, read with a historic snapshot of the transactions the WAL commits.
//
//   starting snapshot (pages, relmap, committed xids) ──▶ CatalogPages ◀── heap redo, images, relmap updates
//   commit / abort records ──▶ transaction status ─┐
//   lookup at {lsn, xid} ──▶ visible rows of the catalog pages ──▶ DecoderRelation / TypeInfo (cached per epoch)
import type { SchemaChange } from '../reorderbuffer/catalog.js';
import { formatLsn, type Lsn } from '../lsn.js';
import type { DecodedRecord } from '../xlogreader/record.js';
import type { Major } from '../xlogreader/profile.js';
import { parseAbort, parseCommit, parseXactAssignment } from '../xlogreader/rmgrdesc/xact.js';
import { parseRelmapUpdate } from '../xlogreader/rmgrdesc/relmap.js';
import type { CatalogPoint, CatalogView, DecoderCatalog, DecoderRelation, PublicationInfo } from '../reorderbuffer/catalog.js';
import { deformTuple, type Attribute, type RawValue } from '../reorderbuffer/tuple.js';
import { outputValue, type TypeInfo } from '../reorderbuffer/values.js';
import { quoteIdentifier } from '../reorderbuffer/testdecoding.js';
import { BOOTSTRAP_DATA } from './bootstrap-data.js';
import { CatalogError } from './errors.js';
import {
  HEAP_XMAX_INVALID,
  HEAP_XMAX_IS_MULTI,
  HEAP_XMAX_LOCK_ONLY,
  HEAP_XMIN_FROZEN,
  HEAP_XMIN_INVALID,
  LP_NORMAL,
  pageToRaw,
  parsePage,
  rawPageLsn,
  SIZEOF_HEAP_TUPLE_HEADER,
  tupHoff,
  tupInfomask,
  tupInfomask2,
  tupXmax,
  tupXmin,
  type Item,
} from './page.js';
import { CatalogPages } from './redo.js';

/** What the historic catalog starts from: the catalog relations' pages as of one point, and who had committed. */
export interface CatalogSnapshot {
  major: Major;
  databaseOid: number;
  /** The database's relation mapper (base/<db>/pg_filenode.map): catalog OID → relfilenode. */
  relmap: Record<number, number>;
  /** Every kept catalog's relfilenode (CATALOG_RELATIONS) as of the snapshot, empty ones included. */
  filenodes: Record<number, number>;
  /** 8 kB pages of the catalog relations, as on disk or in shared buffers. */
  pages: { relfilenode: number; block: number; page: Uint8Array }[];
  /** Column defaults' text by pg_attrdef row OID (what an exported snapshot carries of its `defaults`). */
  defaults?: Record<number, string>;
  /** Each relation's size in blocks (relfilenode → count), when known: a page missing below it is an error. */
  nblocks?: Record<number, number>;
  /** The transactions that had committed as of the snapshot, of those whose xids appear in the pages. */
  committedXids: number[];
}

/**
 * A schema change of a table, reported at the commit of the transaction that made it: `created` / `dropped`
 * (with the column list it had), `renamed` (a new name or schema) and `altered` (columns, replica identity).
 * One shape with what the decoder hands to output plugins.
 */
export type DdlEvent = SchemaChange;
/** A column as a DDL event reports it. */
export type DdlColumn = NonNullable<SchemaChange['newColumns']>[number];

export const PG_TYPE = 1247;
export const PG_ATTRIBUTE = 1249;
export const PG_CLASS = 1259;
export const PG_NAMESPACE = 2615;
export const PG_ENUM = 3501;
export const PG_RANGE = 3541;
export const PG_INDEX = 2610;
export const PG_ATTRDEF = 2604;
export const PG_PUBLICATION = 6104;
export const PG_PUBLICATION_REL = 6106;
export const PG_PUBLICATION_NAMESPACE = 6237;
export const PG_INHERITS = 2611;
/** The publication catalogs: a snapshot made before pgwal kept them has none of the three. */
export const PUBLICATION_CATALOGS = [PG_PUBLICATION, PG_PUBLICATION_REL, PG_PUBLICATION_NAMESPACE];
/** The catalogs the historic catalog keeps, by OID. */
export const CATALOG_RELATIONS: Record<number, string> = {
  [PG_TYPE]: 'pg_type',
  [PG_ATTRIBUTE]: 'pg_attribute',
  [PG_CLASS]: 'pg_class',
  [PG_NAMESPACE]: 'pg_namespace',
  [PG_ENUM]: 'pg_enum',
  [PG_RANGE]: 'pg_range',
  [PG_INDEX]: 'pg_index',
  [PG_ATTRDEF]: 'pg_attrdef',
  [PG_PUBLICATION]: 'pg_publication',
  [PG_PUBLICATION_REL]: 'pg_publication_rel',
  [PG_PUBLICATION_NAMESPACE]: 'pg_publication_namespace',
  [PG_INHERITS]: 'pg_inherits',
};
const MAPPED = new Set([PG_TYPE, PG_ATTRIBUTE, PG_CLASS]);
const FIRST_NORMAL_OBJECT_ID = 16384;
const FIRST_UNPINNED_OBJECT_ID = 12000;
const PG_CATALOG_NAMESPACE = 11;

const RM_XACT_ID = 1;
const RM_RELMAP_ID = 7;
const RELMAP_MAGIC = 0x592717;

/** A catalog row: its values by column name. */
export type CatalogRow = Map<string, RawValue>;

interface Descriptor {
  attrs: Attribute[];
  index: Map<string, number>;
}

const textDecoder = new TextDecoder();
const u32 = (b: Uint8Array): number => (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;

export function rowText(v: RawValue | undefined): string {
  if (v?.kind !== 'bytes') return '';
  const b = v.bytes;
  const z = b.indexOf(0);
  return textDecoder.decode(z < 0 ? b : b.subarray(0, z));
}
export const rowOid = (v: RawValue | undefined): number => (v?.kind === 'bytes' ? u32(v.bytes) : 0);
export const rowInt2 = (v: RawValue | undefined): number => (v?.kind === 'bytes' ? ((v.bytes[0]! | (v.bytes[1]! << 8)) << 16) >> 16 : 0);
export const rowInt4 = (v: RawValue | undefined): number => rowOid(v) | 0;
export const rowBool = (v: RawValue | undefined): boolean => v?.kind === 'bytes' && v.bytes[0] !== 0;
export const rowChar = (v: RawValue | undefined): string => (v?.kind === 'bytes' ? String.fromCharCode(v.bytes[0]!) : '');

/** anyarray, for printing attmissingval with array_out. */
const ANYARRAY: TypeInfo = { oid: 2277, name: 'anyarray', output: 'array_out', len: -1, align: 'd', byval: false, elem: 0 };

/** A cached catalog answer and the point it holds for (HistoricCatalog.cached). */
interface CacheEntry {
  epoch: number;
  own: number;
  ownEpoch: number;
  value: unknown;
}

/** Whether any of `xids` is in `set` (a loop, not a closure: this runs for every commit). */
function anyIn(set: ReadonlySet<number>, xids: readonly number[]): boolean {
  for (const x of xids) if (set.has(x)) return true;
  return false;
}

export class HistoricCatalog implements CatalogView {
  readonly databaseOid: number;
  readonly major: Major;
  readonly pages: CatalogPages;
  private readonly descriptors = new Map<number, Descriptor>();
  /** The relation mapper as it changed: [lsn, map] in WAL order, the first from the snapshot. */
  private readonly relmaps: { lsn: Lsn; map: Map<number, number> }[] = [];
  private readonly committedAtStart: Set<number>;
  /** subxact → top-level xid. */
  private readonly topOf = new Map<number, number>();
  private readonly commitLsn = new Map<number, Lsn>();
  /** Xids on the starting pages that had not committed at the start: their commits matter even if they write no more. */
  private readonly startPending = new Set<number>();
  private readonly abortLsn = new Map<number, Lsn>();
  /** Top-level xids that wrote catalog rows. */
  private readonly writers = new Set<number>();
  /** LSNs at which what others see of the catalog may change: commits of writers, relmap updates. */
  private readonly events: Lsn[] = [];
  // Answers by kind and number (no string key per lookup: a type is looked up for every printed column).
  private readonly namespaceCache = new Map<number, CacheEntry>();
  private readonly relationCache = new Map<number, CacheEntry>();
  private readonly filenodeCache = new Map<number, CacheEntry>();
  private readonly typeCache = new Map<number, CacheEntry>();
  /** Per writer: relations whose pg_class / pg_attribute rows it wrote (only with an onDdl listener). */
  private readonly touched = new Map<number, Set<number>>();
  /** Told of each table's schema change at the commit that makes it (DDL events), in WAL order. */
  onDdl: ((event: DdlEvent) => void) | undefined;
  /** Per writer: the LSNs of its own catalog writes and subtransaction aborts. */
  private readonly ownEvents = new Map<number, Lsn[]>();
  private lastLsn: Lsn = 0;
  private readonly hasAttrdefs: boolean;
  /** pg_attrdef row OID → the default's text (pg_get_expr), from the catalog read at the snapshot. */
  private readonly defaultText = new Map<number, string>();
  /** Whether the snapshot holds pg_index (older snapshots do not): primary and replica identity keys are known. */
  private readonly hasIndexes: boolean;
  /** Whether the snapshot holds the publication catalogs (older snapshots do not): publications follow the WAL. */
  readonly hasPublications: boolean;
  /** Row filters' text (pg_get_expr) by publication, table and stored node tree, from the catalog read at the snapshot. */
  private readonly rowFilterText = new Map<string, string>();
  private readonly publicationCache = new Map<number, CacheEntry>();
  /** Whether the snapshot holds pg_inherits (older snapshots do not): partitions' ancestors follow the WAL. */
  readonly hasInherits: boolean;
  private readonly ancestorCache = new Map<number, CacheEntry>();

  /**
   * `options.defaults`: the catalog loadCatalog read at the snapshot's point (a state file's `catalog`), for the
   * column defaults' text (pg_get_expr's deparse, which pages cannot give): used while the pg_attrdef row it
   * came from is still the visible one; a default set later is unknown (undefined).
   */
  constructor(snapshot: CatalogSnapshot, options: { defaults?: DecoderCatalog } = {}) {
    this.databaseOid = snapshot.databaseOid;
    this.major = snapshot.major;
    const data = BOOTSTRAP_DATA[snapshot.major];
    if (data === undefined) throw new CatalogError('unsupported-version', `no catalog descriptors for PostgreSQL ${snapshot.major}`);
    for (const [name, c] of Object.entries(data.catalogs)) {
      const attrs: Attribute[] = c.attributes.map(([n, typeOid, len, align, byval], i) => ({ attnum: i + 1, name: n, typeOid, len, align, byval, dropped: false }));
      this.descriptors.set(c.oid, { attrs, index: new Map(attrs.map((a, i) => [a.name, i])) });
      void name;
    }
    this.hasIndexes = snapshot.filenodes[PG_INDEX] !== undefined;
    this.hasPublications = PUBLICATION_CATALOGS.every((oid) => snapshot.filenodes[oid] !== undefined);
    this.hasInherits = snapshot.filenodes[PG_INHERITS] !== undefined;
    this.committedAtStart = new Set(snapshot.committedXids);
    for (const p of snapshot.pages) {
      for (const it of parsePage(p.page, 0).items) {
        if (it.tuple === undefined) continue;
        for (const x of [tupXmin(it.tuple), tupXmax(it.tuple)]) if (x >= 3 && !this.committedAtStart.has(x)) this.startPending.add(x);
      }
    }
    this.pages = new CatalogPages(snapshot.databaseOid, snapshot.major);
    const map = new Map<number, number>();
    for (const [oid, fn] of Object.entries(snapshot.relmap)) map.set(Number(oid), fn);
    this.relmaps.push({ lsn: 0, map });
    for (const oid of MAPPED) {
      const fn = map.get(oid);
      if (fn !== undefined) this.pages.track(fn);
    }
    for (const fn of Object.values(snapshot.filenodes)) this.pages.track(fn);
    for (const p of snapshot.pages) {
      this.pages.track(p.relfilenode);
      this.pages.setPage(p.relfilenode, p.block, parsePage(p.page, rawPageLsn(p.page)));
    }
    // Every block below the relation's size must be there: a gap is rows nobody can know.
    for (const fn of new Set([...Object.values(snapshot.filenodes), ...snapshot.pages.map((p) => p.relfilenode)])) {
      const have = this.pages.pages.get(fn)!;
      const n = snapshot.nblocks?.[fn] ?? (have.size === 0 ? 0 : Math.max(...have.keys()) + 1);
      for (let b = 0; b < n; b++) {
        if (!have.has(b)) {
          this.pages.missing.set(fn, { block: b, lsn: 0 });
          break;
        }
      }
    }
    this.pages.onTupleWrite = (relfilenode, xid, tuple, lsn) => this.tupleWritten(relfilenode, xid, tuple, lsn);
    this.hasAttrdefs = snapshot.filenodes[PG_ATTRDEF] !== undefined;
    if (this.hasPublications && options.defaults?.publications !== undefined) {
      // The row filters visible at the snapshot, paired with the text loadCatalog read for them then.
      const start: CatalogPoint = { lsn: 1, xid: 0 };
      for (const r of this.rows(PG_PUBLICATION_REL, start)) {
        const [pubid, relid, qual] = [rowOid(r[this.col(PG_PUBLICATION_REL, 'prpubid')]), rowOid(r[this.col(PG_PUBLICATION_REL, 'prrelid')]), r[this.col(PG_PUBLICATION_REL, 'prqual')]];
        if (qual?.kind !== 'bytes') continue;
        const text = options.defaults.publications.find((p) => p.oid === pubid)?.tables.find((t) => t.relid === relid)?.rowFilter;
        if (typeof text === 'string') this.rowFilterText.set(`${pubid}:${relid}:${rowText(qual)}`, text);
      }
    }
    if (snapshot.defaults !== undefined) {
      for (const [oid, text] of Object.entries(snapshot.defaults)) this.defaultText.set(Number(oid), text);
    } else if (this.hasAttrdefs && options.defaults !== undefined) {
      // The pg_attrdef rows visible at the snapshot, paired with the text loadCatalog read for them then.
      const start: CatalogPoint = { lsn: 1, xid: 0 };
      const byColumn = new Map<string, number>();
      for (const r of this.rows(PG_ATTRDEF, start)) byColumn.set(`${rowOid(r[this.col(PG_ATTRDEF, 'adrelid')])}:${rowInt2(r[this.col(PG_ATTRDEF, 'adnum')])}`, rowOid(r[0]));
      for (const rel of options.defaults.relations) {
        for (const a of rel.attributes) {
          const ad = byColumn.get(`${rel.oid}:${a.attnum}`);
          if (ad !== undefined && typeof a.defaultExpr === 'string') this.defaultText.set(ad, a.defaultExpr);
        }
      }
    }
  }

  /** The catalog kept: in the snapshot's filenodes (pg_index, pg_attrdef and the publication catalogs may not be). */
  private keeps(oid: number): boolean {
    if (oid === PG_INDEX) return this.hasIndexes;
    if (oid === PG_ATTRDEF) return this.hasAttrdefs;
    if (PUBLICATION_CATALOGS.includes(oid)) return this.hasPublications;
    if (oid === PG_INHERITS) return this.hasInherits;
    return true;
  }

  private tupleWritten(_relfilenode: number, xid: number, tuple: Uint8Array, lsn: Lsn): void {
    if (xid !== 0) {
      const top = this.topOf.get(xid) ?? xid;
      this.writers.add(top);
      this.ownEvent(top, lsn);
      // The relations whose pg_class or pg_attribute rows it wrote: candidates for DDL events at its commit.
      if (this.onDdl !== undefined && (_relfilenode === this.currentFilenode(PG_CLASS) || _relfilenode === this.currentFilenode(PG_ATTRIBUTE))) {
        const h = tupHoff(tuple);
        const oid = (tuple[h]! | (tuple[h + 1]! << 8) | (tuple[h + 2]! << 16) | (tuple[h + 3]! << 24)) >>> 0;
        let set = this.touched.get(top);
        if (set === undefined) this.touched.set(top, (set = new Set()));
        set.add(oid);
      }
    }
    // A pg_class row of a kept catalog names its (new) relfilenode: keep that too.
    if (_relfilenode === this.currentFilenode(PG_CLASS)) {
      const row = this.deform(PG_CLASS, tuple);
      const oid = rowOid(row[0]);
      if (CATALOG_RELATIONS[oid] !== undefined) {
        const fn = rowOid(row[this.descriptors.get(PG_CLASS)!.index.get('relfilenode')!]);
        if (fn !== 0) this.pages.track(fn);
      }
    }
  }

  private currentFilenode(catalogOid: number): number | undefined {
    return this.relmaps[this.relmaps.length - 1]!.map.get(catalogOid);
  }

  process(rec: DecodedRecord): void {
    this.lastLsn = rec.lsn;
    if (rec.toplevelXid !== 0 && rec.xid !== 0) this.topOf.set(rec.xid, rec.toplevelXid);
    this.pages.apply(rec);
    if (rec.rmid === RM_XACT_ID) this.xact(rec);
    else if (rec.rmid === RM_RELMAP_ID) this.relmap(rec);
  }

  private xact(rec: DecodedRecord): void {
    const op = rec.info & 0x70;
    if (op === 0x00 || op === 0x30) {
      const c = parseCommit(rec, this.major);
      const xid = c.twophaseXid !== 0 ? c.twophaseXid : rec.xid;
      let wrote = this.writers.has(xid);
      for (const s of c.subxacts) if (this.writers.has(s)) wrote = true;
      // Only xids on catalog pages need a commit LSN: the writers', and those the starting pages hold. The
      // others are forgotten, so that memory follows the DDL, not the number of transactions.
      if (wrote || (this.startPending.size > 0 && (this.startPending.has(xid) || anyIn(this.startPending, c.subxacts)))) {
        this.commitLsn.set(xid, rec.lsn);
        this.startPending.delete(xid);
        for (const s of c.subxacts) {
          this.topOf.set(s, xid);
          this.commitLsn.set(s, rec.lsn);
          this.startPending.delete(s);
        }
      } else {
        for (const s of c.subxacts) this.topOf.delete(s);
      }
      if (wrote) {
        this.writers.add(xid);
        this.event(rec.lsn);
        if (this.onDdl !== undefined) this.ddlAt(rec.lsn, xid, c.subxacts);
      }
      this.touched.delete(xid);
      for (const s of c.subxacts) this.touched.delete(s);
      this.pages.endTransaction(xid, c.subxacts);
    } else if (op === 0x20 || op === 0x40) {
      const a = parseAbort(rec, this.major);
      const xid = a.twophaseXid !== 0 ? a.twophaseXid : rec.xid;
      const top = this.topOf.get(xid) ?? xid;
      if (this.writers.has(top) || this.startPending.has(xid)) {
        this.abortLsn.set(xid, rec.lsn);
        for (const s of a.subxacts) this.abortLsn.set(s, rec.lsn);
      } else if (top === xid) {
        for (const s of a.subxacts) this.topOf.delete(s);
      } else {
        this.topOf.delete(xid);
        for (const s of a.subxacts) this.topOf.delete(s);
      }
      this.startPending.delete(xid);
      if (this.topOf.get(xid) === undefined) this.touched.delete(xid);
      this.pages.endTransaction(xid, a.subxacts);
      // A subtransaction rolled back: what its top-level transaction sees of its own changes changes.
      if (top !== xid && this.writers.has(top)) this.ownEvent(top, rec.lsn);
    } else if (op === 0x50) {
      const a = parseXactAssignment(rec);
      for (const s of a.subxacts) this.topOf.set(s, a.xtop);
    }
  }

  // see relmap_redo (relmapper.c): the record carries the whole new map file
  private relmap(rec: DecodedRecord): void {
    const u = parseRelmapUpdate(rec);
    if (u.dbId !== this.databaseOid) return;
    const map = parseRelmapFile(rec.bytes.subarray(u.dataOffset, u.dataOffset + u.nbytes), rec.lsn);
    this.relmaps.push({ lsn: rec.lsn, map });
    for (const oid of MAPPED) {
      const fn = map.get(oid);
      if (fn !== undefined) this.pages.track(fn);
    }
    this.event(rec.lsn);
  }

  private event(lsn: Lsn): void {
    this.events.push(lsn);
  }

  private ownEvent(top: number, lsn: Lsn): void {
    let list = this.ownEvents.get(top);
    if (list === undefined) this.ownEvents.set(top, (list = []));
    list.push(lsn);
  }

  /** The events before `lsn` (countBefore of `events`), with the LSN range the last answer holds for. */
  private epochAt(lsn: Lsn): number {
    const events = this.events;
    // Most calls come for LSNs between the same two events (every change of every transaction, between DDLs).
    if (events.length === this.epochEvents && lsn > this.epochAfter && lsn <= this.epochUpTo) return this.epoch;
    const e = HistoricCatalog.countBefore(events, lsn);
    this.epochEvents = events.length;
    this.epochAfter = e === 0 ? -Infinity : events[e - 1]!;
    this.epochUpTo = e === events.length ? Infinity : events[e]!;
    this.epoch = e;
    return e;
  }

  private epoch = 0;
  /** epochAt's last answer holds for LSNs in (epochAfter, epochUpTo] while `events` has epochEvents entries. */
  private epochEvents = -1;
  private epochAfter = 0;
  private epochUpTo = 0;

  /** How many entries of a sorted list lie before `lsn`. */
  private static countBefore(list: readonly Lsn[], lsn: Lsn): number {
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]! < lsn) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * An answer depends on the commits before `at.lsn` (the epoch) and, for a transaction that changes the catalog,
   * on its own changes logged before `at.lsn`: cached per (epoch, own epoch).
   */
  private cached<T>(cache: Map<number, CacheEntry>, key: number, at: CatalogPoint, compute: (key: number, at: CatalogPoint) => T): T {
    const epoch = this.epochAt(at.lsn);
    const own = this.writers.size !== 0 && this.writers.has(at.xid) ? at.xid : 0;
    const ownEpoch = own === 0 ? 0 : HistoricCatalog.countBefore(this.ownEvents.get(own) ?? [], at.lsn);
    const hit = cache.get(key);
    if (hit !== undefined && hit.epoch === epoch && hit.own === own && hit.ownEpoch === ownEpoch) return hit.value as T;
    const value = compute(key, at);
    cache.set(key, { epoch, own, ownEpoch, value });
    return value;
  }

  /** Compares the touched tables just before and just after a commit: the DDL events it makes. */
  private ddlAt(lsn: Lsn, xid: number, subxacts: readonly number[]): void {
    const oids = new Set<number>(this.touched.get(xid) ?? []);
    for (const s of subxacts) for (const o of this.touched.get(s) ?? []) oids.add(o);
    const before: CatalogPoint = { lsn, xid: 0 };
    const after: CatalogPoint = { lsn: lsn + 1, xid: 0 };
    const table = (r: DecoderRelation | undefined): DecoderRelation | undefined => (r !== undefined && (r.kind === 'r' || r.kind === 'p') && r.namespace !== 'pg_toast' ? r : undefined);
    for (const oid of [...oids].sort((a, b) => a - b)) {
      const old = table(this.relationByOid(oid, before));
      const now = table(this.relationByOid(oid, after));
      if (old === undefined && now === undefined) continue;
      const oldColumns = old && this.ddlColumns(old, before);
      const newColumns = now && this.ddlColumns(now, after);
      const base = { lsn, xid, oid };
      if (old === undefined) {
        this.onDdl!({ kind: 'created', ...base, namespace: now!.namespace, name: now!.name, newColumns });
      } else if (now === undefined) {
        this.onDdl!({ kind: 'dropped', ...base, namespace: old.namespace, name: old.name, oldColumns });
      } else {
        if (old.name !== now.name || old.namespace !== now.namespace) {
          this.onDdl!({ kind: 'renamed', ...base, namespace: now.namespace, name: now.name, oldNamespace: old.namespace, oldName: old.name });
        }
        const changes: ('columns' | 'replica-identity')[] = [];
        if (JSON.stringify(oldColumns) !== JSON.stringify(newColumns)) changes.push('columns');
        if (old.replIdent !== now.replIdent) changes.push('replica-identity');
        if (changes.length > 0) {
          this.onDdl!({ kind: 'altered', ...base, namespace: now.namespace, name: now.name, changes, oldColumns, newColumns, oldReplIdent: old.replIdent, newReplIdent: now.replIdent });
        }
      }
    }
  }

  private ddlColumns(r: DecoderRelation, at: CatalogPoint): DdlColumn[] {
    return r.attributes.filter((a) => !a.dropped).map((a) => ({ attnum: a.attnum, name: a.name, typeOid: a.typeOid, type: this.type(a.typeOid, at)?.name ?? String(a.typeOid) }));
  }

  // -----------------------------------------------------------------------------------------------
  // Visibility

  private isOwn(xid: number, at: CatalogPoint): boolean {
    return xid === at.xid || this.topOf.get(xid) === at.xid;
  }

  /** Whether `xid` (not of the transaction looking) committed before `lsn`. */
  private committedBefore(xid: number, lsn: Lsn): boolean {
    if (xid < 3) return xid !== 0; // bootstrap / frozen
    const c = this.commitLsn.get(xid);
    if (c !== undefined) return c < lsn;
    return this.committedAtStart.has(xid);
  }

  private abortedBefore(xid: number, lsn: Lsn): boolean {
    const a = this.abortLsn.get(xid);
    return a !== undefined && a < lsn;
  }

  // see HeapTupleSatisfiesHistoricMVCC (heapam_visibility.c), with "logged before the change" for the
  // transaction's own rows instead of command ids
  private visible(it: Item, at: CatalogPoint, relname: string): boolean {
    const t = it.tuple!;
    const im = tupInfomask(t);
    const xmin = tupXmin(t);
    if (this.isOwn(xmin, at)) {
      if (!(it.insertLsn < at.lsn) || this.abortedBefore(xmin, at.lsn)) return false;
    } else if (this.commitLsn.has(xmin)) {
      // committed in the WAL read (the row may have been frozen since: the commit still dates it)
      if (!(this.commitLsn.get(xmin)! < at.lsn)) return false;
    } else if ((im & HEAP_XMIN_FROZEN) === HEAP_XMIN_FROZEN) {
      // frozen before the WAL read: committed
    } else if ((im & HEAP_XMIN_INVALID) !== 0 || !this.committedBefore(xmin, at.lsn)) {
      return false;
    }
    const xmax = tupXmax(t);
    if (xmax === 0 || (im & HEAP_XMAX_INVALID) !== 0 || (im & HEAP_XMAX_LOCK_ONLY) !== 0) return true;
    if (im & HEAP_XMAX_IS_MULTI) {
      throw new CatalogError('unsupported-catalog-row', `a ${relname} row updated under a multixact (xmax ${xmax}) is not supported, at ${formatLsn(at.lsn)}`, { lsn: at.lsn });
    }
    if (this.isOwn(xmax, at)) return !(it.xmaxLsn < at.lsn) || this.abortedBefore(xmax, at.lsn);
    return !this.committedBefore(xmax, at.lsn);
  }

  // -----------------------------------------------------------------------------------------------
  // Rows

  private deform(catalogOid: number, tuple: Uint8Array): RawValue[] {
    const d = this.descriptors.get(catalogOid)!;
    return deformTuple(tuple.subarray(SIZEOF_HEAP_TUPLE_HEADER), tupInfomask2(tuple), tupInfomask(tuple), tupHoff(tuple), d.attrs);
  }

  /** The relfilenode a catalog's rows are in as of `at`. */
  private filenodeOf(catalogOid: number, at: CatalogPoint): number {
    if (MAPPED.has(catalogOid)) {
      let map = this.relmaps[0]!.map;
      for (const r of this.relmaps) if (r.lsn < at.lsn) map = r.map;
      const fn = map.get(catalogOid);
      if (fn === undefined) throw new CatalogError('catalog-page-missing', `the relation mapper has no entry for ${CATALOG_RELATIONS[catalogOid]}`, { lsn: at.lsn });
      return fn;
    }
    const row = this.classRow(catalogOid, at);
    if (row === undefined) throw new CatalogError('catalog-page-missing', `no pg_class row for ${CATALOG_RELATIONS[catalogOid]} at ${formatLsn(at.lsn)}`, { lsn: at.lsn });
    return rowOid(row[this.col(PG_CLASS, 'relfilenode')]);
  }

  private col(catalogOid: number, name: string): number {
    const i = this.descriptors.get(catalogOid)!.index.get(name);
    if (i === undefined) throw new CatalogError('unsupported-version', `${CATALOG_RELATIONS[catalogOid]} has no column ${name} in PostgreSQL ${this.major}`);
    return i;
  }

  /**
   * The visible rows of a catalog as of `at`; `filter` sees the raw tuple first (cheap checks on leading fixed
   * columns) so most rows are never deformed.
   */
  rows(catalogOid: number, at: CatalogPoint, filter?: (tuple: Uint8Array) => boolean): RawValue[][] {
    const fn = this.filenodeOf(catalogOid, at);
    const name = CATALOG_RELATIONS[catalogOid] ?? String(catalogOid);
    const miss = this.pages.missing.get(fn);
    if (miss !== undefined) {
      throw new CatalogError(
        'catalog-page-missing',
        `catalog relation ${name} (relfilenode ${fn}) block ${miss.block} was never seen${miss.lsn ? ` (first needed by the record at ${formatLsn(miss.lsn)})` : ''}: its rows as of ${formatLsn(at.lsn)} cannot be known`,
        { lsn: at.lsn },
      );
    }
    const rel = this.pages.pages.get(fn);
    if (rel === undefined) {
      throw new CatalogError('catalog-page-missing', `no page of catalog relation ${name} (relfilenode ${fn}) was ever seen: its rows as of ${formatLsn(at.lsn)} cannot be known`, { lsn: at.lsn });
    }
    const out: RawValue[][] = [];
    for (const page of rel.values()) {
      for (const it of page.items) {
        if (it.flags !== LP_NORMAL || it.tuple === undefined) continue;
        if (filter !== undefined && !filter(it.tuple)) continue;
        if (!this.visible(it, at, name)) continue;
        out.push(this.deform(catalogOid, it.tuple));
      }
    }
    return out;
  }

  /** A filter on the first column (an oid in every kept catalog but pg_range, whose first is rngtypid). */
  private static firstOid(oid: number): (t: Uint8Array) => boolean {
    return (t) => {
      const h = t[22]!;
      return (t[h]! | (t[h + 1]! << 8) | (t[h + 2]! << 16) | (t[h + 3]! << 24)) >>> 0 === oid;
    };
  }

  private classRow(oid: number, at: CatalogPoint): RawValue[] | undefined {
    return this.rows(PG_CLASS, at, HistoricCatalog.firstOid(oid))[0];
  }

  private namespaceName(oid: number, at: CatalogPoint): string {
    return this.cached(this.namespaceCache, oid, at, this.computeNamespaceName);
  }

  private readonly computeNamespaceName = (oid: number, at: CatalogPoint): string => {
    const row = this.rows(PG_NAMESPACE, at, HistoricCatalog.firstOid(oid))[0];
    return row === undefined ? String(oid) : rowText(row[this.col(PG_NAMESPACE, 'nspname')]);
  };

  // -----------------------------------------------------------------------------------------------
  // CatalogView

  relationByOid(oid: number, at: CatalogPoint): DecoderRelation | undefined {
    return this.cached(this.relationCache, oid, at, this.computeRelationByOid);
  }

  private readonly computeRelationByOid = (oid: number, at: CatalogPoint): DecoderRelation | undefined => {
    const row = this.classRow(oid, at);
    return row === undefined ? undefined : this.relation(row, at);
  };

  relationByFilenode(tablespace: number, relfilenode: number, at: CatalogPoint): DecoderRelation | undefined {
    this.lookupTablespace = tablespace;
    return this.cached(this.filenodeCache, relfilenode, at, this.computeRelationByFilenode);
  }

  /** relationByFilenode's tablespace, for its compute function (read before anything else runs). */
  private lookupTablespace = 0;

  private readonly computeRelationByFilenode = (relfilenode: number, at: CatalogPoint): DecoderRelation | undefined => {
    const tablespace = this.lookupTablespace;
    const fnCol = this.col(PG_CLASS, 'relfilenode');
    const tsCol = this.col(PG_CLASS, 'reltablespace');
    // relfilenode is a fixed-width column at a fixed offset in every pg_class row (no nulls before it).
    const offset = this.fixedOffset(PG_CLASS, fnCol);
    const rows = this.rows(PG_CLASS, at, (t) => {
      const p = t[22]! + offset;
      return (t[p]! | (t[p + 1]! << 8) | (t[p + 2]! << 16) | (t[p + 3]! << 24)) >>> 0 === relfilenode;
    });
    for (const row of rows) {
      const ts = rowOid(row[tsCol]);
      if (ts !== 0 && ts !== tablespace) continue;
      return this.relation(row, at);
    }
    return undefined;
  };

  /** The offset from t_hoff of a column preceded only by fixed-width, non-null columns. */
  private fixedOffset(catalogOid: number, col: number): number {
    const attrs = this.descriptors.get(catalogOid)!.attrs;
    let off = 0;
    for (let i = 0; i <= col; i++) {
      const a = attrs[i]!;
      const align = a.align === 'd' ? 8 : a.align === 'i' ? 4 : a.align === 's' ? 2 : 1;
      off = (off + align - 1) & ~(align - 1);
      if (i === col) break;
      off += a.len;
    }
    return off;
  }

  private relation(row: RawValue[], at: CatalogPoint): DecoderRelation | undefined {
    const c = (name: string): RawValue | undefined => row[this.col(PG_CLASS, name)];
    const oid = rowOid(c('oid'));
    const nsp = rowOid(c('relnamespace'));
    // Catalogs (and their TOAST tables) are not decoded: see IsCatalogRelationOid (catalog.c)
    if (oid < FIRST_UNPINNED_OBJECT_ID || nsp === PG_CATALOG_NAMESPACE) return undefined;
    let relfilenode = rowOid(c('relfilenode'));
    // 0: mapped (catalogs only), or no storage — a partitioned table is kept (pgoutput publishes through it).
    if (relfilenode === 0 && rowChar(c('relkind')) !== 'p') return undefined;
    const namespace = this.namespaceName(nsp, at);
    const attributes = this.attributes(oid, at);
    const rewrite = this.descriptors.get(PG_CLASS)!.index.has('relrewrite') ? rowOid(c('relrewrite')) : 0;
    const replIdent = rowChar(c('relreplident'));
    const keys = this.hasIndexes ? this.keys(oid, at) : undefined;
    relfilenode = rowOid(c('relfilenode'));
    return {
      oid,
      relfilenode,
      tablespace: rowOid(c('reltablespace')),
      namespace,
      name: rowText(c('relname')),
      kind: rowChar(c('relkind')),
      replIdent,
      toastRelid: rowOid(c('reltoastrelid')),
      ...(keys !== undefined
        ? { primaryKey: keys.primary, identityKey: (replIdent === 'd' ? keys.primary : replIdent === 'i' ? keys.replident : null) ?? null }
        : {}),
      ...(rewrite !== 0 ? { rewriteOf: rewrite } : {}),
      attributes,
    };
  }

  /**
   * The primary key's and the replica identity index's key columns, as RelationGetIndexList picks the indexes:
   * valid, unique, immediate, without a predicate.
   */
  private keys(oid: number, at: CatalogPoint): { primary: number[] | null; replident: number[] | null } {
    const col = (name: string): number => this.col(PG_INDEX, name);
    const [relCol, keyCol, nkeyCol, pred] = [col('indrelid'), col('indkey'), col('indnkeyatts'), col('indpred')];
    const out: { primary: number[] | null; replident: number[] | null } = { primary: null, replident: null };
    for (const r of this.rows(PG_INDEX, at)) {
      if (rowOid(r[relCol]) !== oid) continue;
      if (!rowBool(r[col('indisvalid')]) || !rowBool(r[col('indisunique')]) || !rowBool(r[col('indimmediate')]) || r[pred]?.kind !== 'null') continue;
      const primary = rowBool(r[col('indisprimary')]);
      const replident = rowBool(r[col('indisreplident')]);
      if (!primary && !replident) continue;
      // indkey is an int2vector: a one-dimensional array header (20 bytes), then the int2 attribute numbers.
      const v = r[keyCol];
      const keys: number[] = [];
      if (v?.kind === 'bytes') {
        const n = Math.min(rowInt2(r[nkeyCol]), (v.bytes.length - 20) >> 1);
        for (let i = 0; i < n; i++) {
          const k = ((v.bytes[20 + 2 * i]! | (v.bytes[21 + 2 * i]! << 8)) << 16) >> 16;
          if (k > 0) keys.push(k); // expression columns (0) name no attribute
        }
      }
      if (primary) out.primary = keys;
      if (replident) out.replident = keys;
    }
    return out;
  }

  /** The visible pg_attrdef row of a column: its OID. */
  private attrdefOid(relid: number, attnum: number, at: CatalogPoint): number | undefined {
    const [relCol, numCol] = [this.col(PG_ATTRDEF, 'adrelid'), this.col(PG_ATTRDEF, 'adnum')];
    const r = this.rows(PG_ATTRDEF, at).find((x) => rowOid(x[relCol]) === relid && rowInt2(x[numCol]) === attnum);
    return r === undefined ? undefined : rowOid(r[0]);
  }

  /** pg_attribute rows of a relation (attnum > 0), in attnum order. */
  private attributes(oid: number, at: CatalogPoint): Attribute[] {
    const atts = this.rows(PG_ATTRIBUTE, at, HistoricCatalog.firstOid(oid));
    const a = (r: RawValue[], name: string): RawValue | undefined => r[this.col(PG_ATTRIBUTE, name)];
    const attributes: Attribute[] = [];
    for (const r of atts) {
      const attnum = rowInt2(a(r, 'attnum'));
      if (attnum <= 0) continue;
      const typeOid = rowOid(a(r, 'atttypid'));
      const attr: Attribute = {
        attnum,
        name: rowText(a(r, 'attname')),
        typeOid,
        len: rowInt2(a(r, 'attlen')),
        align: rowChar(a(r, 'attalign')),
        byval: rowBool(a(r, 'attbyval')),
        dropped: rowBool(a(r, 'attisdropped')),
        typmod: rowInt4(a(r, 'atttypmod')),
        notNull: rowBool(a(r, 'attnotnull')),
      };
      if (this.descriptors.get(PG_ATTRIBUTE)!.index.has('attgenerated')) {
        const g = rowChar(a(r, 'attgenerated'));
        attr.generated = g === '\0' ? '' : g;
      }
      if (rowBool(a(r, 'atthasmissing'))) attr.missing = this.missingValue(a(r, 'attmissingval'), at);
      if (this.hasAttrdefs) {
        // As loadCatalog: the default's text, null for none (or a generated column); undefined when not known.
        const generated = this.descriptors.get(PG_ATTRIBUTE)!.index.has('attgenerated') ? rowChar(a(r, 'attgenerated')) : '\0';
        if (!rowBool(a(r, 'atthasdef')) || generated !== '\0') attr.defaultExpr = null;
        else {
          const ad = this.attrdefOid(oid, attnum, at);
          const text = ad === undefined ? undefined : this.defaultText.get(ad);
          if (text !== undefined) attr.defaultExpr = text;
        }
      }
      attributes.push(attr);
    }
    attributes.sort((x, y) => x.attnum - y.attnum);
    return attributes;
  }

  /** attmissingval: a one-element array of the column's type; its element as the output function prints it. */
  private missingValue(v: RawValue | undefined, at: CatalogPoint): string | null {
    if (v === undefined || v.kind !== 'bytes') return null;
    const text = outputValue(v.bytes, ANYARRAY, (oid) => this.type(oid, at));
    const inner = text.slice(1, -1);
    if (inner === 'NULL') return null;
    if (inner.startsWith('"')) return inner.slice(1, -1).replace(/\\(.)/g, '$1');
    return inner;
  }

  /**
   * Every publication of the database as of `at` (pg_publication with its pg_publication_rel and
   * pg_publication_namespace rows), in OID order; undefined when the snapshot does not keep them.
   */
  publications(at: CatalogPoint): PublicationInfo[] | undefined {
    if (!this.hasPublications) return undefined;
    return this.cached(this.publicationCache, 0, at, this.computePublications);
  }

  private readonly computePublications = (_key: number, at: CatalogPoint): PublicationInfo[] => {
    const c = (oid: number, r: RawValue[], name: string): RawValue | undefined => r[this.col(oid, name)];
    const out: PublicationInfo[] = [];
    const gencols = this.descriptors.get(PG_PUBLICATION)!.index.has('pubgencols');
    for (const r of this.rows(PG_PUBLICATION, at)) {
      const b = (name: string): boolean => rowBool(c(PG_PUBLICATION, r, name));
      out.push({
        oid: rowOid(r[0]),
        name: rowText(c(PG_PUBLICATION, r, 'pubname')),
        allTables: b('puballtables'),
        insert: b('pubinsert'),
        update: b('pubupdate'),
        delete: b('pubdelete'),
        truncate: b('pubtruncate'),
        viaRoot: b('pubviaroot'),
        ...(gencols ? { generatedColumns: rowChar(c(PG_PUBLICATION, r, 'pubgencols')) } : {}),
        tables: [],
        schemas: [],
      });
    }
    const byOid = new Map(out.map((p) => [p.oid, p]));
    for (const r of this.rows(PG_PUBLICATION_REL, at)) {
      const pub = byOid.get(rowOid(c(PG_PUBLICATION_REL, r, 'prpubid')));
      if (pub === undefined) continue;
      const relid = rowOid(c(PG_PUBLICATION_REL, r, 'prrelid'));
      const qual = c(PG_PUBLICATION_REL, r, 'prqual');
      if (qual?.kind === 'toast') {
        throw new CatalogError('unsupported-catalog-row', `the row filter of publication "${pub.name}" on relation ${relid} is stored out of line (TOAST): pgwal cannot read it, at ${formatLsn(at.lsn)}`, { lsn: at.lsn });
      }
      // prattrs is an int2vector: a one-dimensional array header (20 bytes), then the int2 attribute numbers.
      const attrs = c(PG_PUBLICATION_REL, r, 'prattrs');
      let columns: number[] | null = null;
      if (attrs?.kind === 'bytes') {
        columns = [];
        for (let i = 20; i + 1 < attrs.bytes.length; i += 2) columns.push(((attrs.bytes[i]! | (attrs.bytes[i + 1]! << 8)) << 16) >> 16);
      }
      const node = qual?.kind === 'bytes' ? rowText(qual) : null;
      // The filter's text where it is the one the slot's creation read; else the stored node tree stands for it.
      const rowFilter = node === null ? null : (this.rowFilterText.get(`${pub.oid}:${relid}:${node}`) ?? node);
      pub.tables.push({ relid, columns, rowFilter, rowFilterNode: node });
    }
    for (const r of this.rows(PG_PUBLICATION_NAMESPACE, at)) {
      const pub = byOid.get(rowOid(c(PG_PUBLICATION_NAMESPACE, r, 'pnpubid')));
      if (pub !== undefined) pub.schemas.push(this.namespaceName(rowOid(c(PG_PUBLICATION_NAMESPACE, r, 'pnnspid')), at));
    }
    out.sort((x, y) => x.oid - y.oid);
    for (const p of out) {
      p.tables.sort((x, y) => x.relid - y.relid);
      p.schemas.sort();
    }
    return out;
  };

  /**
   * A partition's ancestors as of `at`, nearest first (get_partition_ancestors: pg_inherits' inhseqno 1 parent while
   * the relation is a partition); [] for a relation that is not one; undefined when the snapshot lacks pg_inherits.
   */
  partitionAncestors(oid: number, at: CatalogPoint): number[] | undefined {
    if (!this.hasInherits) return undefined;
    return this.cached(this.ancestorCache, oid, at, this.computeAncestors);
  }

  private readonly computeAncestors = (oid: number, at: CatalogPoint): number[] => {
    const out: number[] = [];
    const [parentCol, seqCol, partCol] = [this.col(PG_INHERITS, 'inhparent'), this.col(PG_INHERITS, 'inhseqno'), this.col(PG_CLASS, 'relispartition')];
    for (let cur = oid; out.length < 64; ) {
      const cls = this.classRow(cur, at);
      if (cls === undefined || !rowBool(cls[partCol])) break;
      const inh = this.rows(PG_INHERITS, at, HistoricCatalog.firstOid(cur)).find((r) => rowInt4(r[seqCol]) === 1);
      if (inh === undefined) break;
      cur = rowOid(inh[parentCol]);
      out.push(cur);
    }
    return out;
  };

  type(oid: number, at: CatalogPoint): TypeInfo | undefined {
    return this.cached(this.typeCache, oid, at, this.computeTypeInfo);
  }

  private readonly computeTypeInfo = (oid: number, at: CatalogPoint): TypeInfo | undefined => this.typeInfo(oid, at);

  private typeInfo(oid: number, at: CatalogPoint): TypeInfo | undefined {
    const row = this.rows(PG_TYPE, at, HistoricCatalog.firstOid(oid))[0];
    if (row === undefined) return undefined;
    const c = (name: string): RawValue | undefined => row[this.col(PG_TYPE, name)];
    const data = BOOTSTRAP_DATA[this.major]!;
    const typoutput = rowOid(c('typoutput'));
    const elem = rowOid(c('typelem'));
    const len = rowInt2(c('typlen'));
    const typtype = rowChar(c('typtype'));
    let name = data.typeNames[oid];
    if (name === undefined) {
      if (elem !== 0 && len === -1 && rowChar(c('typcategory')) === 'A') {
        name = `${this.type(elem, at)?.name ?? elem}[]`;
      } else {
        const nsp = this.namespaceName(rowOid(c('typnamespace')), at);
        const base = quoteIdentifier(rowText(c('typname')), this.major);
        name = nsp === 'pg_catalog' || nsp === 'public' ? base : `${quoteIdentifier(nsp, this.major)}.${base}`;
      }
    }
    const info: TypeInfo = {
      oid,
      name,
      output: data.outputProcs[typoutput] ?? `(output function ${typoutput})`,
      len,
      align: rowChar(c('typalign')),
      byval: rowBool(c('typbyval')),
      elem,
      typname: rowText(c('typname')),
      namespace: this.namespaceName(rowOid(c('typnamespace')), at),
    };
    if (typtype === 'c') {
      const rel = this.rows(PG_CLASS, at, HistoricCatalog.firstOid(rowOid(c('typrelid'))))[0];
      if (rel !== undefined) info.fields = this.attributes(rowOid(rel[0]), at);
    } else if (typtype === 'e') {
      const labels = new Map<number, string>();
      const typCol = this.col(PG_ENUM, 'enumtypid');
      for (const r of this.rows(PG_ENUM, at)) {
        if (rowOid(r[typCol]) === oid) labels.set(rowOid(r[this.col(PG_ENUM, 'oid')]), rowText(r[this.col(PG_ENUM, 'enumlabel')]));
      }
      info.enumLabels = labels;
    } else if (typtype === 'r') {
      const r = this.rows(PG_RANGE, at, HistoricCatalog.firstOid(oid))[0];
      if (r !== undefined) info.rangeSubtype = rowOid(r[this.col(PG_RANGE, 'rngsubtype')]);
    } else if (typtype === 'm') {
      const multiCol = this.col(PG_RANGE, 'rngmultitypid');
      const r = this.rows(PG_RANGE, at).find((x) => rowOid(x[multiCol]) === oid);
      if (r !== undefined) info.rangeType = rowOid(r[0]);
    } else if (typtype === 'd') {
      info.baseType = rowOid(c('typbasetype'));
      info.baseTypmod = rowInt4(c('typtypmod'));
    }
    return info;
  }

  /**
   * The catalog as of the last record processed, as a starting snapshot for decoding that restarts reading at
   * `restartLsn` (at or before the last record): pages newer than that are fine (redo skips what they hold), and
   * only transactions that committed before it count as committed at the start — later ones are read again and
   * dated by their commit records.
   */
  exportSnapshot(restartLsn: Lsn): CatalogSnapshot {
    const at: CatalogPoint = { lsn: this.lastLsn + 1, xid: 0 };
    const relmap = Object.fromEntries(this.relmaps[this.relmaps.length - 1]!.map) as Record<number, number>;
    const filenodes: Record<number, number> = {};
    for (const oid of Object.keys(CATALOG_RELATIONS).map(Number)) {
      if (this.keeps(oid)) filenodes[oid] = this.filenodeOf(oid, at);
    }
    const pages: CatalogSnapshot['pages'] = [];
    const nblocks: Record<number, number> = {};
    for (const fn of new Set(Object.values(filenodes))) {
      let n = this.pages.missing.has(fn) ? this.pages.missing.get(fn)!.block + 1 : 0;
      for (const [block, page] of this.pages.pages.get(fn) ?? []) {
        pages.push({ relfilenode: fn, block, page: pageToRaw(page) });
        n = Math.max(n, block + 1);
      }
      nblocks[fn] = n;
    }
    // Only the xids the pages hold matter: the others' rows are gone.
    const committedXids: number[] = [];
    for (const fn of new Set(Object.values(filenodes))) {
      for (const page of (this.pages.pages.get(fn) ?? new Map()).values()) {
        for (const it of page.items) {
          if (it.tuple === undefined) continue;
          for (const xid of [tupXmin(it.tuple), tupXmax(it.tuple)]) {
            const c = this.commitLsn.get(xid);
            if (xid >= 3 && (c !== undefined ? c < restartLsn : this.committedAtStart.has(xid))) committedXids.push(xid);
          }
        }
      }
    }
    return {
      major: this.major,
      databaseOid: this.databaseOid,
      relmap,
      filenodes,
      nblocks,
      pages,
      committedXids: [...new Set(committedXids)],
      ...(this.defaultText.size > 0 ? { defaults: Object.fromEntries(this.defaultText) as Record<number, string> } : {}),
    };
  }

  /** Whether `oid` names a user object (not one made by initdb). */
  static isUserOid(oid: number): boolean {
    return oid >= FIRST_NORMAL_OBJECT_ID;
  }

  /** The LSN of the last record processed. */
  get processedLsn(): Lsn {
    return this.lastLsn;
  }
}

/** A pg_filenode.map file: magic, count, then (oid, relfilenode) pairs. */
// see RelMapFile (relmapper.c)
export function parseRelmapFile(b: Uint8Array, lsn: Lsn = 0): Map<number, number> {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 8 || v.getUint32(0, true) !== RELMAP_MAGIC) {
    throw new CatalogError('invalid-relmap', `relation mapping file has a bad magic number`, { lsn });
  }
  const n = v.getInt32(4, true);
  if (n < 0 || n > 64 || 8 + 8 * n > b.length) throw new CatalogError('invalid-relmap', `relation mapping file has ${n} mappings`, { lsn });
  const map = new Map<number, number>();
  for (let i = 0; i < n; i++) map.set(v.getUint32(8 + 8 * i, true), v.getUint32(12 + 8 * i, true));
  return map;
}
