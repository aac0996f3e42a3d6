// What pgoutput needs of the catalog besides relations and types, read from the records as they go by: the
// invalidations the server executes while decoding (relcache and relsync messages of commit and
// XLOG_XACT_INVALIDATIONS records, and writes to the publication catalogs, which the server sees as syscache
// invalidations), and the names of replication origins created after the slot (pg_replication_origin inserts).
//
//   record ──▶ PgOutputCatalog.process ──▶ invalidation log (commits in WAL order, commands by transaction)
//                                      └─▶ origins (roident → roname, from the commit of their insert)
//   PgOutputPlugin ── at each transaction and change ──▶ the log entries before it ──▶ RelationSyncCache entries
import { formatLsn, type Lsn } from '../lsn.js';
import { BKPBLOCK_FORK_MASK, MAIN_FORKNUM, type DecodedRecord } from '../xlogreader/record.js';
import type { Major } from '../xlogreader/profile.js';
import { parseAbort, parseCommit, parseXactInvalidations } from '../xlogreader/rmgrdesc/xact.js';
import { readInvalMessages } from '../xlogreader/rmgrdesc/standby.js';
import { parseHeapDelete, parseHeapInsert } from '../xlogreader/rmgrdesc/heap-parse.js';
import { restoreBlockImage } from '../xlogreader/fpi.js';
import { BlockZero, blockZeroRelNumber, readBlockZero } from '../xlogreader/decode-record.js';
import { DelegatingCatalog, type CatalogView, type DecoderCatalog } from './catalog.js';
import { deformTuple, type Attribute } from './tuple.js';
import { WalFormatError } from '../errors.js';

/** A publication or replication feature pgwal does not reproduce: an error, never a different stream. */
export class PgOutputUnsupportedError extends WalFormatError {}

/** Invalidations one record makes the server execute (LocalExecuteInvalidationMessage, as pgoutput registers for them). */
export interface PgOutputInvalidation {
  lsn: Lsn;
  /** The transaction (as the record names it: a subtransaction's own xid for a command's record). */
  xid: number;
  /** A commit or abort (executed when the transaction is done), or one command's (executed at its place in it). */
  end: boolean;
  /** A commit: its messages also go to the transactions in progress then, at its place in them (SnapBuildDistributeSnapshotAndInval). */
  commit: boolean;
  /** Relations whose relcache (or 18's relsync) entry is invalidated; 0: all of them. */
  relids: number[];
  /** pg_publication rows written (PUBLICATIONOID): the publication list is loaded again. */
  publications: boolean;
  /** pg_publication_rel / pg_publication_namespace rows written: every entry is rebuilt (before 18). */
  members: boolean;
  /** pg_namespace rows written (NAMESPACEOID, a schema made or renamed): every entry is rebuilt. */
  namespaces: boolean;
}

const RM_XACT_ID = 1;
const RM_HEAP2_ID = 9;
const RM_HEAP_ID = 10;
const GLOBALTABLESPACE_OID = 1664;
const SIZEOF_HEAP_TUPLE_HEADER = 23;

/** pg_replication_origin's columns (the same in 15–18). */
const ORIGIN_ATTRS: Attribute[] = [
  { attnum: 1, name: 'roident', typeOid: 26, len: 4, align: 'i', byval: true, dropped: false },
  { attnum: 2, name: 'roname', typeOid: 25, len: -1, align: 'i', byval: false, dropped: false },
];

interface Writes {
  publications: boolean;
  members: boolean;
  namespaces: boolean;
}

interface OriginRow {
  name: string;
  /** The commit of its insert (undefined while open). */
  createdAt?: Lsn;
  droppedAt?: Lsn;
}

/**
 * The catalog a pgoutput session decodes with: the inner catalog's answers, and the invalidation log and origin
 * names read from the records. Over a catalog that does not follow publications (a state made before pgwal kept
 * their pages), a write to the publication catalogs stops decoding there instead.
 */
/** Block 0 of the heap record being looked at (reused: numbers only). */
const blockZero = new BlockZero();
/** What commandsOf answers for a transaction without command invalidations (no array per call). */
const NO_COMMANDS: readonly PgOutputInvalidation[] = [];

