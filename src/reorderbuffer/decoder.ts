// A first reorder buffer: heap, xact and logical-message records in WAL order → whole transactions in commit
// order, printed as test_decoding prints them; optionally starting where its snapshot builder becomes
// consistent. What it does not do yet (the rest of the logical decoding issue): spilling to disk,
// two-phase output, streaming, DDL during the range (a relation given a new relfilenode by TRUNCATE, VACUUM
// FULL or a rewrite is not followed: the historic catalog does that).
//
//   record ──▶ queue change under its xid ──▶ COMMIT: merge the xid and its committed subxacts by LSN ──▶ emit
//                                         └─▶ ABORT: drop the xid and its subxacts
import { u16 } from '../xlogreader/bytes.js';
import type { DecodedRecord } from '../xlogreader/record.js';
import { parseHeapDelete, parseHeapInsert, parseHeapTruncate, parseHeapUpdate, parseMultiInsert, type WalTuple } from '../xlogreader/rmgrdesc/heap-parse.js';
import { parseAbort, parseCommit } from '../xlogreader/rmgrdesc/xact.js';
import { parseLogicalMessage } from '../xlogreader/rmgrdesc/logicalmsg.js';
import type { Major } from '../xlogreader/profile.js';
import { formatLsn, type Lsn } from '../lsn.js';
import { WalFormatError } from '../errors.js';
import { decompressDatum, deformTuple, type Attribute, type RawValue } from './tuple.js';
import { tupleText, quoteIdentifier } from './testdecoding.js';
import type { TypeInfo } from './values.js';
import { SnapshotBuilder } from './snapbuild.js';
import type { DecoderCatalog, DecoderRelation } from './catalog.js';

export type { DecoderCatalog, DecoderRelation } from './catalog.js';

export interface TestDecodingOptions {
  includeXids: boolean;
  skipEmptyXacts: boolean;
}

/** One output row as pg_logical_slot_peek_changes returns it. */
export interface OutputRow {
  lsn: Lsn;
  xid: number;
  data: string;
}

type Change =
  | { kind: 'change'; lsn: Lsn; rel: DecoderRelation; action: 'INSERT' | 'UPDATE' | 'DELETE'; newTuple?: RawValue[]; oldTuple?: RawValue[]; toastChunk?: { id: number; seq: number; data: Uint8Array } }
  | { kind: 'truncate'; lsn: Lsn; rels: DecoderRelation[]; flags: number }
  | { kind: 'message'; lsn: Lsn; endLsn: Lsn; prefix: string; content: Uint8Array };

interface Txn {
  xid: number;
  changes: Change[];
}

/** Where changes of transactions the snapshot builder does not decode go: nowhere. */
const DISCARD: Txn = {
  xid: 0,
  get changes(): Change[] {
    return [];
  },
};

const RM_XACT_ID = 1;
const RM_HEAP2_ID = 9;
const RM_HEAP_ID = 10;
const RM_LOGICALMSG_ID = 21;
const XLH_INSERT_CONTAINS_NEW_TUPLE = 0x08;
const XLH_INSERT_ON_TOAST_RELATION = 0x10;
const XLH_UPDATE_CONTAINS_NEW_TUPLE = 0x10;
const XLH_DELETE_IS_SUPER = 0x08;

export class TestDecodingDecoder {
  private readonly txns = new Map<number, Txn>();
  /** subxact → top-level xid, from the top-level-xid record header and commit records. */
  private readonly parent = new Map<number, number>();
  private readonly byFilenode = new Map<number, DecoderRelation>();
  private readonly byOid = new Map<number, DecoderRelation>();
  private readonly types = new Map<number, TypeInfo>();
  private readonly snapbuild: SnapshotBuilder | undefined;
  readonly output: OutputRow[] = [];

  /** With a snapshot builder: the LSN decoding became consistent at, once it has. */
  get consistentAt(): Lsn | undefined {
    return this.snapbuild === undefined ? (this.startAt as Lsn) : this.snapbuild.consistentAt;
  }

  /** Whether changes of `xid` are queued (SnapBuildProcessChange). */
  private decodes(xid: number): boolean {
    return this.snapbuild === undefined || this.snapbuild.decodesChangesOf(xid);
  }

  /** Whether a commit at `lsn` is emitted (SnapBuildXactNeedsSkip). */
  private emits(lsn: Lsn): boolean {
    const at = this.consistentAt;
    return at !== undefined && lsn >= at;
  }

