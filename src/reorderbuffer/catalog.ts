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

/** The catalog as a state file carries it: one fixed set of relations and types. */
export interface DecoderCatalog {
  databaseOid: number;
  relations: DecoderRelation[];
  types: TypeInfo[];
}

/**
 * The point a catalog lookup is made at: a change at `lsn` of transaction `xid` (top-level) — it sees every
 * transaction committed before `lsn`, and its own catalog changes logged before `lsn`.
 */
export interface CatalogPoint {
  lsn: Lsn;
  xid: number;
}

export interface CatalogView {
  readonly databaseOid: number;
  /** Fed every record in WAL order before the reorder buffer sees it (a historic catalog redoes catalog changes). */
  process(rec: DecodedRecord): void;
  /** RelidByRelfilenumber + RelationIdGetRelation: the relation whose storage is (tablespace, relfilenode). */
  relationByFilenode(tablespace: number, relfilenode: number, at: CatalogPoint): DecoderRelation | undefined;
  relationByOid(oid: number, at: CatalogPoint): DecoderRelation | undefined;
  type(oid: number, at: CatalogPoint): TypeInfo | undefined;
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
