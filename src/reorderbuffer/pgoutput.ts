// The pgoutput output plugin: the logical replication protocol's messages, byte for byte as the server's
// pgoutput writes them (what pg_logical_slot_peek_binary_changes returns for a pgoutput slot), filtered by
// the publications named in publication_names.
import { InvalidArgumentError, WalFormatError } from '../errors.js';
import type { Major } from '../xlogreader/profile.js';
import { formatLsn, type Lsn } from '../lsn.js';
import { RowFilter, RowFilterEvalError, RowFilterUnsupportedError, type ColumnValue } from './rowfilter.js';
import { type CatalogView, type DatabaseLocale, type DecoderCatalog, type DecoderRelation, type PublicationInfo, type SchemaChange } from './catalog.js';
import { PgOutputCatalog, PgOutputUnsupportedError, type PgOutputInvalidation } from './pgoutput-catalog.js';
import type { MessageChange, OutputContext, OutputPlugin, ReorderTxn, RowChange, TruncateChange } from './plugin.js';
import { FIRST_GENBKI_OBJECT_ID, PgOutputRowWriter, type RowTarget } from './pgoutput-rows.js';
import {
  MessageWriter,
  MSG_PREPARE,
  MSG_STREAM_PREPARE,
  writeBegin,
  writeBeginPrepare,
  writeCommit,
  writeCommitPrepared,
  writeMessage,
  writeOrigin,
  writeStreamAbort,
  writeStreamCommit,
  writeStreamStart,
  writeStreamStop,
  writePrepare,
  writeRelation,
  writeRollbackPrepared,
  writeTruncate,
  writeType,
  type RelationColumn,
} from './pgoutput-proto.js';
import type { Attribute, RawValue } from './tuple.js';
import { StoredRowChange } from './change.js';
import type { TypeInfo } from './values.js';
import { parsePgBool } from './wal2json.js';

export type PgOutputStreaming = 'off' | 'on' | 'parallel';

export interface PgOutputOptions {
  protoVersion: number;
  publicationNames: string[];
  binary: boolean;
  messages: boolean;
  streaming: PgOutputStreaming;
  twoPhase: boolean;
  /** 16+: 'none' publishes only changes without a replication origin. */
  origin: 'any' | 'none';
}

/** LOGICALREP_PROTO_MAX_VERSION_NUM by major. */
export const maxProtoVersion = (major: number): number => (major >= 16 ? 4 : 3);

/**
 * SplitIdentifierString(publication_names, ','): names separated by commas, blanks around them, double quotes
 * keep case and commas; unquoted names are folded to lower case.
 */
// see SplitIdentifierString (varlena.c)
export function splitIdentifiers(raw: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  const blank = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';
  while (blank(raw[i])) i++;
  if (i >= raw.length) return out;
  for (;;) {
    let name: string;
    if (raw[i] === '"') {
      name = '';
      i++;
      for (;;) {
        const e = raw.indexOf('"', i);
        if (e < 0) return undefined;
        name += raw.slice(i, e);
        i = e + 1;
        if (raw[i] === '"') {
          name += '"';
          i++;
        } else break;
      }
      if (name === '') return undefined;
    } else {
      const start = i;
      while (i < raw.length && raw[i] !== ',' && !blank(raw[i])) i++;
      if (start === i) return undefined;
      name = raw.slice(start, i).toLowerCase();
    }
    while (blank(raw[i])) i++;
    out.push(name);
    if (raw[i] === ',') {
      i++;
      while (blank(raw[i])) i++;
    } else if (i >= raw.length) return out;
    else return undefined;
  }
}

const bad = (message: string): InvalidArgumentError => new InvalidArgumentError(message);

/**
 * pgoutput's options as START_REPLICATION or the SQL functions pass them (a null value: given without one),
 * checked as parse_output_parameters and pgoutput_startup check them on `major`.
 */