  constructor(
    private readonly catalog: DecoderCatalog,
    private readonly major: Major,
    private readonly options: TestDecodingOptions,
    /**
     * Transactions committing before this LSN are not emitted (the slot's confirmed_flush); or `'snapshot'`:
     * find the consistent point in the WAL with the snapshot builder, as a new slot does, and start there.
     */
    private startAt: Lsn | 'snapshot',
  ) {
    if (startAt === 'snapshot') this.snapbuild = new SnapshotBuilder();
    for (const r of catalog.relations) {
      this.byFilenode.set(r.relfilenode, r);
      this.byOid.set(r.oid, r);
    }
    for (const t of catalog.types) this.types.set(t.oid, t);
  }

  private txn(xid: number): Txn {
    if (!this.decodes(this.parent.get(xid) ?? xid)) return DISCARD;
    let t = this.txns.get(xid);
    if (t === undefined) {
      t = { xid, changes: [] };
      this.txns.set(xid, t);
    }
    return t;
  }

  private tuple(rec: DecodedRecord, t: WalTuple, rel: DecoderRelation): RawValue[] {
    return deformTuple(rec.bytes.subarray(t.dataOffset, t.dataOffset + t.dataLength), t.infomask2, t.infomask, t.hoff, rel.attributes, rec.lsn);
  }

  private relationOf(rec: DecodedRecord): DecoderRelation | undefined {
    const b = rec.block(0);
    if (b === undefined || b.locator.dbOid !== this.catalog.databaseOid) return undefined;
    return this.byFilenode.get(b.locator.relNumber);
  }

  /** The end LSN of the last commit emitted: what a consumer confirms (confirmed_flush). */
  lastCommitEnd: Lsn = 0;

  /**
   * Where decoding can restart without losing a change of a transaction still open: the first LSN of the oldest
   * one, or `after` (the end of what was read) when none is open.
   */
  restartPoint(after: Lsn): Lsn {
    let min = after;
    for (const t of this.txns.values()) if (t.changes.length > 0 && t.changes[0]!.lsn < min) min = t.changes[0]!.lsn;
    return min;
  }

  /** Feeds one record, in WAL order. */
  process(rec: DecodedRecord): void {
    if (rec.toplevelXid !== 0 && rec.xid !== 0) this.parent.set(rec.xid, rec.toplevelXid);
    this.snapbuild?.process(rec);
    switch (rec.rmid) {
      case RM_HEAP_ID:
        return this.heap(rec);
      case RM_HEAP2_ID:
        if ((rec.info & 0x70) === 0x50) this.multiInsert(rec);
        return;
      case RM_XACT_ID:
        return this.xact(rec);
      case RM_LOGICALMSG_ID:
        return this.message(rec);
      default:
        return;
    }
  }

  private heap(rec: DecodedRecord): void {
    const op = rec.info & 0x70;
    if (op === 0x30) {
      const t = parseHeapTruncate(rec);
      if (t.dbId !== this.catalog.databaseOid) return;
      const rels: DecoderRelation[] = [];
      for (let i = 0; i < t.nrelids; i++) {
        const r = this.byOid.get(rec.view.getUint32(t.relidsOffset + 4 * i, true));
        if (r !== undefined) rels.push(r);
      }
      if (rels.length > 0) this.txn(rec.xid).changes.push({ kind: 'truncate', lsn: rec.lsn, rels, flags: t.flags });
      return;
    }
    if (op !== 0x00 && op !== 0x10 && op !== 0x20 && op !== 0x40) return;
    const rel = this.relationOf(rec);
    if (rel === undefined) return;
    if (op === 0x00) {
      const ins = parseHeapInsert(rec);
      if (!(ins.flags & XLH_INSERT_CONTAINS_NEW_TUPLE) || ins.tuple === undefined) return;
      const values = this.tuple(rec, ins.tuple, rel);
      if (ins.flags & XLH_INSERT_ON_TOAST_RELATION) {
        // (chunk_id oid, chunk_seq int4, chunk_data bytea): collected for the next change of the main table.
        const [id, seq, data] = values;
        if (id?.kind === 'bytes' && seq?.kind === 'bytes' && data?.kind === 'bytes') {
          this.txn(rec.xid).changes.push({ kind: 'change', lsn: rec.lsn, rel, action: 'INSERT', toastChunk: { id: u32le(id.bytes), seq: u32le(seq.bytes) | 0, data: data.bytes } });
        }
        return;
      }
      this.txn(rec.xid).changes.push({ kind: 'change', lsn: rec.lsn, rel, action: 'INSERT', newTuple: values });
    } else if (op === 0x10) {
      const del = parseHeapDelete(rec);
      if (del.flags & XLH_DELETE_IS_SUPER) return;
      if (rel.kind === 't') return; // TOAST deletes are not decoded
      this.txn(rec.xid).changes.push({ kind: 'change', lsn: rec.lsn, rel, action: 'DELETE', oldTuple: del.oldTuple && this.tuple(rec, del.oldTuple, rel) });
    } else {
      const upd = parseHeapUpdate(rec);
      if (!(upd.flags & XLH_UPDATE_CONTAINS_NEW_TUPLE) || upd.newTuple === undefined) return;
      this.txn(rec.xid).changes.push({
        kind: 'change',
        lsn: rec.lsn,
        rel,
        action: 'UPDATE',
        newTuple: this.tuple(rec, upd.newTuple, rel),
        oldTuple: upd.oldTuple && this.tuple(rec, upd.oldTuple, rel),
      });
    }
  }