export class PgOutputCatalog extends DelegatingCatalog {
  /** Commit and abort entries, in WAL order; the plugin consumes them from `head`. */
  readonly ends: PgOutputInvalidation[] = [];
  head = 0;
  /** Command entries by the xid of their record (a subtransaction's go under its top-level xid at the commit). */
  private readonly commands = new Map<number, PgOutputInvalidation[]>();
  /** Per xid: publication catalogs and pg_namespace written since its last command's invalidations, and since it began. */
  private readonly pendingWrites = new Map<number, Writes>();
  private readonly txnWrites = new Map<number, Writes>();
  private readonly topOf = new Map<number, number>();
  private follows: boolean | undefined;
  private readonly pubFilenodes: readonly number[];
  private readonly originFilenode: number | undefined;
  private readonly namespaceFilenode: number | undefined;
  /** Origins by roident: those of the slot's creation (no dates), and those inserted since. */
  private readonly origins = new Map<number, OriginRow>();
  /** Inserted origin rows by ctid (block, offset): a delete names its row by ctid only. */
  private readonly originCtids = new Map<string, number>();
  private readonly pendingOrigins = new Map<number, { ident: number; ctid: string; drop: boolean }[]>();
  /** An origin of the slot's creation was dropped at this commit (which one the delete does not say). */
  private unknownDropAt: Lsn | undefined;

  constructor(
    inner: CatalogView,
    catalog: Pick<DecoderCatalog, 'publicationFilenodes' | 'replicationOrigins' | 'replicationOriginFilenode' | 'namespaceFilenode'>,
    private readonly major: Major,
  ) {
    super(inner);
    this.pubFilenodes = catalog.publicationFilenodes ?? [];
    this.originFilenode = catalog.replicationOriginFilenode;
    this.namespaceFilenode = catalog.namespaceFilenode;
    for (const [id, name] of catalog.replicationOrigins ?? []) this.origins.set(id, { name });
  }

  /** The name of replication origin `id` as the transaction ending at `lsn` sees it (replorigin_by_oid, missing_ok). */
  originName(id: number, lsn: Lsn): string | undefined {
    const o = this.origins.get(id);
    if (o !== undefined) {
      if (o.createdAt !== undefined && !(o.createdAt < lsn)) return undefined;
      if (o.droppedAt !== undefined && o.droppedAt < lsn) return undefined;
      if (o.createdAt === undefined && this.unknownDropAt !== undefined && this.unknownDropAt < lsn) {
        throw new PgOutputUnsupportedError('unknown-origin', `a replication origin of the slot's creation was dropped at ${formatLsn(this.unknownDropAt)}: pgwal cannot tell whether origin ${id} (of the transaction at ${formatLsn(lsn)}) is still there`, { lsn });
      }
      return o.name;
    }
    if (this.originFilenode === undefined) {
      throw new PgOutputUnsupportedError('unknown-origin', `replication origin ${id} of the transaction at ${formatLsn(lsn)} is not among those recorded at the slot's creation: pgwal cannot write its Origin message (make the slot state again with this pgwal)`, { lsn });
    }
    return undefined;
  }

  /** The command invalidations of top-level transaction `xid` (its subtransactions' included once its commit was read). */
  commandsOf(xid: number): readonly PgOutputInvalidation[] {
    return this.commands.get(xid) ?? NO_COMMANDS;
  }

  /** Drops what the plugin consumed: entries before `head`, and the commands of the transactions they ended. */
  release(): void {
    if (this.head < 1024) return;
    for (const e of this.ends.slice(0, this.head)) this.commands.delete(e.xid);
    this.ends.splice(0, this.head);
    this.head = 0;
  }

  override process(rec: DecodedRecord): void {
    if (rec.toplevelXid !== 0 && rec.xid !== 0) this.topOf.set(rec.xid, rec.toplevelXid);
    if (rec.rmid === RM_HEAP_ID || rec.rmid === RM_HEAP2_ID) this.heap(rec);
    else if (rec.rmid === RM_XACT_ID) this.xact(rec);
    this.inner.process(rec);
  }

  private heap(rec: DecodedRecord): void {
    const op = rec.rmgrInfo & 0x70;
    // heap insert, delete, update, hot update; heap2 multi-insert
    const write = rec.rmid === RM_HEAP_ID ? op === 0x00 || op === 0x10 || op === 0x20 || op === 0x40 : op === 0x50;
    if (!write) return;
    // Most heap records are of other relations: their relfilenode number alone rules them out.
    const relNumber = blockZeroRelNumber(rec);
    if (relNumber !== this.namespaceFilenode && relNumber !== this.originFilenode && !this.pubFilenodes.includes(relNumber)) return;
    // Block 0 read from the header (no block references built for every heap record).
    const b = blockZero;
    if (!readBlockZero(rec, b)) return;
    const loc = b;
    if (loc.dbOid === this.inner.databaseOid && this.pubFilenodes.includes(loc.relNumber)) {
      this.follows ??= this.inner.publications?.({ lsn: rec.lsn, xid: 0 }) !== undefined;
      if (!this.follows) {
        throw new PgOutputUnsupportedError('publication-changed', `a publication changed at ${formatLsn(rec.lsn)} (transaction ${rec.xid}): pgwal's pgoutput decodes with the publications of the slot's creation only (make the slot state again with this pgwal to follow publications)`, { lsn: rec.lsn });
      }
      this.wrote(rec.xid, loc.relNumber === this.pubFilenodes[0] ? 'publications' : 'members');
    } else if (loc.dbOid === this.inner.databaseOid && loc.relNumber === this.namespaceFilenode) {
      this.wrote(rec.xid, 'namespaces');
    } else if (rec.rmid === RM_HEAP_ID && loc.dbOid === 0 && loc.spcOid === GLOBALTABLESPACE_OID && loc.relNumber === this.originFilenode && (b.flags & BKPBLOCK_FORK_MASK) === MAIN_FORKNUM) {
      this.originWrite(rec, op, b.blockNumber);
    }
  }

