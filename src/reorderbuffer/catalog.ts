// What the reorder buffer asks of a catalog: the relation a block reference names, its attributes, the types
// of its columns, as seen by the transaction being decoded at a given change (the server's historic snapshot).
// A static catalog (the one of the slot's creation) answers the same at every point; the historic catalog
// rebuilt from WAL answers as of each change.
import type { Lsn } from '../lsn.js';
import type { DecodedRecord } from '../xlogreader/record.js';
import type { Attribute } from './tuple.js';
import type { TypeInfo } from './values.js';

export interface DecoderRelation {
  oid: number;
  relfilenode: number;
  /** reltablespace (0 = the database's default); with relfilenode, what RelidByRelfilenumber maps. */
  tablespace?: number;
  namespace: string;
  name: string;
  kind: string;
  /** relreplident: 'd' default, 'n' nothing, 'f' full, 'i' index. */
  replIdent?: string;
  toastRelid: number;
  /**
   * Attribute numbers of the primary key's key columns (rd_pkindex: a deferrable or partial primary key does not
   * count); null when there is none; undefined when the catalog did not record it (an older state file).
   */
  primaryKey?: number[] | null;
  /**
   * Key columns of the replica identity index (rd_replidindex: the primary key under replica identity default,
   * the chosen index under replica identity index); null when there is none (full, nothing, no key); undefined
   * when not recorded.
   */
  identityKey?: number[] | null;
  /** pg_class.relrewrite ≠ 0: the transient relation of a table rewrite (skipped unless include-rewrites). */
  rewriteOf?: number;
  attributes: Attribute[];
}

/** A publication (pg_publication with its pg_publication_rel and pg_publication_namespace rows), as pgoutput reads it. */
export interface PublicationInfo {
  oid: number;
  name: string;
  /** puballtables */
  allTables: boolean;
  insert: boolean;
  update: boolean;
  delete: boolean;
  truncate: boolean;
  /** pubviaroot */
  viaRoot: boolean;
  /** pubgencols (18): 'n' none, 's' stored; undefined before 18. */
  generatedColumns?: string;
  /**
   * FOR TABLE members: the column list (prattrs) and row filter, null when none: `rowFilter` as pg_get_expr prints
   * it (where known; a filter set after the slot's creation has its node tree there instead), `rowFilterNode` the
   * stored node tree (prqual as text; undefined in a state made before pgwal recorded it).
   */
  tables: { relid: number; columns: number[] | null; rowFilter: string | null; rowFilterNode?: string | null }[];
  /** FOR TABLES IN SCHEMA members: the schemas' names. */
  schemas: string[];
}

/** The database's default collation and character classification (pg_database), as recorded at slot creation. */
export interface DatabaseLocale {
  /** datlocprovider: 'c' libc, 'i' ICU, 'b' builtin (17+). */
  provider: string;
  collate: string;
  ctype: string;
  /** daticulocale (15, 16) or datlocale (17+). */
  locale?: string | null;
}

/** The catalog as a state file carries it: one fixed set of relations and types. */
export interface DecoderCatalog {
  databaseOid: number;
  relations: DecoderRelation[];
  types: TypeInfo[];
  /** The publications as of the slot's creation (pgoutput); undefined in a state made before pgwal recorded them. */
  publications?: PublicationInfo[];
  /** Partitions and their ancestors, nearest first (get_partition_ancestors), as of the slot's creation. */
  partitions?: [number, number[]][];
  /** pg_replication_origin (roident, roname) as of the slot's creation: the names pgoutput's Origin message carries. */
  replicationOrigins?: [number, string][];
  /** Relfilenodes of pg_publication, pg_publication_rel and pg_publication_namespace at the slot's creation. */
  publicationFilenodes?: number[];
  /** The database's default collation and ctype (pg_database): how row filters order and case-map text. */
  databaseLocale?: DatabaseLocale;
  /** The relfilenode of pg_replication_origin (a shared catalog) at the slot's creation: origins made later are read from its inserts. */
  replicationOriginFilenode?: number;
  /** The relfilenode of pg_namespace at the slot's creation: pgoutput rebuilds every entry after a schema change. */
  namespaceFilenode?: number;
}