// see parse_output_parameters and pgoutput_startup (pgoutput.c)
export function parsePgOutputOptions(options: Iterable<readonly [string, string | null]>, major: number): PgOutputOptions {
  const seen = new Set<string>();
  let protoVersion: number | undefined;
  let publicationNames: string[] | undefined;
  const o: Omit<PgOutputOptions, 'protoVersion' | 'publicationNames'> = { binary: false, messages: false, streaming: 'off', twoPhase: false, origin: 'any' };
  const boolOf = (name: string, value: string | null): boolean => {
    if (value === null) return true;
    const b = parsePgBool(value);
    if (b === undefined) throw bad(`${name} requires a Boolean value`);
    return b;
  };
  for (const [name, value] of options) {
    const known = ['proto_version', 'publication_names', 'binary', 'messages', 'streaming', 'two_phase', ...(major >= 16 ? ['origin'] : [])];
    if (!known.includes(name)) throw bad(`unrecognized pgoutput option: ${name}`);
    if (seen.has(name)) throw bad('conflicting or redundant options');
    seen.add(name);
    switch (name) {
      case 'proto_version': {
        const t = (value ?? '').trim();
        if (!/^[+-]?\d+$/.test(t)) throw bad(`invalid proto_version`);
        const n = Number(t);
        if (n > 0xffffffff || n < 0) throw bad(`proto_version "${value}" out of range`);
        protoVersion = n;
        break;
      }
      case 'publication_names': {
        const list = splitIdentifiers(value ?? '');
        if (list === undefined) throw bad('invalid publication_names syntax');
        publicationNames = list;
        break;
      }
      case 'binary':
        o.binary = boolOf(name, value);
        break;
      case 'messages':
        o.messages = boolOf(name, value);
        break;
      case 'streaming':
        if (major >= 16 && value !== null && value.toLowerCase() === 'parallel') o.streaming = 'parallel';
        else if (major >= 16 && value !== null && parsePgBool(value) === undefined) throw bad(`${name} requires a Boolean value or "parallel"`);
        else o.streaming = boolOf(name, value) ? 'on' : 'off';
        break;
      case 'two_phase':
        o.twoPhase = boolOf(name, value);
        break;
      case 'origin': {
        const v = (value ?? '').toLowerCase();
        if (v !== 'none' && v !== 'any') throw bad(`unrecognized origin value: "${value ?? ''}"`);
        o.origin = v;
        break;
      }
    }
  }
  // 17 checks that both are given; before, a missing proto_version is 0 and missing names an empty list.
  if (major >= 17 && protoVersion === undefined) throw bad('option "proto_version" missing');
  if (major >= 17 && publicationNames === undefined) throw bad('option "publication_names" missing');
  protoVersion ??= 0;
  const max = maxProtoVersion(major);
  const who = major >= 16 ? 'server only supports' : 'we only support';
  if (protoVersion > max) throw bad(`client sent proto_version=${protoVersion} but ${who} protocol ${max} or lower`);
  if (protoVersion < 1) throw bad(`client sent proto_version=${protoVersion} but ${who} protocol 1 or higher`);
  if (publicationNames === undefined || publicationNames.length === 0) throw bad('publication_names parameter missing');
  if (o.streaming === 'on' && protoVersion < 2) throw bad(`requested proto_version=${protoVersion} does not support streaming, need 2 or higher`);
  if (o.streaming === 'parallel' && protoVersion < 4) throw bad(`requested proto_version=${protoVersion} does not support parallel streaming, need 4 or higher`);
  if (o.twoPhase && protoVersion < 3) throw bad(`requested proto_version=${protoVersion} does not support two-phase commit, need 3 or higher`);
  return { protoVersion, publicationNames, ...o };
}

/** What a relation publishes (RelationSyncEntry, as get_rel_sync_entry fills it). */
interface SyncEntry extends RowTarget {
  /** The partition's own published columns (its own Relation message), when the target is an ancestor. */
  ownColumns: number[];
  insert: boolean;
  update: boolean;
  delete: boolean;
  truncate: boolean;
  /** Row filters per action (OR-ed), when every publication publishing the action filters it. */
  filters: { insert: PubFilter[]; update: PubFilter[]; delete: PubFilter[] };
}

/**
 * Takes a stored change's message to be written elsewhere (true), as `rows.write` would write it with `e`, `xid`
 * and the change's own action; false: it is written here.
 */
export type PgOutputRowSink = (ctx: OutputContext, e: RowTarget, xid: number, change: StoredRowChange) => boolean;

/** Takes the Begin and Commit messages of a transaction to be written elsewhere (as writeBegin and writeCommit would). */
export interface PgOutputTxnSink {
  begin(ctx: OutputContext, finalLsn: Lsn, commitTime: bigint, xid: number): void;
  commit(ctx: OutputContext, commitLsn: Lsn, endLsn: Lsn, commitTime: bigint): void;
}

/** One publication's row filter on the published relation, compiled with the relation's entry. */
interface PubFilter {
  pub: string;
  /** pg_get_expr's text, for messages. */
  expr: string;
  node: string | null | undefined;
  compiled?: RowFilter;
  /** Why pgwal cannot evaluate it: an error when a change needs it (the server's would evaluate it). */
  unsupported?: RowFilterUnsupportedError;
}

/** What a Relation message says of a relation: two answers with the same shape send the same message. */
const relationShape = (r: DecoderRelation): string =>
  JSON.stringify([r.namespace, r.name, r.replIdent, r.identityKey, r.attributes.map((a) => [a.attnum, a.name, a.typeOid, a.typmod, a.dropped, a.generated])]);

export { PgOutputCatalog, PgOutputUnsupportedError, type PgOutputInvalidation };

/** The pgoutput plugin. One instance per decoding session (the server's RelationSyncCache lives as long). */
export class PgOutputPlugin implements OutputPlugin {
  readonly options: PgOutputOptions;
  private readonly w = new MessageWriter();
  /** Writes row messages (into `w`). */
  private readonly rows: PgOutputRowWriter;
  /** Where stored changes' messages go instead (the CLI's second thread), once set. */
  rowSink: PgOutputRowSink | undefined = undefined;
  /** Where Begin and Commit go instead (the CLI's second thread), once set. */
  txnSink: PgOutputTxnSink | undefined = undefined;
  /** data->publications: those named in publication_names, as last loaded (LoadPublications). */
  private publications: PublicationInfo[];
  /** The catalog view made by catalogView: the invalidations and origins read from the records. */
  private catalog: PgOutputCatalog | undefined;
  /** publications_valid: false once pg_publication changed; the list is loaded again at the next entry built. */
  private publicationsValid = true;
  /** The transaction being replayed, and how many of its own commands' invalidations were executed. */
  private ownXid = 0;
  private ownApplied = 0;
  /** Commits of others while it was in progress (their invalidations were distributed to it), and how many ran. */
  private distributed: PgOutputInvalidation[] = [];
  private distributedApplied = 0;
  private readonly ancestors: Map<number, number[]>;
  private readonly entries = new Map<number, SyncEntry>();
  /** Relations whose schema went out (schema_sent), until an invalidation of the relation. */
  private readonly schemaSent = new Set<number>();
  /** Transactions whose BEGIN went out (sent_begin_txn). */
  private sentBegin = false;
  private inStreaming = false;
  /** Streamed transactions: their first block went out (rbtxn_is_streamed), and the relations sent in them. */
  private readonly streamed = new Map<number, Set<number>>();