  private wrote(xid: number, what: keyof Writes): void {
    for (const map of [this.pendingWrites, this.txnWrites]) {
      const w = map.get(xid) ?? { publications: false, members: false, namespaces: false };
      w[what] = true;
      map.set(xid, w);
    }
  }

  // replorigin_create inserts (roident, roname); replorigin_drop deletes by ctid
  private originWrite(rec: DecodedRecord, op: number, block: number): void {
    let list = this.pendingOrigins.get(rec.xid);
    if (list === undefined) this.pendingOrigins.set(rec.xid, (list = []));
    if (op === 0x10) {
      const ctid = `${block}:${parseHeapDelete(rec).offnum}`;
      list.push({ ident: this.originCtids.get(ctid) ?? -1, ctid, drop: true });
      return;
    }
    if (op !== 0x00) {
      throw new PgOutputUnsupportedError('unknown-origin', `pg_replication_origin was updated at ${formatLsn(rec.lsn)}: pgwal follows inserts and deletes of replication origins only`, { lsn: rec.lsn });
    }
    const ins = parseHeapInsert(rec);
    let tuple: Uint8Array | undefined;
    let infomask2: number;
    let infomask: number;
    let hoff: number;
    if (ins.tuple !== undefined) {
      const t = ins.tuple;
      tuple = rec.bytes.subarray(t.dataOffset, t.dataOffset + t.dataLength);
      [infomask2, infomask, hoff] = [t.infomask2, t.infomask, t.hoff];
    } else {
      // A catalog insert with a full-page image keeps no tuple data: the row is on the image (ItemIdData: lp_off
      // 15 bits, lp_flags 2, lp_len 15; then the tuple header's t_infomask2, t_infomask, t_hoff at 18, 20, 22).
      const page = restoreBlockImage(rec, 0);
      const v = new DataView(page.buffer, page.byteOffset, page.byteLength);
      const at = 24 + 4 * (ins.offnum - 1);
      const lp = ins.offnum >= 1 && at + 4 <= v.getUint16(12, true) ? v.getUint32(at, true) : 0;
      const [off, flags, len] = [lp & 0x7fff, (lp >>> 15) & 3, lp >>> 17];
      if (flags !== 1 || len < SIZEOF_HEAP_TUPLE_HEADER || off + len > page.length) {
        throw new PgOutputUnsupportedError('unknown-origin', `the replication origin inserted at ${formatLsn(rec.lsn)} is not on its page image`, { lsn: rec.lsn });
      }
      const t = page.subarray(off, off + len);
      tuple = t.subarray(SIZEOF_HEAP_TUPLE_HEADER);
      [infomask2, infomask, hoff] = [t[18]! | (t[19]! << 8), t[20]! | (t[21]! << 8), t[22]!];
    }
    const row = deformTuple(tuple, infomask2, infomask, hoff, ORIGIN_ATTRS);
    const id = row[0]?.kind === 'bytes' ? new DataView(row[0].bytes.buffer, row[0].bytes.byteOffset, 4).getUint32(0, true) : -1;
    const name = row[1]?.kind === 'bytes' ? new TextDecoder().decode(row[1].bytes) : undefined;
    if (id < 0 || name === undefined) throw new PgOutputUnsupportedError('unknown-origin', `the replication origin inserted at ${formatLsn(rec.lsn)} has no readable roident and roname`, { lsn: rec.lsn });
    const ctid = `${block}:${ins.offnum}`;
    this.origins.set(id, { name, createdAt: Number.MAX_SAFE_INTEGER });
    list.push({ ident: id, ctid, drop: false });
  }