/**
 * The point a catalog lookup is made at: a change at `lsn` of transaction `xid` (top-level) — it sees every
 * transaction committed before `lsn`, and its own catalog changes logged before `lsn`.
 */
export interface CatalogPoint {
  lsn: Lsn;
  xid: number;
}

/** A table's schema change at the commit that made it, as a catalog that follows DDL reports it. */
export interface SchemaChange {
  kind: 'created' | 'altered' | 'dropped' | 'renamed';
  /** The commit record's LSN. */
  lsn: Lsn;
  /** The top-level transaction. */
  xid: number;
  oid: number;
  namespace: string;
  name: string;
  oldNamespace?: string;
  oldName?: string;
  oldColumns?: { attnum: number; name: string; typeOid: number; type: string }[];
  newColumns?: { attnum: number; name: string; typeOid: number; type: string }[];
  changes?: ('columns' | 'replica-identity')[];
  oldReplIdent?: string;
  newReplIdent?: string;
}

export interface CatalogView {
  readonly databaseOid: number;
  /** Set by the decoder on a catalog that follows DDL: told of each schema change at its commit, in WAL order. */
  onDdl?: ((event: SchemaChange) => void) | undefined;
  /** Fed every record in WAL order before the reorder buffer sees it (a historic catalog redoes catalog changes). */
  process(rec: DecodedRecord): void;
  /** RelidByRelfilenumber + RelationIdGetRelation: the relation whose storage is (tablespace, relfilenode). */
  relationByFilenode(tablespace: number, relfilenode: number, at: CatalogPoint): DecoderRelation | undefined;
  relationByOid(oid: number, at: CatalogPoint): DecoderRelation | undefined;
  type(oid: number, at: CatalogPoint): TypeInfo | undefined;
  /** Every publication of the database as of `at`, where the catalog follows them (the historic catalog's pages). */
  publications?(at: CatalogPoint): PublicationInfo[] | undefined;
  /** A partition's ancestors as of `at`, nearest first, where the catalog follows them (pg_inherits' pages). */
  partitionAncestors?(oid: number, at: CatalogPoint): number[] | undefined;
}

/** A catalog view that answers from another (`inner`): the base of views that change one answer or check records. */
export class DelegatingCatalog implements CatalogView {
  constructor(protected readonly inner: CatalogView) {}

  get databaseOid(): number {
    return this.inner.databaseOid;
  }

  get onDdl(): CatalogView['onDdl'] {
    return this.inner.onDdl;
  }

  set onDdl(cb: CatalogView['onDdl']) {
    this.inner.onDdl = cb;
  }

  process(rec: DecodedRecord): void {
    this.inner.process(rec);
  }

  relationByFilenode(tablespace: number, relfilenode: number, at: CatalogPoint): DecoderRelation | undefined {
    return this.inner.relationByFilenode(tablespace, relfilenode, at);
  }

  relationByOid(oid: number, at: CatalogPoint): DecoderRelation | undefined {
    return this.inner.relationByOid(oid, at);
  }

  type(oid: number, at: CatalogPoint): TypeInfo | undefined {
    return this.inner.type(oid, at);
  }

  publications(at: CatalogPoint): PublicationInfo[] | undefined {
    return this.inner.publications?.(at);
  }

  partitionAncestors(oid: number, at: CatalogPoint): number[] | undefined {
    return this.inner.partitionAncestors?.(oid, at);
  }
}

/** A catalog that does not change: right while no DDL touches the decoded relations. */
export class StaticCatalog implements CatalogView {
  readonly databaseOid: number;
  private readonly byFilenode = new Map<number, DecoderRelation>();
  private readonly byOid = new Map<number, DecoderRelation>();
  private readonly types = new Map<number, TypeInfo>();