  /**
   * `publications`: every publication of the database (the catalog's, as of the slot's creation); those named in
   * publication_names must be among them, as GetPublicationByName requires.
   */
  constructor(
    options: PgOutputOptions,
    private readonly major: number,
    publications: readonly PublicationInfo[] | undefined,
    partitions: readonly [number, number[]][] = [],
    private readonly origins: ReadonlyMap<number, string> = new Map(),
    /** The database's locale (pg_database), how row filters order text; undefined: only C-collated text is ordered. */
    private readonly locale?: DatabaseLocale,
  ) {
    this.options = options;
    this.rows = new PgOutputRowWriter(this.w, options.binary);
    if (publications === undefined) {
      throw new InvalidArgumentError('the slot state carries no publications: make the slot state again with this pgwal to decode with pgoutput');
    }
    this.publications = this.load(publications, undefined);
    this.ancestors = new Map(partitions);
  }

  // see LoadPublications (pgoutput.c): 18 skips a publication that does not exist (with a WARNING), earlier majors fail.
  private load(all: readonly PublicationInfo[], lsn: Lsn | undefined): PublicationInfo[] {
    const out: PublicationInfo[] = [];
    for (const name of this.options.publicationNames) {
      const p = all.find((x) => x.name === name);
      if (p !== undefined) out.push(p);
      else if (this.major < 18) {
        if (lsn === undefined) throw new InvalidArgumentError(`publication "${name}" does not exist`);
        throw new PgOutputUnsupportedError('publication-dropped', `publication "${name}" does not exist (at ${formatLsn(lsn)})`, { lsn });
      }
    }
    return out;
  }

  /**
   * The catalog to decode with: `inner`, with what pgoutput reads from the records besides — the invalidations the
   * server executes (publication changes among them) and replication origins made after the slot. Over a catalog
   * that does not follow publications, a change to them stops decoding at its record.
   */
  catalogView(inner: CatalogView, catalog: Pick<DecoderCatalog, 'publicationFilenodes' | 'replicationOrigins' | 'replicationOriginFilenode' | 'namespaceFilenode'>): CatalogView {
    this.catalog = new PgOutputCatalog(inner, catalog, this.major as Major);
    return this.catalog;
  }

  /**
   * Executes the invalidations the server has executed before this point: those of every transaction that ended
   * before `upTo` (in the order decoding reads them), then the replayed transaction's own commands' before `at`.
   */
  // see ReorderBufferProcessTXN (REORDER_BUFFER_CHANGE_INVALIDATION) and ReorderBufferImmediateInvalidation
  private sync(txn: ReorderTxn, upTo: Lsn, at: Lsn | undefined): void {
    const cat = this.catalog;
    if (cat === undefined) return;
    if (txn.xid !== this.ownXid) {
      this.ownXid = txn.xid;
      this.ownApplied = 0;
      this.distributedApplied = 0;
      if (this.distributed.length > 0) this.distributed = [];
      // Known at a replay from its end (not for a streamed block): the commits while it was in progress.
      if (txn.finalLsn > 0) {
        let from = cat.head;
        while (from > 0 && cat.ends[from - 1]!.lsn > txn.firstLsn) from--;
        for (let i = from; i < cat.ends.length && cat.ends[i]!.lsn < txn.finalLsn; i++) {
          const e = cat.ends[i]!;
          if (e.commit && e.xid !== txn.xid && e.lsn > txn.firstLsn) this.distributed.push(e);
        }
      }
    }
    while (cat.head < cat.ends.length && cat.ends[cat.head]!.lsn < upTo) this.execute(cat.ends[cat.head++]!);
    cat.release();
    if (at === undefined) return;
    // The transaction's own commands' and the distributed invalidations before this change, in WAL order.
    const own = cat.commandsOf(txn.xid);
    for (;;) {
      const o = this.ownApplied < own.length && own[this.ownApplied]!.lsn < at ? own[this.ownApplied]! : undefined;
      const d = this.distributedApplied < this.distributed.length && this.distributed[this.distributedApplied]!.lsn < at ? this.distributed[this.distributedApplied]! : undefined;
      if (o === undefined && d === undefined) break;
      if (d === undefined || (o !== undefined && o.lsn < d.lsn)) {
        this.execute(o!);
        this.ownApplied++;
      } else {
        this.execute(d);
        this.distributedApplied++;
      }
    }
  }

  // see rel_sync_cache_relation_cb, rel_sync_cache_publication_cb and publication_invalidation_cb (pgoutput.c): an
  // entry marked invalid is rebuilt at its next use, and a rebuilt entry sends its schema again. A pg_namespace
  // change marks every entry (16+); before 18 a change to any publication catalog does too, 18 leaves that to the
  // relcache (and relsync) messages of the relations concerned.
  private execute(e: PgOutputInvalidation): void {
    if (e.publications) this.publicationsValid = false;
    if (((e.publications || e.members) && this.major < 18) || (e.namespaces && this.major >= 16) || e.relids.includes(0)) {
      this.entries.clear();
      this.schemaSent.clear();
      for (const sent of this.streamed.values()) sent.clear();
    } else for (const relid of e.relids) this.invalidate(relid);
  }

  /** get_partition_ancestors: from the historic catalog where it keeps pg_inherits, else as at the slot's creation. */
  private ancestorsOf(txn: ReorderTxn, relid: number, lsn: Lsn): number[] {
    return this.catalog?.partitionAncestors(relid, { lsn, xid: txn.xid }) ?? this.ancestors.get(relid) ?? [];
  }