  private multiInsert(rec: DecodedRecord): void {
    const rel = this.relationOf(rec);
    if (rel === undefined) return;
    const m = parseMultiInsert(rec);
    if (!(m.flags & XLH_INSERT_CONTAINS_NEW_TUPLE) || m.tuplesLength === 0) return;
    let off = 0;
    const base = m.tuplesOffset;
    for (let i = 0; i < m.ntuples; i++) {
      off = (off + 1) & ~1; // each xl_multi_insert_tuple is SHORTALIGNed within the block data
      const at = base + off;
      const datalen = u16(rec.bytes, at);
      const tuple: WalTuple = { infomask2: u16(rec.bytes, at + 2), infomask: u16(rec.bytes, at + 4), hoff: rec.bytes[at + 6]!, dataOffset: at + 7, dataLength: datalen };
      this.txn(rec.xid).changes.push({ kind: 'change', lsn: rec.lsn, rel, action: 'INSERT', newTuple: this.tuple(rec, tuple, rel) });
      off += 7 + datalen;
    }
  }

  private message(rec: DecodedRecord): void {
    const m = parseLogicalMessage(rec);
    if (m.dbId !== this.catalog.databaseOid) return;
    const content = rec.bytes.subarray(m.messageOffset, m.messageOffset + m.messageSize);
    if (m.transactional) {
      this.txn(rec.xid).changes.push({ kind: 'message', lsn: rec.lsn, endLsn: rec.endLsn, prefix: m.prefix, content });
    } else if (this.emits(rec.lsn)) {
      this.output.push({ lsn: rec.endLsn, xid: rec.xid, data: messageLine(false, m.prefix, content) });
    }
  }

  private xact(rec: DecodedRecord): void {
    const op = rec.info & 0x70;
    if (op === 0x00 || op === 0x30) {
      const c = parseCommit(rec, this.major);
      const xid = op === 0x30 ? c.twophaseXid : rec.xid;
      this.commit(xid, c.subxacts, rec);
    } else if (op === 0x20 || op === 0x40) {
      const a = parseAbort(rec, this.major);
      const xid = op === 0x40 ? a.twophaseXid : rec.xid;
      for (const x of [xid, ...a.subxacts]) this.txns.delete(x);
    }
  }

  private commit(xid: number, subxacts: number[], rec: DecodedRecord): void {
    const members = [xid, ...subxacts];
    for (const [sub, top] of this.parent) if (top === xid && !members.includes(sub)) members.push(sub);
    const changes: Change[] = [];
    for (const x of members) {
      const t = this.txns.get(x);
      if (t !== undefined) changes.push(...t.changes);
      this.txns.delete(x);
    }
    if (!this.emits(rec.lsn)) return;
    changes.sort((a, b) => a.lsn - b.lsn);
    this.emit(xid, changes, rec);
  }

