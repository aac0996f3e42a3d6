// The logical replication protocol's message writers (proto.c's logicalrep_write_*): each message as the bytes
// pgoutput hands to OutputPluginWrite, big-endian as pq_sendint*, strings NUL-terminated as pq_sendstring.
import type { Lsn } from '../lsn.js';

// LogicalRepMsgType (logicalproto.h)
export const MSG_BEGIN = 0x42; // 'B'
export const MSG_COMMIT = 0x43; // 'C'
export const MSG_ORIGIN = 0x4f; // 'O'
export const MSG_INSERT = 0x49; // 'I'
export const MSG_UPDATE = 0x55; // 'U'
export const MSG_DELETE = 0x44; // 'D'
export const MSG_TRUNCATE = 0x54; // 'T'
export const MSG_RELATION = 0x52; // 'R'
export const MSG_TYPE = 0x59; // 'Y'
export const MSG_MESSAGE = 0x4d; // 'M'
export const MSG_BEGIN_PREPARE = 0x62; // 'b'
export const MSG_PREPARE = 0x50; // 'P'
export const MSG_COMMIT_PREPARED = 0x4b; // 'K'
export const MSG_ROLLBACK_PREPARED = 0x72; // 'r'
export const MSG_STREAM_START = 0x53; // 'S'
export const MSG_STREAM_STOP = 0x45; // 'E'
export const MSG_STREAM_COMMIT = 0x63; // 'c'
export const MSG_STREAM_ABORT = 0x41; // 'A'
export const MSG_STREAM_PREPARE = 0x70; // 'p'

// Tuple column kinds (LOGICALREP_COLUMN_*).
export const COLUMN_NULL = 0x6e; // 'n'
export const COLUMN_UNCHANGED = 0x75; // 'u'
export const COLUMN_TEXT = 0x74; // 't'
export const COLUMN_BINARY = 0x62; // 'b'

const utf8 = new TextEncoder();

/**
 * One message being built: a growable buffer reused between messages (pgoutput's ctx->out StringInfo);
 * `finish` copies the message out, `buffer` and `length` lend it.
 */
export class MessageWriter {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  private pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  reset(): this {
    this.pos = 0;
    return this;
  }