  /** The publications an entry is built from: the loaded ones (reloaded if invalid), with their current members. */
  private publicationsAt(txn: ReorderTxn, lsn: Lsn): PublicationInfo[] {
    const now = this.catalog?.publications({ lsn, xid: txn.xid });
    if (now === undefined) return this.publications;
    if (!this.publicationsValid) {
      this.publications = this.load(now, lsn);
      this.publicationsValid = true;
      return this.publications;
    }
    // GetRelationPublications and GetSchemaPublications read the catalog now; the options are those loaded.
    return this.publications.map((p) => {
      const cur = now.find((x) => x.oid === p.oid);
      return cur === undefined ? { ...p, tables: [], schemas: [] } : cur === p ? p : { ...p, tables: cur.tables, schemas: cur.schemas };
    });
  }

  // see pgoutput_origin_filter (pgoutput.c)
  filterByOrigin(originId: number): boolean {
    return this.options.origin === 'none' && originId !== 0;
  }

  /** The writer's message as one row: lent where the context takes it so (the CLI hexes it at once), else a copy. */
  private emit(ctx: OutputContext, w: MessageWriter): void {
    if (ctx.writeBytes !== undefined) ctx.writeBytes(w.buffer, w.length);
    else ctx.write(w.finish());
  }

  // see pgoutput_begin_txn: BEGIN waits for the first change that is sent
  begin(_ctx: OutputContext, txn: ReorderTxn): void {
    this.sync(txn, txn.finalLsn, undefined);
    this.sentBegin = false;
  }

  // see pgoutput_send_begin and send_repl_origin (pgoutput.c)
  private sendBegin(ctx: OutputContext, txn: ReorderTxn, lsn: Lsn): void {
    if (this.txnSink !== undefined) this.txnSink.begin(ctx, txn.finalLsn, txn.commitTime, txn.xid);
    else this.emit(ctx, writeBegin(this.w, txn.finalLsn, txn.commitTime, txn.xid));
    this.sentBegin = true;
    this.sendOrigin(ctx, txn, lsn);
  }

  // see send_repl_origin (pgoutput.c): the origin's name and the LSN its commit had there
  private sendOrigin(ctx: OutputContext, txn: ReorderTxn, lsn: Lsn): void {
    if (txn.originId === 0) return;
    if (this.catalog !== undefined) {
      // replorigin_by_oid(missing_ok): an origin that is not there (dropped since) sends nothing
      const known = this.catalog.originName(txn.originId, lsn);
      if (known !== undefined) this.emit(ctx, writeOrigin(this.w, txn.originLsn ?? 0, known));
      return;
    }
    const name = this.origins.get(txn.originId);
    if (name === undefined) {
      // The server sends nothing for an origin dropped since; one created after the slot pgwal cannot name.
      throw new PgOutputUnsupportedError('unknown-origin', `replication origin ${txn.originId} of the transaction at ${formatLsn(lsn)} is not among those recorded at the slot's creation: pgwal cannot write its Origin message`, { lsn });
    }
    this.emit(ctx, writeOrigin(this.w, txn.originLsn ?? 0, name));
  }

  // see pgoutput_commit_txn (pgoutput.c): an empty transaction sends nothing
  commit(ctx: OutputContext, txn: ReorderTxn): void {
    this.endOfTxn();
    if (!this.sentBegin) return;
    this.sentBegin = false;
    if (this.txnSink !== undefined) this.txnSink.commit(ctx, txn.finalLsn, txn.endLsn, txn.commitTime);
    else this.emit(ctx, writeCommit(this.w, txn.finalLsn, txn.endLsn, txn.commitTime));
  }

  beginPrepare(ctx: OutputContext, txn: ReorderTxn): void {
    this.sync(txn, txn.finalLsn, undefined);
    this.emit(ctx, writeBeginPrepare(this.w, txn.finalLsn, txn.endLsn, txn.commitTime, txn.xid, txn.gid ?? ''));
    this.sendOrigin(ctx, txn, txn.finalLsn);
    // Changes of a prepared transaction do not send BEGIN again.
    this.sentBegin = true;
  }

  prepare(ctx: OutputContext, txn: ReorderTxn): void {
    this.endOfTxn();
    this.sentBegin = false;
    this.emit(ctx, writePrepare(this.w, MSG_PREPARE, txn.finalLsn, txn.endLsn, txn.commitTime, txn.xid, txn.gid ?? ''));
  }

  commitPrepared(ctx: OutputContext, txn: ReorderTxn): void {
    this.emit(ctx, writeCommitPrepared(this.w, txn.finalLsn, txn.endLsn, txn.commitTime, txn.xid, txn.gid ?? ''));
  }

  // see pgoutput_rollback_prepared_txn (pgoutput.c) and ReorderBufferFinishPrepared (reorderbuffer.c)
  rollbackPrepared(ctx: OutputContext, txn: ReorderTxn): void {
    if (txn.prepareEndLsn === undefined || txn.prepareTime === undefined) {
      throw new PgOutputUnsupportedError('unsupported-rollback-prepared', `ROLLBACK PREPARED at ${formatLsn(txn.finalLsn)} (gid "${txn.gid ?? ''}") comes without its PREPARE's end and time`, { lsn: txn.finalLsn });
    }
    this.emit(ctx, writeRollbackPrepared(this.w, txn.prepareEndLsn, txn.endLsn, txn.prepareTime, txn.commitTime, txn.xid, txn.gid ?? ''));
  }

  /** A schema change resends the relation before its next change (rel_sync_cache_relation_cb). */
  ddl(_ctx: OutputContext, _txn: ReorderTxn, change: SchemaChange): void {
    this.invalidate(change.oid);
  }

  private invalidate(relid: number): void {
    this.entries.delete(relid);
    this.schemaSent.delete(relid);
    for (const sent of this.streamed.values()) sent.delete(relid);
  }