  private xact(rec: DecodedRecord): void {
    const op = rec.info & 0x70;
    if (op === 0x60) {
      // XLOG_XACT_INVALIDATIONS: one command's messages, executed at their place in the transaction; without an
      // xid (an in-place update of VACUUM), at once (see xact_decode)
      const inv = parseXactInvalidations(rec);
      const w = this.pendingWrites.get(rec.xid);
      this.pendingWrites.delete(rec.xid);
      const e: PgOutputInvalidation = { lsn: rec.lsn, xid: rec.xid, end: rec.xid === 0, commit: false, relids: this.relids(rec, inv.msgsOffset, inv.nmsgs), publications: w?.publications ?? false, members: w?.members ?? false, namespaces: w?.namespaces ?? false };
      if (rec.xid === 0) {
        this.ends.push(e);
        return;
      }
      let list = this.commands.get(rec.xid);
      if (list === undefined) this.commands.set(rec.xid, (list = []));
      list.push(e);
      return;
    }
    if (op !== 0x00 && op !== 0x30 && op !== 0x20 && op !== 0x40) return;
    const commit = op === 0x00 || op === 0x30;
    const p = commit ? parseCommit(rec, this.major) : parseAbort(rec, this.major);
    const xid = p.twophaseXid !== 0 ? p.twophaseXid : rec.xid;
    const top = this.topOf.get(xid);
    // Most ends: no subtransactions, no messages and nothing kept for the xid, so nothing to do.
    if (p.subxacts.length === 0 && p.nmsgs === 0 && (top === undefined || top === xid) && !this.commands.has(xid) && !this.txnWrites.has(xid) && !this.pendingWrites.has(xid) && !this.pendingOrigins.has(xid)) return;
    if (!commit && top !== undefined && top !== xid) {
      // A subtransaction rolled back: its changes, commands and catalog rows are gone with it.
      for (const m of [xid, ...p.subxacts]) {
        this.forget(m);
        this.topOf.delete(m);
      }
      return;
    }
    const members = [xid, ...p.subxacts];
    // Subtransactions' commands go under the top-level transaction, in LSN order.
    const mine = this.commands.get(xid) ?? [];
    for (const s of p.subxacts) {
      // Known from here on by the commit itself: the map is only for records before it.
      this.topOf.delete(s);
      const sub = this.commands.get(s);
      if (sub !== undefined) mine.push(...sub);
      this.commands.delete(s);
    }
    mine.sort((a, b) => a.lsn - b.lsn);
    if (mine.length > 0) this.commands.set(xid, mine);
    let publications = false;
    let wrote = false;
    let namespaces = false;
    for (const m of members) {
      const w = this.txnWrites.get(m);
      publications ||= w?.publications ?? false;
      wrote ||= w?.members ?? false;
      namespaces ||= w?.namespaces ?? false;
    }
    // A commit carries all its messages; an abort none: the server executes those its commands logged.
    const relids = commit ? this.relids(rec, p.msgsOffset, p.nmsgs) : [...new Set(mine.flatMap((e) => e.relids))];
    if (relids.length > 0 || publications || wrote || namespaces) this.ends.push({ lsn: rec.lsn, xid, end: true, commit, relids, publications, members: wrote, namespaces });
    else this.commands.delete(xid);
    for (const m of members) {
      for (const o of this.pendingOrigins.get(m) ?? []) {
        if (!commit) {
          if (!o.drop) this.origins.delete(o.ident);
        } else if (o.drop) {
          const row = this.origins.get(o.ident);
          if (row !== undefined) row.droppedAt = rec.lsn;
          else this.unknownDropAt ??= rec.lsn;
        } else {
          this.origins.get(o.ident)!.createdAt = rec.lsn;
          this.originCtids.set(o.ctid, o.ident);
        }
      }
      this.pendingOrigins.delete(m);
      this.txnWrites.delete(m);
      this.pendingWrites.delete(m);
    }
  }

  private forget(xid: number): void {
    for (const o of this.pendingOrigins.get(xid) ?? []) if (!o.drop) this.origins.delete(o.ident);
    this.pendingOrigins.delete(xid);
    this.commands.delete(xid);
    this.txnWrites.delete(xid);
    this.pendingWrites.delete(xid);
  }

  /** The relcache and relsync messages of this database (or of all): the relations they name, 0 for all. */
  private relids(rec: DecodedRecord, offset: number, count: number): number[] {
    const out: number[] = [];
    for (const m of readInvalMessages(rec.view, offset, count)) {
      if ((m.kind === 'relcache' || m.kind === 'relsync') && (m.dbId === this.inner.databaseOid || m.dbId === 0)) out.push(m.relId);
    }
    return out;
  }
}