  byte(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  int16(v: number): this {
    this.ensure(2);
    this.view.setUint16(this.pos, v & 0xffff);
    this.pos += 2;
    return this;
  }

  int32(v: number): this {
    this.ensure(4);
    this.view.setUint32(this.pos, v >>> 0);
    this.pos += 4;
    return this;
  }

  /** An XLogRecPtr (an exact integer below 2^53 in pgwal) as pq_sendint64. */
  lsn(v: Lsn): this {
    this.ensure(8);
    this.view.setUint32(this.pos, Math.floor(v / 0x1_0000_0000));
    this.view.setUint32(this.pos + 4, v >>> 0);
    this.pos += 8;
    return this;
  }

  /** A TimestampTz. */
  int64(v: bigint): this {
    this.ensure(8);
    this.view.setBigInt64(this.pos, v);
    this.pos += 8;
    return this;
  }

  /** pq_sendstring: UTF-8 bytes and a NUL (the database encoding is UTF-8; see the plugin), written in place. */
  string(s: string): this {
    this.ensure(3 * s.length + 1);
    this.pos += this.utf8At(s, this.pos);
    this.buf[this.pos++] = 0;
    return this;
  }

  /** Writes `s` as UTF-8 at `at` (room for 3 bytes a UTF-16 unit ensured); its byte length. */
  private utf8At(s: string, at: number): number {
    const n = s.length;
    const buf = this.buf;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[at + i] = c;
    }
    return i === n ? n : i + utf8.encodeInto(s.slice(i), buf.subarray(at + i)).written;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** pq_sendcountedtext of a string: int32 length, then its UTF-8 bytes, written in place (no copy per value). */
  countedText(s: string): this {
    this.ensure(4 + 3 * s.length);
    const len = this.utf8At(s, this.pos + 4);
    this.view.setUint32(this.pos, len);
    this.pos += 4 + len;
    return this;
  }

  /** pq_sendcountedtext of `src[start, end)`: a text value whose output is its stored bytes. */
  countedRange(src: Uint8Array, start: number, end: number): this {
    const n = end - start;
    this.ensure(4 + n);
    this.view.setUint32(this.pos, n);
    // Short values byte by byte: a subarray per value costs more than the copy.
    if (n <= 128) {
      const buf = this.buf;
      const to = this.pos + 4 - start;
      for (let i = start; i < end; i++) buf[to + i] = src[i]!;
    } else this.buf.set(src.subarray(start, end), this.pos + 4);
    this.pos += 4 + n;
    return this;
  }

  /** An int32 length `n`, then `src[start, start + n)` reversed: a little-endian fixed-length datum in network order. */
  countedReversed(src: Uint8Array, start: number, n: number): this {
    this.ensure(4 + n);
    this.view.setUint32(this.pos, n);
    const buf = this.buf;
    const to = this.pos + 4;
    for (let i = 0; i < n; i++) buf[to + i] = src[start + n - 1 - i]!;
    this.pos = to + n;
    return this;
  }

  /** pq_sendcountedtext of an integer's decimal text (int4out, int2out): no string made. */
  countedInt(v: number): this {
    this.ensure(4 + 11);
    const buf = this.buf;
    let at = this.pos + 4;
    // |v| ≤ 2^31: unsigned 32-bit division (>>> 0), not floating point.
    let u = v;
    if (v < 0) {
      buf[at++] = 0x2d; // '-'
      u = -v;
    }
    const digits = u < 10 ? 1 : u < 100 ? 2 : u < 1000 ? 3 : u < 10000 ? 4 : u < 100000 ? 5 : u < 1000000 ? 6 : u < 10000000 ? 7 : u < 100000000 ? 8 : u < 1000000000 ? 9 : 10;
    at += digits;
    let i = at;
    do {
      const q = (u / 10) >>> 0;
      buf[--i] = 0x30 + (u - 10 * q);
      u = q;
    } while (u !== 0);
    this.view.setUint32(this.pos, at - this.pos - 4);
    this.pos = at;
    return this;
  }

  /**
   * pq_sendcountedtext of timestamp_out's text from its parts: `date` (the date and a blank, as printed), then the
   * time of day `tod` in microseconds as HH:MM:SS and the fraction without trailing zeros.
   */
  countedTimestamp(date: Uint8Array, tod: number): this {
    this.ensure(4 + date.length + 18);
    const buf = this.buf;
    let at = this.pos + 4;
    for (let i = 0; i < date.length; i++) buf[at++] = date[i]!;
    // Past the hours every part fits an int32 (| 0): integer division and remainder, not floating point.
    const h = Math.floor(tod / 3_600_000_000) | 0;
    const rem = tod - h * 3_600_000_000;
    const m = Math.floor(rem / 60_000_000) | 0;
    const sec = (rem - m * 60_000_000) | 0;
    const s = (sec / 1_000_000) | 0;
    let frac = (sec - s * 1_000_000) | 0;
    buf[at++] = 0x30 + ((h / 10) | 0);
    buf[at++] = 0x30 + (h % 10);
    buf[at++] = 0x3a; // ':'
    buf[at++] = 0x30 + ((m / 10) | 0);
    buf[at++] = 0x30 + (m % 10);
    buf[at++] = 0x3a;
    buf[at++] = 0x30 + ((s / 10) | 0);
    buf[at++] = 0x30 + (s % 10);
    if (frac !== 0) {
      let digits = 6;
      while (frac % 10 === 0) {
        frac = (frac / 10) | 0;
        digits--;
      }
      buf[at++] = 0x2e; // '.'
      for (let i = at + digits - 1; i >= at; i--) {
        const q = (frac / 10) | 0;
        buf[i] = 0x30 + (frac - 10 * q);
        frac = q;
      }
      at += digits;
    }
    this.view.setUint32(this.pos, at - this.pos - 4);
    this.pos = at;
    return this;
  }

  /** pq_sendcountedtext: int32 length, then the bytes. */
  counted(b: Uint8Array): this {
    this.int32(b.length);
    return this.bytes(b);
  }

  /** Reserves an int32 to be filled in later (a count known only after the items). */
  placeholder32(): number {
    this.ensure(4);
    const at = this.pos;
    this.pos += 4;
    return at;
  }

  fill32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0);
  }

  placeholder16(): number {
    this.ensure(2);
    const at = this.pos;
    this.pos += 2;
    return at;
  }

  fill16(at: number, v: number): void {
    this.view.setUint16(at, v & 0xffff);
  }

  /** The message so far is `buffer[0, length)`; the buffer is reused by the next message (and may be replaced as it grows). */
  get buffer(): Uint8Array {
    return this.buf;
  }

  get length(): number {
    return this.pos;
  }

  /** Drops what was written after the first `n` bytes. */
  truncate(n: number): void {
    this.pos = n;
  }

  /** A copy of the message. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

/** pq_sendint32 of a TransactionId, only in streaming (an invalid xid is not written). */
export function xidIfStreaming(w: MessageWriter, xid: number): void {
  if (xid !== 0) w.int32(xid);
}

// see logicalrep_write_begin (proto.c)
export function writeBegin(w: MessageWriter, finalLsn: Lsn, commitTime: bigint, xid: number): MessageWriter {
  return w.reset().byte(MSG_BEGIN).lsn(finalLsn).int64(commitTime).int32(xid);
}

// see logicalrep_write_commit (proto.c): flags (unused, 0), commit LSN, end LSN, commit time
export function writeCommit(w: MessageWriter, commitLsn: Lsn, endLsn: Lsn, commitTime: bigint): MessageWriter {
  return w.reset().byte(MSG_COMMIT).byte(0).lsn(commitLsn).lsn(endLsn).int64(commitTime);
}

// see logicalrep_write_origin (proto.c)
export function writeOrigin(w: MessageWriter, originLsn: Lsn, name: string): MessageWriter {
  return w.reset().byte(MSG_ORIGIN).lsn(originLsn).string(name);
}