  // see get_rel_sync_entry (pgoutput.c)
  private entry(ctx: OutputContext, txn: ReorderTxn, rel: DecoderRelation, lsn: Lsn): SyncEntry {
    const hit = this.entries.get(rel.oid);
    if (hit !== undefined && hit.relation === rel) return hit;
    // The catalog's answer changed inside a transaction (DDL before this change in the same transaction): the
    // server executed that command's invalidation here, so the schema goes out again if what it says differs.
    const reshaped = hit !== undefined && relationShape(hit.relation) !== relationShape(rel);
    // Following the server's invalidations, an entry no invalidation reached stays as built (under the snapshot
    // of its build, as the server's does), whatever the catalog says now of its publications.
    if (hit !== undefined && !reshaped && this.catalog !== undefined) {
      if (hit.target === hit.relation) hit.target = rel;
      hit.relation = rel;
      return hit;
    }
    if (reshaped) this.schemaSent.delete(rel.oid);
    const ancestors = this.ancestorsOf(txn, rel.oid, lsn);
    const nspOf = (oid: number): string | undefined => (oid === rel.oid ? rel.namespace : ctx.relation?.(oid)?.namespace);
    const inPub = (pub: PublicationInfo, oid: number): boolean => pub.tables.some((t) => t.relid === oid) || (pub.schemas.length > 0 && pub.schemas.includes(nspOf(oid) ?? '\0'));
    const acts = { insert: false, update: false, delete: false, truncate: false };
    let publishAs = rel.oid;
    let publishLevel = 0;
    let relPubs: PublicationInfo[] = [];
    for (const pub of this.publicationsAt(txn, lsn)) {
      let publish = false;
      let pubRelid = rel.oid;
      let level = 0;
      if (pub.allTables) {
        publish = true;
        if (pub.viaRoot && ancestors.length > 0) {
          pubRelid = ancestors[ancestors.length - 1]!;
          level = ancestors.length;
        }
      }
      if (!publish) {
        // GetTopMostAncestorInPublication: the highest ancestor this publication includes.
        let ancestorPublished = false;
        for (let k = 0; k < ancestors.length; k++) {
          if (!inPub(pub, ancestors[k]!)) continue;
          ancestorPublished = true;
          if (pub.viaRoot) {
            pubRelid = ancestors[k]!;
            level = k + 1;
          }
        }
        publish = inPub(pub, rel.oid) || ancestorPublished;
      }
      if (!publish || (rel.kind === 'p' && !pub.viaRoot)) continue;
      acts.insert ||= pub.insert;
      acts.update ||= pub.update;
      acts.delete ||= pub.delete;
      acts.truncate ||= pub.truncate;
      if (publishLevel > level) continue;
      if (publishLevel < level) {
        publishAs = pubRelid;
        publishLevel = level;
        relPubs = [];
      }
      relPubs.push(pub);
    }
    const target = publishAs === rel.oid ? rel : ctx.relation?.(publishAs);
    if (target === undefined) throw new WalFormatError('unknown-relation', `the catalog lacks relation ${publishAs}, the ancestor ${rel.namespace}.${rel.name} is published through (at ${formatLsn(lsn)})`, { lsn });
    const e: SyncEntry = { relation: rel, target, map: undefined, ...acts, columns: [], ownColumns: [], filters: { insert: [], update: [], delete: [] } };
    const member = (pub: PublicationInfo): PublicationInfo['tables'][number] | undefined =>
      pub.allTables || pub.schemas.includes(target.namespace) ? undefined : pub.tables.find((t) => t.relid === target.oid);
    // Row filters (pgoutput_row_filter_init): a publication without one for the table wins for its actions.
    const noFilter = { insert: false, update: false, delete: false };
    const filters: { pub: PublicationInfo; filter: PubFilter }[] = [];
    for (const pub of relPubs) {
      const m = member(pub);
      // A filter known by its text (pg_get_expr), its node tree (prqual), or both.
      if (m === undefined || (m.rowFilter === null && (m.rowFilterNode ?? null) === null)) {
        noFilter.insert ||= pub.insert;
        noFilter.update ||= pub.update;
        noFilter.delete ||= pub.delete;
      } else filters.push({ pub, filter: { pub: pub.name, expr: m.rowFilter ?? m.rowFilterNode!, node: m.rowFilterNode } });
    }
    // One compiled filter per publication, shared by its actions.
    for (const { pub, filter } of filters) {
      for (const a of ['insert', 'update', 'delete'] as const) if (pub[a] && !noFilter[a]) e.filters[a].push(filter);
    }
    // ExecPrepareExpr in pgoutput_row_filter_init: the filters are prepared (and folded) with the entry, so a
    // constant part that fails fails the relation's first change, whatever it is.
    for (const { filter: f } of filters) {
      if (!e.filters.insert.includes(f) && !e.filters.update.includes(f) && !e.filters.delete.includes(f)) continue;
      try {
        if (f.node === undefined || f.node === null) throw new RowFilterUnsupportedError('no-node-tree', "the slot state lacks the filter's node tree: make the slot state again with this pgwal");
        f.compiled = new RowFilter(f.node, target, { type: ctx.type, ...(this.locale !== undefined ? { locale: this.locale } : {}) });
      } catch (err) {
        if (!(err instanceof RowFilterUnsupportedError)) throw err;
        f.unsupported = err;
        continue;
      }
      if (f.compiled.foldError !== undefined) throw filterError(f, target, rel, lsn, f.compiled.foldError);
    }
    // Column lists (pgoutput_column_list_init): all publications of the table must agree.
    let list: number[] | null | undefined;
    let gencols: string | undefined;
    for (const pub of relPubs) {
      const cols = member(pub)?.columns ?? null;
      const sorted = cols === null ? null : [...cols].sort((x, y) => x - y);
      if (list === undefined) list = sorted;
      else if (JSON.stringify(list) !== JSON.stringify(sorted)) {
        throw new WalFormatError('invalid-publication', `cannot use different column lists for table "${target.namespace}.${target.name}" in different publications`, { lsn });
      }
      const g = pub.generatedColumns ?? 'n';
      if (gencols === undefined) gencols = g;
      else if (gencols !== g) throw new WalFormatError('invalid-publication', `cannot use different values of publish_generated_columns for table "${target.namespace}.${target.name}" in different publications`, { lsn });
    }
    // see logicalrep_should_publish_column (proto.c); a column list's attribute numbers are the target's, and the
    // partition's own Relation message applies them to its own columns, as the server does.
    const published = (r: DecoderRelation): number[] => {
      const out: number[] = [];
      for (let i = 0; i < r.attributes.length; i++) {
        const a = r.attributes[i]!;
        if (a.dropped) continue;
        if (a.generated === undefined) {
          throw new WalFormatError('incomplete-catalog', `the catalog of ${r.namespace}.${r.name} does not say which columns are generated: make the slot state again with this pgwal (at ${formatLsn(lsn)})`, { lsn });
        }
        if (list !== undefined && list !== null) {
          if (!list.includes(a.attnum)) continue;
        } else if (a.generated !== '' && !(a.generated === 's' && gencols === 's')) continue;
        out.push(i);
      }
      return out;
    };
    e.columns = published(target);
    e.ownColumns = target === rel ? e.columns : published(rel);
    if (target !== rel) {
      // execute_attr_map_slot: the ancestor's columns by name from the partition's (a dropped one is null).
      e.map = target.attributes.map((a) => (a.dropped ? -1 : rel.attributes.findIndex((b) => !b.dropped && b.name === a.name)));
    }
    this.entries.set(rel.oid, e);
    return e;
  }

