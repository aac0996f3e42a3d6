// Reading what decoding needs of the catalog from a live server (relations, attributes, types), e.g. inside
// a transaction that imported a slot's exported snapshot.
import type pg from 'pg';
import type { Attribute } from '../reorderbuffer/tuple.js';
import type { DatabaseLocale, PublicationInfo } from '../reorderbuffer/catalog.js';
import type { TypeInfo } from '../reorderbuffer/values.js';

export interface CatalogRelation {
  oid: number;
  /** pg_relation_filenode: what WAL block references name. */
  relfilenode: number;
  namespace: string;
  name: string;
  kind: string;
  replIdent: string;
  toastRelid: number;
  primaryKey: number[] | null;
  identityKey: number[] | null;
  attributes: Attribute[];
}

export interface Catalog {
  relations: CatalogRelation[];
  types: TypeInfo[];
  publications?: PublicationInfo[];
  partitions?: [number, number[]][];
  replicationOrigins?: [number, string][];
  publicationFilenodes?: number[];
  databaseLocale?: DatabaseLocale;
  replicationOriginFilenode?: number;
  namespaceFilenode?: number;
}

const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

/** The user relations (tables, partitions, TOAST tables), their attributes and every type they use. */
export async function loadCatalog(c: pg.Client): Promise<Catalog> {
  const rel = await c.query({
    text: `select c.oid, pg_relation_filenode(c.oid) as filenode, n.nspname, c.relname, c.relkind, c.relreplident, c.reltoastrelid
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where c.relkind in ('r', 'p', 't', 'm') and n.nspname not in ('pg_catalog', 'information_schema')
             and pg_relation_filenode(c.oid) is not null
           order by c.oid`,
    types: asText,
  });
  const att = await c.query({
    text: `select a.attrelid, a.attnum, a.attname, a.atttypid, a.attlen, a.attalign, a.attbyval, a.attisdropped,
                  a.atthasmissing, a.attmissingval::text as missing, a.atttypmod, a.attnotnull, a.attgenerated,
                  case when a.atthasdef and a.attgenerated = '' then pg_get_expr(d.adbin, d.adrelid) end as defexpr
           from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
           where a.attnum > 0 and a.attrelid = any($1::oid[]) order by a.attrelid, a.attnum`,
    values: [rel.rows.map((r) => r.oid)],
    types: asText,
  });
  const byRel = new Map<number, Attribute[]>();
  for (const a of att.rows) {
    const list = byRel.get(Number(a.attrelid)) ?? [];
    // attmissingval is an array of one element (anyarray): its text form is {value}.
    let missing: string | null | undefined;
    if (a.atthasmissing === 't') missing = a.missing === null ? null : unwrapArray1(a.missing);
    list.push({
      attnum: Number(a.attnum),
      name: a.attname,
      typeOid: Number(a.atttypid),
      len: Number(a.attlen),
      align: a.attalign,
      byval: a.attbyval === 't',
      dropped: a.attisdropped === 't',
      typmod: Number(a.atttypmod),
      notNull: a.attnotnull === 't',
      defaultExpr: a.defexpr,
      generated: a.attgenerated,
      ...(missing !== undefined ? { missing } : {}),
    });
    byRel.set(Number(a.attrelid), list);
  }
  // The primary key and replica identity index as RelationGetIndexList picks them: valid, unique, immediate,
  // without a predicate; their key columns (not INCLUDE ones) as RelationGetIndexAttrBitmap gives them.
  const idx = await c.query({
    text: `select i.indrelid, i.indisprimary, i.indisreplident, array_to_string(i.indkey[0:i.indnkeyatts - 1], ',') as keys
           from pg_index i where i.indrelid = any($1::oid[]) and i.indisvalid and i.indisunique and i.indimmediate
             and i.indpred is null and (i.indisprimary or i.indisreplident)`,
    values: [rel.rows.map((r) => r.oid)],
    types: asText,
  });
  const primaryKey = new Map<number, number[]>();
  const replIdentIndex = new Map<number, number[]>();
  for (const i of idx.rows) {
    // Expression columns (0) name no attribute.
    const keys = (i.keys as string).split(',').map(Number).filter((n) => n > 0);
    if (i.indisprimary === 't') primaryKey.set(Number(i.indrelid), keys);
    if (i.indisreplident === 't') replIdentIndex.set(Number(i.indrelid), keys);
  }
  const identityKey = (oid: number, replident: string): number[] | null =>
    (replident === 'd' ? primaryKey.get(oid) : replident === 'i' ? replIdentIndex.get(oid) : undefined) ?? null;
  const typ = await c.query({
    text: `with recursive used(oid) as (
             select distinct atttypid from pg_attribute where attnum > 0 and attrelid = any($1::oid[])
             union select x from pg_type t join used u on u.oid = t.oid
               cross join lateral (
                 select t.typelem union all select t.typbasetype
                 union all select rngsubtype from pg_range where rngtypid = t.oid
                 union all select rngtypid from pg_range where rngmultitypid = t.oid
                 union all select atttypid from pg_attribute where attrelid = t.typrelid and attnum > 0 and t.typtype = 'c') v(x)
               where x <> 0)
           select t.oid, format_type(t.oid, null) as name, t.typname, (select nspname from pg_namespace where oid = t.typnamespace) as nspname, t.typoutput::text as output, t.typlen, t.typalign, t.typbyval, t.typelem, r.rngsubtype,
                  t.typtype, t.typbasetype, t.typtypmod, t.typrelid, (select m.rngtypid from pg_range m where m.rngmultitypid = t.oid) as multirange_of
           from pg_type t join used u on u.oid = t.oid left join pg_range r on r.rngtypid = t.oid`,
    values: [rel.rows.map((r) => r.oid)],
    types: asText,
  });
  const enums = await c.query({ text: 'select oid, enumtypid, enumlabel from pg_enum', types: asText });
  // The columns of composite types (dropped ones too: they keep their place in a stored value).
  const composite = typ.rows.filter((t) => t.typtype === 'c').map((t) => t.typrelid);
  const fieldRows = await c.query({
    text: `select a.attrelid, a.attnum, a.attname, a.atttypid, a.attlen, a.attalign, a.attbyval, a.attisdropped
           from pg_attribute a where a.attnum > 0 and a.attrelid = any($1::oid[]) order by a.attrelid, a.attnum`,
    values: [composite],
    types: asText,
  });
  const fields = new Map<number, Attribute[]>();
  for (const a of fieldRows.rows) {
    const list = fields.get(Number(a.attrelid)) ?? [];
    list.push({ attnum: Number(a.attnum), name: a.attname, typeOid: Number(a.atttypid), len: Number(a.attlen), align: a.attalign, byval: a.attbyval === 't', dropped: a.attisdropped === 't' });
    fields.set(Number(a.attrelid), list);
  }
  // A domain prints with its base type's output function, which needs the base type's labels, range or columns.
  const typeRows = new Map<number, (typeof typ.rows)[number]>(typ.rows.map((t) => [Number(t.oid), t]));
  const base = (t: (typeof typ.rows)[number]): (typeof typ.rows)[number] => {
    for (let b = t, n = 0; n < 100; n++) {
      if (b.typtype !== 'd') return b;
      const next = typeRows.get(Number(b.typbasetype));
      if (next === undefined) return b;
      b = next;
    }
    return t;
  };
  const labels = new Map<number, Map<number, string>>();
  for (const e of enums.rows) {
    const m = labels.get(Number(e.enumtypid)) ?? new Map<number, string>();
    m.set(Number(e.oid), e.enumlabel);
    labels.set(Number(e.enumtypid), m);
  }
  const { publications, partitions, replicationOrigins, publicationFilenodes, replicationOriginFilenode, namespaceFilenode, databaseLocale } = await loadPublications(c);
  return {
    publications,
    partitions,
    replicationOrigins,
    publicationFilenodes,
    databaseLocale,
    replicationOriginFilenode,
    namespaceFilenode,
    relations: rel.rows.map((r) => ({
      oid: Number(r.oid),
      relfilenode: Number(r.filenode),
      namespace: r.nspname,
      name: r.relname,
      kind: r.relkind,
      replIdent: r.relreplident,
      toastRelid: Number(r.reltoastrelid),
      primaryKey: primaryKey.get(Number(r.oid)) ?? null,
      identityKey: identityKey(Number(r.oid), r.relreplident),
      attributes: byRel.get(Number(r.oid)) ?? [],
    })),
    types: typ.rows.map((t) => ({
      oid: Number(t.oid),
      name: t.name,
      output: t.output,
      len: Number(t.typlen),
      align: t.typalign,
      byval: t.typbyval === 't',
      elem: Number(t.typelem),
      typname: t.typname,
      namespace: t.nspname,
      ...(labels.has(Number(base(t).oid)) ? { enumLabels: Object.fromEntries(labels.get(Number(base(t).oid))!) } : {}),
      ...(base(t).rngsubtype !== null ? { rangeSubtype: Number(base(t).rngsubtype) } : {}),
      ...(base(t).typtype === 'c' && fields.has(Number(base(t).typrelid)) ? { fields: fields.get(Number(base(t).typrelid)) } : {}),
      ...(base(t).multirange_of !== null ? { rangeType: Number(base(t).multirange_of) } : {}),
      ...(t.typtype === 'd' ? { baseType: Number(t.typbasetype), baseTypmod: Number(t.typtypmod) } : {}),
    })),
  };
}