// see logicalrep_write_begin_prepare (proto.c)
export function writeBeginPrepare(w: MessageWriter, prepareLsn: Lsn, endLsn: Lsn, prepareTime: bigint, xid: number, gid: string): MessageWriter {
  return w.reset().byte(MSG_BEGIN_PREPARE).lsn(prepareLsn).lsn(endLsn).int64(prepareTime).int32(xid).string(gid);
}

// see logicalrep_write_prepare_common (proto.c): PREPARE and STREAM PREPARE
export function writePrepare(w: MessageWriter, type: number, prepareLsn: Lsn, endLsn: Lsn, prepareTime: bigint, xid: number, gid: string): MessageWriter {
  return w.reset().byte(type).byte(0).lsn(prepareLsn).lsn(endLsn).int64(prepareTime).int32(xid).string(gid);
}

// see logicalrep_write_commit_prepared (proto.c)
export function writeCommitPrepared(w: MessageWriter, commitLsn: Lsn, endLsn: Lsn, commitTime: bigint, xid: number, gid: string): MessageWriter {
  return w.reset().byte(MSG_COMMIT_PREPARED).byte(0).lsn(commitLsn).lsn(endLsn).int64(commitTime).int32(xid).string(gid);
}

// see logicalrep_write_rollback_prepared (proto.c)
export function writeRollbackPrepared(w: MessageWriter, prepareEndLsn: Lsn, rollbackEndLsn: Lsn, prepareTime: bigint, rollbackTime: bigint, xid: number, gid: string): MessageWriter {
  return w.reset().byte(MSG_ROLLBACK_PREPARED).byte(0).lsn(prepareEndLsn).lsn(rollbackEndLsn).int64(prepareTime).int64(rollbackTime).int32(xid).string(gid);
}

// see logicalrep_write_stream_start (proto.c)
export function writeStreamStart(w: MessageWriter, xid: number, firstSegment: boolean): MessageWriter {
  return w.reset().byte(MSG_STREAM_START).int32(xid).byte(firstSegment ? 1 : 0);
}

// see logicalrep_write_stream_stop (proto.c)
export function writeStreamStop(w: MessageWriter): MessageWriter {
  return w.reset().byte(MSG_STREAM_STOP);
}

// see logicalrep_write_stream_commit (proto.c)
export function writeStreamCommit(w: MessageWriter, xid: number, commitLsn: Lsn, endLsn: Lsn, commitTime: bigint): MessageWriter {
  return w.reset().byte(MSG_STREAM_COMMIT).int32(xid).byte(0).lsn(commitLsn).lsn(endLsn).int64(commitTime);
}

// see logicalrep_write_stream_abort (proto.c): the abort LSN and time only with parallel streaming (16+)
export function writeStreamAbort(w: MessageWriter, xid: number, subxid: number, abort?: { lsn: Lsn; time: bigint }): MessageWriter {
  w.reset().byte(MSG_STREAM_ABORT).int32(xid).int32(subxid);
  if (abort !== undefined) w.lsn(abort.lsn).int64(abort.time);
  return w;
}

// see logicalrep_write_message (proto.c)
export function writeMessage(w: MessageWriter, xid: number, lsn: Lsn, transactional: boolean, prefix: string, content: Uint8Array): MessageWriter {
  w.reset().byte(MSG_MESSAGE);
  xidIfStreaming(w, xid);
  return w.byte(transactional ? 1 : 0).lsn(lsn).string(prefix).counted(content);
}

// see logicalrep_write_truncate (proto.c)
export function writeTruncate(w: MessageWriter, xid: number, relids: readonly number[], cascade: boolean, restartSeqs: boolean): MessageWriter {
  w.reset().byte(MSG_TRUNCATE);
  xidIfStreaming(w, xid);
  w.int32(relids.length).byte((cascade ? 1 : 0) | (restartSeqs ? 2 : 0));
  for (const r of relids) w.int32(r);
  return w;
}

/** A column of a Relation message. */
export interface RelationColumn {
  isKey: boolean;
  name: string;
  typeOid: number;
  typmod: number;
}

// see logicalrep_write_rel, logicalrep_write_namespace and logicalrep_write_attrs (proto.c)
export function writeRelation(w: MessageWriter, xid: number, relid: number, namespace: string, name: string, replIdent: string, columns: readonly RelationColumn[]): MessageWriter {
  w.reset().byte(MSG_RELATION);
  xidIfStreaming(w, xid);
  // pg_catalog is written as an empty string; user tables are never there.
  w.int32(relid).string(namespace).string(name).byte(replIdent.charCodeAt(0)).int16(columns.length);
  for (const c of columns) w.byte(c.isKey ? 1 : 0).string(c.name).int32(c.typeOid).int32(c.typmod);
  return w;
}

// see logicalrep_write_typ (proto.c): the type's OID, with the namespace and name of its base type
export function writeType(w: MessageWriter, xid: number, typeOid: number, namespace: string, name: string): MessageWriter {
  w.reset().byte(MSG_TYPE);
  xidIfStreaming(w, xid);
  return w.int32(typeOid).string(namespace === 'pg_catalog' ? '' : namespace).string(name);
}