  // see maybe_send_schema (pgoutput.c)
  private maybeSendSchema(ctx: OutputContext, txn: ReorderTxn, e: SyncEntry): void {
    const streamXid = this.inStreaming ? (ctx.changeXid ?? txn.xid) : 0;
    const sentIn = this.inStreaming ? this.streamed.get(txn.xid) : undefined;
    const rel = e.relation;
    if (sentIn !== undefined ? sentIn.has(rel.oid) : this.schemaSent.has(rel.oid)) return;
    // Published through an ancestor: its schema first, then the partition's own.
    if (e.target !== rel) this.sendRelationAndAttrs(ctx, streamXid, e.target, e.columns);
    this.sendRelationAndAttrs(ctx, streamXid, rel, e.ownColumns);
    if (sentIn !== undefined) sentIn.add(rel.oid);
    else this.schemaSent.add(rel.oid);
  }

  // see send_relation_and_attrs (pgoutput.c): Type messages for user types, then the Relation message
  private sendRelationAndAttrs(ctx: OutputContext, streamXid: number, rel: DecoderRelation, cols: readonly number[]): void {
    for (const i of cols) {
      const a = rel.attributes[i]!;
      if (a.typeOid < FIRST_GENBKI_OBJECT_ID) continue;
      const base = this.baseType(ctx, a, rel);
      this.emit(ctx, writeType(this.w, streamXid, a.typeOid, base.namespace!, base.typname!));
    }
    const identity = rel.replIdent === 'f' ? undefined : rel.identityKey;
    if (rel.replIdent !== 'f' && identity === undefined) {
      throw new WalFormatError('incomplete-catalog', `the catalog of ${rel.namespace}.${rel.name} lacks its replica identity key: make the slot state again with this pgwal`);
    }
    const columns: RelationColumn[] = cols.map((i) => {
      const a = rel.attributes[i]!;
      if (a.typmod === undefined) throw new WalFormatError('incomplete-catalog', `the catalog of ${rel.namespace}.${rel.name} lacks column type modifiers: make the slot state again with this pgwal`);
      return { isKey: rel.replIdent === 'f' || (identity ?? []).includes(a.attnum), name: a.name, typeOid: a.typeOid, typmod: a.typmod };
    });
    this.emit(ctx, writeRelation(this.w, streamXid, rel.oid, rel.namespace, rel.name, rel.replIdent ?? 'd', columns));
  }

  /** getBaseType: the type a domain is over, down to a non-domain, with its name and namespace. */
  private baseType(ctx: OutputContext, a: Attribute, rel: DecoderRelation): TypeInfo {
    let t = ctx.type(a.typeOid);
    for (let n = 0; t !== undefined && t.baseType !== undefined && n < 100; n++) t = ctx.type(t.baseType);
    if (t === undefined || t.typname === undefined || t.namespace === undefined) {
      throw new WalFormatError('incomplete-catalog', `the catalog lacks the name of type ${a.typeOid} (column ${a.name} of ${rel.namespace}.${rel.name}): make the slot state again with this pgwal`);
    }
    return t;
  }