  private emit(xid: number, changes: Change[], commit: DecodedRecord): void {
    const { includeXids, skipEmptyXacts } = this.options;
    const begin = includeXids ? `BEGIN ${xid}` : 'BEGIN';
    const rows: OutputRow[] = [];
    let wrote = false;
    // Without skip-empty-xacts BEGIN carries the first change's LSN (the server uses the first record of the xid).
    const firstLsn = changes[0]?.lsn ?? commit.lsn;
    const toast = new Map<number, Uint8Array[]>();
    const openBegin = (lsn: Lsn): void => {
      if (!wrote && skipEmptyXacts) rows.push({ lsn, xid, data: begin });
      wrote = true;
    };
    if (!skipEmptyXacts) rows.push({ lsn: firstLsn, xid, data: begin });
    for (const ch of changes) {
      if (ch.kind === 'message') {
        // 14–16 print a transactional message without opening the delayed BEGIN.
        if (this.major >= 17) openBegin(ch.endLsn);
        rows.push({ lsn: ch.endLsn, xid, data: messageLine(true, ch.prefix, ch.content) });
        continue;
      }
      if (ch.kind === 'truncate') {
        openBegin(ch.lsn);
        const names = ch.rels.map((r) => qualified(r, this.major)).join(', ');
        const opts = `${ch.flags & 0x02 ? ' restart_seqs' : ''}${ch.flags & 0x01 ? ' cascade' : ''}`;
        rows.push({ lsn: ch.lsn, xid, data: `table ${names}: TRUNCATE:${opts === '' ? ' (no-flags)' : opts}` });
        continue;
      }
      if (ch.toastChunk !== undefined) {
        const list = toast.get(ch.toastChunk.id) ?? [];
        if (ch.toastChunk.seq !== list.length) throw new WalFormatError('invalid-toast', `TOAST chunk ${ch.toastChunk.seq} of value ${ch.toastChunk.id} out of order at ${formatLsn(ch.lsn)}`, { lsn: ch.lsn });
        list.push(ch.toastChunk.data);
        toast.set(ch.toastChunk.id, list);
        continue;
      }
      openBegin(ch.lsn);
      const types = (oid: number): TypeInfo | undefined => this.types.get(oid);
      const newTuple = ch.newTuple && this.reassemble(ch.newTuple, toast);
      toast.clear();
      let line = `table ${qualified(ch.rel, this.major)}: ${ch.action}:`;
      if (ch.action === 'INSERT') line += newTuple ? tupleText(ch.rel.attributes.map(col), newTuple, types, this.major, false) : ' (no-tuple-data)';
      else if (ch.action === 'UPDATE') {
        if (ch.oldTuple) line += ' old-key:' + tupleText(ch.rel.attributes.map(col), ch.oldTuple, types, this.major, true) + ' new-tuple:';
        line += newTuple ? tupleText(ch.rel.attributes.map(col), newTuple, types, this.major, false) : ' (no-tuple-data)';
      } else {
        line += ch.oldTuple ? tupleText(ch.rel.attributes.map(col), ch.oldTuple, types, this.major, true) : ' (no-tuple-data)';
      }
      rows.push({ lsn: ch.lsn, xid, data: line });
    }
    if (!skipEmptyXacts || wrote) rows.push({ lsn: commit.endLsn, xid, data: includeXids ? `COMMIT ${xid}` : 'COMMIT' });
    this.lastCommitEnd = commit.endLsn;
    this.output.push(...rows);
  }

  /** Replaces TOAST pointers whose chunks this transaction logged by the reassembled value. */
  private reassemble(values: RawValue[], toast: Map<number, Uint8Array[]>): RawValue[] {
    return values.map((v) => {
      if (v.kind !== 'toast') return v;
      const chunks = toast.get(v.valueId);
      if (chunks === undefined) return v;
      const total = chunks.reduce((n, c) => n + c.length, 0);
      const data = new Uint8Array(total);
      let o = 0;
      for (const c of chunks) {
        data.set(c, o);
        o += c.length;
      }
      // A compressed external value's stored bytes are va_tcinfo followed by the compressed stream.
      return { kind: 'bytes', bytes: v.compressed ? decompressDatum(data) : data };
    });
  }
}

function col(a: Attribute): { name: string; typeOid: number; dropped: boolean } {
  return { name: a.name, typeOid: a.typeOid, dropped: a.dropped };
}

function qualified(r: DecoderRelation, major: number): string {
  return `${quoteIdentifier(r.namespace, major)}.${quoteIdentifier(r.name, major)}`;
}

function u32le(b: Uint8Array): number {
  return (b[0]! | (b[1]! << 8) | (b[2]! << 16)) + b[3]! * 0x1000000;
}

function messageLine(transactional: boolean, prefix: string, content: Uint8Array): string {
  // test_decoding appends the raw bytes. The SQL functions return them as text, which ends at the first NUL.
  const nul = content.indexOf(0);
  const shown = nul < 0 ? content : content.subarray(0, nul);
  return `message: transactional: ${transactional ? 1 : 0} prefix: ${prefix}, sz: ${content.length} content:${new TextDecoder().decode(shown)}`;
}