  constructor(catalog: DecoderCatalog) {
    this.databaseOid = catalog.databaseOid;
    for (const r of catalog.relations) {
      this.byFilenode.set(r.relfilenode, r);
      this.byOid.set(r.oid, r);
    }
    for (const t of catalog.types) this.types.set(t.oid, t);
  }

  process(): void {}

  relationByFilenode(_tablespace: number, relfilenode: number): DecoderRelation | undefined {
    return this.byFilenode.get(relfilenode);
  }

  relationByOid(oid: number): DecoderRelation | undefined {
    return this.byOid.get(oid);
  }

  type(oid: number): TypeInfo | undefined {
    return this.types.get(oid);
  }
}

/**
 * Why a catalog read from a file cannot be decoded with, or undefined when its shape is sound: every field the
 * decoder reads has its type and range (a checksum proves a file whole, not that what was written was sane).
 */
export function catalogShapeProblem(catalog: unknown): string | undefined {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const u32 = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;
  const int = (v: unknown): boolean => Number.isInteger(v);
  const str = (v: unknown): boolean => typeof v === 'string';
  const optional = (v: unknown, ok: (x: unknown) => boolean): boolean => v === undefined || ok(v);
  const ints = (v: unknown): boolean => v === null || (Array.isArray(v) && v.every(int));
  const ALIGN = new Set(['c', 's', 'i', 'd']);
  const attribute = (a: unknown, where: string): string | undefined => {
    if (!isObj(a)) return `${where} is not an object`;
    if (!int(a.attnum) || !str(a.name) || !u32(a.typeOid)) return `${where} lacks attnum, name or typeOid`;
    if (!int(a.len) || !((a.len as number) > 0 || a.len === -1 || a.len === -2)) return `${where} has length ${String(a.len)}`;
    if (!ALIGN.has(a.align as string)) return `${where} has alignment ${JSON.stringify(a.align)}`;
    if (typeof a.byval !== 'boolean' || typeof a.dropped !== 'boolean') return `${where} lacks byval or dropped`;
    if (!optional(a.missing, (m) => m === null || str(m)) || !optional(a.typmod, int) || !optional(a.notNull, (b) => typeof b === 'boolean')) return `${where} has a bad missing value, typmod or notNull`;
    if (!optional(a.defaultExpr, (d) => d === null || str(d))) return `${where} has a bad default`;
    if (!optional(a.generated, str)) return `${where} has a bad attgenerated`;
    return undefined;
  };
  if (!isObj(catalog)) return 'the catalog is not an object';
  if (!u32(catalog.databaseOid)) return 'the catalog has no database oid';
  if (!Array.isArray(catalog.relations) || !Array.isArray(catalog.types)) return 'the catalog has no relations or types';
  for (const [i, r] of catalog.relations.entries()) {
    const where = `relation ${i}`;
    if (!isObj(r)) return `${where} is not an object`;
    if (!u32(r.oid) || !u32(r.relfilenode) || !u32(r.toastRelid) || !str(r.namespace) || !str(r.name) || !str(r.kind)) return `${where} lacks oid, relfilenode, toastRelid, namespace, name or kind`;
    if (!optional(r.tablespace, u32) || !optional(r.replIdent, str) || !optional(r.rewriteOf, u32) || !optional(r.primaryKey, ints) || !optional(r.identityKey, ints)) return `${where} (${String(r.name)}) has a bad optional field`;
    if (!Array.isArray(r.attributes)) return `${where} (${String(r.name)}) has no attributes`;
    for (const [k, a] of r.attributes.entries()) {
      const bad = attribute(a, `attribute ${k} of ${String(r.name)}`);
      if (bad !== undefined) return bad;
    }
  }
  if (catalog.publications !== undefined) {
    if (!Array.isArray(catalog.publications)) return 'the catalog has bad publications';
    for (const [i, p] of catalog.publications.entries()) {
      const where = `publication ${i}`;
      if (!isObj(p) || !u32(p.oid) || !str(p.name) || !Array.isArray(p.tables) || !Array.isArray(p.schemas) || !p.schemas.every(str)) return `${where} lacks oid, name, tables or schemas`;
      for (const k of ['allTables', 'insert', 'update', 'delete', 'truncate', 'viaRoot'] as const) if (typeof p[k] !== 'boolean') return `${where} (${String(p.name)}) has a bad ${k}`;
      if (!optional(p.generatedColumns, str)) return `${where} (${String(p.name)}) has a bad generatedColumns`;
      for (const t of p.tables) {
        if (!isObj(t) || !u32(t.relid) || !ints(t.columns) || !(t.rowFilter === null || str(t.rowFilter)) || !(t.rowFilterNode === undefined || t.rowFilterNode === null || str(t.rowFilterNode))) return `${where} (${String(p.name)}) has a bad table`;
      }
    }
  }
  if (catalog.databaseLocale !== undefined) {
    const l = catalog.databaseLocale as unknown;
    if (!isObj(l) || !str(l.provider) || !str(l.collate) || !str(l.ctype) || !(l.locale === undefined || l.locale === null || str(l.locale))) return 'the catalog has a bad database locale';
  }
  if (!optional(catalog.replicationOriginFilenode, u32) || !optional(catalog.namespaceFilenode, u32)) return 'the catalog has a bad replication origin or namespace filenode';
  if (catalog.publicationFilenodes !== undefined && !(Array.isArray(catalog.publicationFilenodes) && catalog.publicationFilenodes.every(u32))) return 'the catalog has bad publication filenodes';
  if (catalog.replicationOrigins !== undefined) {
    if (!Array.isArray(catalog.replicationOrigins) || !catalog.replicationOrigins.every((e) => Array.isArray(e) && u32(e[0]) && str(e[1]))) return 'the catalog has bad replication origins';
  }
  if (catalog.partitions !== undefined) {
    if (!Array.isArray(catalog.partitions) || !catalog.partitions.every((e) => Array.isArray(e) && u32(e[0]) && Array.isArray(e[1]) && e[1].every(u32))) return 'the catalog has bad partitions';
  }
  for (const [i, t] of catalog.types.entries()) {
    const where = `type ${i}`;
    if (!isObj(t)) return `${where} is not an object`;
    if (!u32(t.oid) || !str(t.name) || !str(t.output) || !u32(t.elem) || typeof t.byval !== 'boolean') return `${where} lacks oid, name, output, elem or byval`;
    if (!int(t.len) || !((t.len as number) > 0 || t.len === -1 || t.len === -2) || !ALIGN.has(t.align as string)) return `${where} (${String(t.name)}) has length ${String(t.len)} or alignment ${JSON.stringify(t.align)}`;
    for (const k of ['rangeType', 'baseType', 'rangeSubtype'] as const) if (!optional(t[k], u32)) return `${where} (${String(t.name)}) has a bad ${k}`;
    if (!optional(t.typname, str) || !optional(t.namespace, str)) return `${where} (${String(t.name)}) has a bad typname or namespace`;
    if (!optional(t.baseTypmod, int)) return `${where} (${String(t.name)}) has a bad baseTypmod`;
    if (!optional(t.enumLabels, (l) => isObj(l) && Object.values(l).every(str))) return `${where} (${String(t.name)}) has bad enum labels`;
    if (t.fields !== undefined) {
      if (!Array.isArray(t.fields)) return `${where} (${String(t.name)}) has bad fields`;
      for (const [k, a] of t.fields.entries()) {
        const bad = attribute(a, `field ${k} of type ${String(t.name)}`);
        if (bad !== undefined) return bad;
      }
    }
  }
  return undefined;
}