  // see pgoutput_change (pgoutput.c)
  change(ctx: OutputContext, txn: ReorderTxn, change: RowChange): void {
    const rel = change.relation;
    if (rel.kind !== 'r' && rel.kind !== 'p') return;
    this.sync(txn, this.inStreaming ? change.lsn : txn.finalLsn, change.lsn);
    const e = this.entry(ctx, txn, rel, change.lsn);
    if (change.action === 'INSERT' ? !e.insert : change.action === 'UPDATE' ? !e.update : !e.delete) return;
    // A DELETE without the old key cannot be published (replica identity nothing, or no key).
    const hasOld = change instanceof StoredRowChange ? change.oldAt >= 0 : change.oldTuple !== undefined;
    if (change.action === 'DELETE' && !hasOld) return;
    let action: RowChange['action'] = change.action;
    // Read only where written (a stored change deforms its tuple into value objects when asked).
    let newTuple: readonly RawValue[] | undefined;
    const filters = action === 'INSERT' ? e.filters.insert : action === 'UPDATE' ? e.filters.update : e.filters.delete;
    if (filters.length > 0) {
      const r = this.rowFilter(e, filters, change);
      if (r === undefined) return;
      action = r.action;
      newTuple = r.newTuple;
    }
    // In a streamed block: the xid of the (sub)transaction that made the change.
    const xid = this.inStreaming ? (ctx.changeXid ?? txn.xid) : 0;
    if (!this.inStreaming && !this.sentBegin) this.sendBegin(ctx, txn, change.lsn);
    this.maybeSendSchema(ctx, txn, e);
    const stored = filters.length === 0 && change instanceof StoredRowChange ? change : undefined;
    // Where the CLI formats on a second thread, a stored change's message is written there (same bytes).
    if (stored !== undefined && this.rowSink?.(ctx, e, xid, stored) === true) return;
    // Without a filter the change's own values (undefined: a stored change deforms them only where written).
    this.emit(ctx, this.rows.write(ctx, e, action, xid, change, hasOld, stored, filters.length > 0 ? newTuple : undefined));
  }

  /**
   * see pgoutput_row_filter (pgoutput.c): INSERT tests the new row, DELETE the old; an UPDATE with an old row tests
   * both (the new with its unchanged TOAST values taken from the old), and becomes a DELETE when only the old row
   * matches, an INSERT of that new row when only the new one does. Undefined: the change is not published.
   */
  private rowFilter(e: SyncEntry, filters: PubFilter[], change: RowChange): { action: RowChange['action']; newTuple: readonly RawValue[] | undefined } | undefined {
    const rel = change.relation;
    const target = e.target;
    const map = e.map;
    // The filters' Vars are the published relation's attnums; a partition's row is read through the name map.
    const reader = (values: readonly RawValue[]): ColumnValue => (attnum) => {
      const i = target.attributes.findIndex((a) => a.attnum === attnum);
      const k = map === undefined || i < 0 ? i : map[i];
      return k === undefined || k < 0 ? undefined : values[k];
    };
    // OR of the publications' filters, stopping at the first that matches (make_orclause).
    const test = (values: readonly RawValue[]): boolean => {
      for (const f of filters) {
        if (f.compiled === undefined) throw filterError(f, target, rel, change.lsn, f.unsupported!);
        try {
          if (f.compiled.matches(reader(values))) return true;
        } catch (err) {
          if (err instanceof RowFilterEvalError || err instanceof RowFilterUnsupportedError) throw filterError(f, target, rel, change.lsn, err);
          throw err;
        }
      }
      return false;
    };
    const oldTuple = change.oldTuple;
    const newTuple = change.newTuple;
    if (change.action !== 'UPDATE' || oldTuple === undefined || newTuple === undefined) {
      return test((newTuple ?? oldTuple)!) ? { action: change.action, newTuple } : undefined;
    }
    // Unchanged TOAST values of the new row from the old row (a replica identity column's, logged there).
    let merged: RawValue[] | undefined;
    for (let i = 0; i < newTuple.length; i++) {
      const n = newTuple[i]!;
      const o = oldTuple[i];
      if (n.kind !== 'toast' || o === undefined || o.kind === 'null' || o.kind === 'toast' || (o.kind === 'missing' && o.text === null)) continue;
      merged ??= [...newTuple];
      merged[i] = o;
    }
    const oldMatched = test(oldTuple);
    const newMatched = test(merged ?? newTuple);
    if (!oldMatched && !newMatched) return undefined;
    if (!oldMatched) return { action: 'INSERT', newTuple: merged ?? newTuple };
    if (!newMatched) return { action: 'DELETE', newTuple: undefined };
    return { action: 'UPDATE', newTuple };
  }

  // see pgoutput_truncate (pgoutput.c)
  truncate(ctx: OutputContext, txn: ReorderTxn, change: TruncateChange): void {
    // The new storage was made (and its invalidation logged, at a command boundary) before the TRUNCATE record;
    // the transaction's invalidations run again at its end.
    for (const rel of change.relations) {
      this.invalidate(rel.oid);
      this.atEnd.add(rel.oid);
    }
    const relids: number[] = [];
    this.sync(txn, this.inStreaming ? change.lsn : txn.finalLsn, change.lsn);
    for (const rel of change.relations) {
      if (rel.kind !== 'r' && rel.kind !== 'p') continue;
      const e = this.entry(ctx, txn, rel, change.lsn);
      if (!e.truncate) continue;
      // A partition published through its root is not truncated downstream by its own name.
      if (this.ancestorsOf(txn, rel.oid, change.lsn).length > 0 && e.target !== rel) continue;
      relids.push(rel.oid);
      if (!this.inStreaming && !this.sentBegin) this.sendBegin(ctx, txn, change.lsn);
      this.maybeSendSchema(ctx, txn, e);
    }
    if (relids.length > 0) this.emit(ctx, writeTruncate(this.w, this.inStreaming ? (ctx.changeXid ?? txn.xid) : 0, relids, change.cascade, change.restartSeqs));
  }

  /** Relations a decoded transaction invalidated: invalidated again when it ends (ReorderBufferProcessTXN). */
  private readonly atEnd = new Set<number>();