function unwrapArray1(text: string): string | null {
  const inner = text.slice(1, -1);
  if (inner === 'NULL') return null;
  if (inner.startsWith('"')) return inner.slice(1, -1).replace(/\\(.)/g, '$1');
  return inner;
}

/**
 * The publications (15+ catalogs: row filters, column lists, schemas) and the partitions' ancestors, as pgoutput
 * looks them up (GetPublicationByName, GetRelationPublications, get_partition_ancestors).
 */
export async function loadPublications(
  c: pg.Client,
): Promise<{ publications: PublicationInfo[]; partitions: [number, number[]][]; replicationOrigins: [number, string][]; publicationFilenodes: number[]; replicationOriginFilenode: number; namespaceFilenode: number; databaseLocale: DatabaseLocale }> {
  const pubs = await c.query({ text: `select to_jsonb(p) as j from pg_publication p order by p.oid`, types: asText });
  const rels = await c.query({
    text: `select prpubid, prrelid, array_to_string(prattrs, ',') as attrs, pg_get_expr(prqual, prrelid) as qual, prqual::text as node from pg_publication_rel order by prpubid, prrelid`,
    types: asText,
  });
  const nsps = await c.query({ text: `select pnpubid, nspname from pg_publication_namespace join pg_namespace n on n.oid = pnnspid order by pnpubid, nspname`, types: asText });
  const parts = await c.query({
    text: `select c.oid, array_to_string(array(select a.relid::oid from pg_partition_ancestors(c.oid) with ordinality a(relid, n) where a.relid <> c.oid order by n), ',') as anc
           from pg_class c where c.relispartition order by c.oid`,
    types: asText,
  });
  const publications = pubs.rows.map((r): PublicationInfo => {
    const j = JSON.parse(r.j as string) as Record<string, unknown>;
    const oid = Number(j.oid);
    return {
      oid,
      name: String(j.pubname),
      allTables: j.puballtables === true,
      insert: j.pubinsert === true,
      update: j.pubupdate === true,
      delete: j.pubdelete === true,
      truncate: j.pubtruncate === true,
      viaRoot: j.pubviaroot === true,
      ...(typeof j.pubgencols === 'string' ? { generatedColumns: j.pubgencols } : typeof j.pubgencols === 'boolean' ? { generatedColumns: j.pubgencols ? 's' : 'n' } : {}),
      tables: rels.rows
        .filter((t) => Number(t.prpubid) === oid)
        .map((t) => ({ relid: Number(t.prrelid), columns: t.attrs === null || t.attrs === '' ? null : (t.attrs as string).split(',').map(Number), rowFilter: t.qual, rowFilterNode: t.node })),
      schemas: nsps.rows.filter((n) => Number(n.pnpubid) === oid).map((n) => n.nspname as string),
    };
  });
  const partitions = parts.rows.map((r): [number, number[]] => [Number(r.oid), r.anc === '' ? [] : (r.anc as string).split(',').map(Number)]);
  const origins = await c.query({ text: `select roident, roname from pg_replication_origin order by roident`, types: asText });
  const replicationOrigins = origins.rows.map((r): [number, string] => [Number(r.roident), r.roname as string]);
  const fns = await c.query({
    text: `select pg_relation_filenode(c) as fn from unnest(array['pg_catalog.pg_publication', 'pg_catalog.pg_publication_rel', 'pg_catalog.pg_publication_namespace']::regclass[]) c`,
    types: asText,
  });
  const publicationFilenodes = fns.rows.map((r) => Number(r.fn));
  // 15, 16: daticulocale; 17+: datlocale (and the builtin provider 'b').
  const db = await c.query({ text: `select to_jsonb(d) as j from pg_database d where datname = current_database()`, types: asText });
  const d = JSON.parse(db.rows[0].j as string) as Record<string, unknown>;
  const locale = (d.datlocale ?? d.daticulocale ?? null) as string | null;
  const databaseLocale: DatabaseLocale = { provider: String(d.datlocprovider ?? 'c'), collate: String(d.datcollate), ctype: String(d.datctype), locale };
  const ro = await c.query({ text: `select pg_relation_filenode('pg_catalog.pg_replication_origin') as fn, pg_relation_filenode('pg_catalog.pg_namespace') as nsp`, types: asText });
  return { publications, partitions, replicationOrigins, publicationFilenodes, replicationOriginFilenode: Number(ro.rows[0].fn), namespaceFilenode: Number(ro.rows[0].nsp), databaseLocale };
}