  private endOfTxn(): void {
    // Mostly nothing to do: no Set iterator or new array per transaction then.
    if (this.atEnd.size > 0) {
      for (const relid of this.atEnd) this.invalidate(relid);
      this.atEnd.clear();
    }
    // The invalidations distributed to it run again at its end, with its own (ReorderBufferProcessTXN).
    if (this.distributed.length > 0) {
      for (const e of this.distributed) this.execute(e);
      this.distributed = [];
    }
    this.distributedApplied = 0;
  }

  // see pgoutput_message (pgoutput.c)
  message(ctx: OutputContext, txn: ReorderTxn | undefined, change: MessageChange): void {
    if (!this.options.messages) return;
    if (change.transactional && txn !== undefined && !this.inStreaming && !this.sentBegin) this.sendBegin(ctx, txn, change.lsn);
    this.emit(ctx, writeMessage(this.w, this.inStreaming && txn !== undefined ? txn.xid : 0, change.lsn, change.transactional, change.prefix, change.content));
  }

  // see pgoutput_stream_start (pgoutput.c)
  streamStart(ctx: OutputContext, txn: ReorderTxn): void {
    const first = !this.streamed.has(txn.xid);
    if (first) this.streamed.set(txn.xid, new Set());
    this.emit(ctx, writeStreamStart(this.w, txn.xid, first));
    // The origin with the first block only, and without its LSN (not known before the commit).
    if (first && txn.originId !== 0) {
      this.sendOrigin(ctx, { ...txn, originLsn: 0 }, txn.firstLsn);
      this.streamOrigin.set(txn.xid, txn.originId);
    }
    this.inStreaming = true;
  }

  /** Streamed transactions whose Origin went out with their first block. */
  private readonly streamOrigin = new Map<number, number>();

  streamStop(ctx: OutputContext, _txn: ReorderTxn): void {
    this.endOfTxn();
    this.emit(ctx, writeStreamStop(this.w));
    this.inStreaming = false;
  }

  // see pgoutput_stream_abort (pgoutput.c)
  streamAbort(ctx: OutputContext, txn: ReorderTxn, abortLsn: Lsn, topXid: number): void {
    this.streamedWithOrigin(txn, topXid);
    const info = this.options.streaming === 'parallel' ? { lsn: abortLsn, time: txn.commitTime } : undefined;
    this.emit(ctx, writeStreamAbort(this.w, topXid, txn.xid, info));
    // cleanup_rel_sync_cache(toptxn->xid, false): the relations sent in the transaction's blocks go out again,
    // after a subtransaction's abort too.
    this.streamed.get(topXid)?.clear();
    if (txn.xid === topXid) {
      this.streamed.delete(topXid);
      this.streamOrigin.delete(topXid);
    }
  }

  /**
   * The server sends an Origin message after a streamed transaction's first Stream Start; one whose origin was not
   * known then (its first block's records had none) went out without it: an error, not a silent gap.
   */
  private streamedWithOrigin(txn: ReorderTxn, topXid = txn.xid): void {
    if (txn.originId === 0 || this.streamOrigin.get(topXid) === txn.originId) return;
    throw new PgOutputUnsupportedError('unsupported-origin', `the streamed transaction ${txn.xid} (ending at ${formatLsn(txn.finalLsn)}) has replication origin ${txn.originId}: pgwal cannot write the Origin message of a streamed transaction yet`, { lsn: txn.finalLsn });
  }

  // see pgoutput_stream_commit and cleanup_rel_sync_cache (pgoutput.c)
  streamCommit(ctx: OutputContext, txn: ReorderTxn): void {
    this.streamedWithOrigin(txn);
    this.emit(ctx, writeStreamCommit(this.w, txn.xid, txn.finalLsn, txn.endLsn, txn.commitTime));
    const sent = this.streamed.get(txn.xid);
    if (sent !== undefined) for (const relid of sent) this.schemaSent.add(relid);
    this.streamed.delete(txn.xid);
    this.streamOrigin.delete(txn.xid);
  }

  streamPrepare(ctx: OutputContext, txn: ReorderTxn): void {
    this.streamedWithOrigin(txn);
    this.emit(ctx, writePrepare(this.w, MSG_STREAM_PREPARE, txn.finalLsn, txn.endLsn, txn.commitTime, txn.xid, txn.gid ?? ''));
  }

  streamChange(ctx: OutputContext, txn: ReorderTxn, change: RowChange): void {
    this.change(ctx, txn, change);
  }

  streamTruncate(ctx: OutputContext, txn: ReorderTxn, change: TruncateChange): void {
    this.truncate(ctx, txn, change);
  }

  streamMessage(ctx: OutputContext, txn: ReorderTxn, change: MessageChange): void {
    this.message(ctx, txn, change);
  }
}


/** A row filter pgwal cannot evaluate, or that fails (as the server's would), named with its publication and table. */
function filterError(f: PubFilter, target: DecoderRelation, rel: DecoderRelation, lsn: Lsn, err: RowFilterUnsupportedError | RowFilterEvalError): PgOutputUnsupportedError {
  return new PgOutputUnsupportedError(
    err instanceof RowFilterEvalError ? 'row-filter-failed' : 'unsupported-row-filter',
    `cannot evaluate the row filter of publication "${f.pub}" on table ${target.namespace}.${target.name}: WHERE ${f.expr}: ${err.message} (change at ${formatLsn(lsn)}${rel !== target ? ` in partition ${rel.namespace}.${rel.name}` : ''})`,
    { lsn },
  );
}

/** A message as psql prints a bytea (bytea_output = hex): `\x` and two lowercase hex digits a byte. */
export function byteaHex(data: Uint8Array): string {
  let s = '\\x';
  for (let i = 0; i < data.length; i++) s += HEX[data[i]!];
  return s;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
