// pgoutput messages as typed objects, for JS consumers of the logical replication protocol (what proto.c's
// logicalrep_read_* read), and back to bytes. A parser follows the stream state: inside a streamed block
// (Stream Start … Stream Stop) the data messages carry their transaction's xid.
import { WalFormatError } from '../errors.js';
import type { Lsn } from '../lsn.js';
import {
  COLUMN_BINARY,
  COLUMN_NULL,
  COLUMN_TEXT,
  COLUMN_UNCHANGED,
  MessageWriter,
  MSG_BEGIN,
  MSG_BEGIN_PREPARE,
  MSG_COMMIT,
  MSG_COMMIT_PREPARED,
  MSG_DELETE,
  MSG_INSERT,
  MSG_MESSAGE,
  MSG_ORIGIN,
  MSG_PREPARE,
  MSG_RELATION,
  MSG_ROLLBACK_PREPARED,
  MSG_STREAM_ABORT,
  MSG_STREAM_COMMIT,
  MSG_STREAM_PREPARE,
  MSG_STREAM_START,
  MSG_STREAM_STOP,
  MSG_TRUNCATE,
  MSG_TYPE,
  MSG_UPDATE,
  writeBegin,
  writeBeginPrepare,
  writeCommit,
  writeCommitPrepared,
  writeMessage,
  writeOrigin,
  writePrepare,
  writeRelation,
  writeRollbackPrepared,
  writeStreamAbort,
  writeStreamCommit,
  writeStreamStart,
  writeStreamStop,
  writeTruncate,
  type RelationColumn,
} from './pgoutput-proto.js';

/** A column of a tuple: null, an unchanged TOAST value (not sent), or its text or binary (send) form. */
export type TupleColumn = { kind: 'null' } | { kind: 'unchanged' } | { kind: 'text'; value: string } | { kind: 'binary'; value: Uint8Array };

/** `xid` is there inside a streamed block only. */
export type PgOutputMessage =
  | { tag: 'begin'; finalLsn: Lsn; commitTime: bigint; xid: number }
  | { tag: 'commit'; flags: number; commitLsn: Lsn; endLsn: Lsn; commitTime: bigint }
  | { tag: 'origin'; originLsn: Lsn; name: string }
  | { tag: 'relation'; xid?: number; relid: number; namespace: string; name: string; replIdent: string; columns: RelationColumn[] }
  | { tag: 'type'; xid?: number; typeOid: number; namespace: string; name: string }
  | { tag: 'insert'; xid?: number; relid: number; newTuple: TupleColumn[] }
  /** `old`: 'K' the old key (replica identity default / index), 'O' the old row (full); absent when the key did not change. */
  | { tag: 'update'; xid?: number; relid: number; old?: { kind: 'K' | 'O'; tuple: TupleColumn[] }; newTuple: TupleColumn[] }
  | { tag: 'delete'; xid?: number; relid: number; old: { kind: 'K' | 'O'; tuple: TupleColumn[] } }
  | { tag: 'truncate'; xid?: number; cascade: boolean; restartIdentity: boolean; relids: number[] }
  | { tag: 'message'; xid?: number; transactional: boolean; lsn: Lsn; prefix: string; content: Uint8Array }
  | { tag: 'beginPrepare'; prepareLsn: Lsn; endLsn: Lsn; prepareTime: bigint; xid: number; gid: string }
  | { tag: 'prepare' | 'streamPrepare'; flags: number; prepareLsn: Lsn; endLsn: Lsn; prepareTime: bigint; xid: number; gid: string }
  | { tag: 'commitPrepared'; flags: number; commitLsn: Lsn; endLsn: Lsn; commitTime: bigint; xid: number; gid: string }
  | { tag: 'rollbackPrepared'; flags: number; prepareEndLsn: Lsn; rollbackEndLsn: Lsn; prepareTime: bigint; rollbackTime: bigint; xid: number; gid: string }
  | { tag: 'streamStart'; xid: number; firstSegment: boolean }
  | { tag: 'streamStop' }
  | { tag: 'streamCommit'; xid: number; flags: number; commitLsn: Lsn; endLsn: Lsn; commitTime: bigint }
  /** `abortLsn` and `abortTime`: protocol 4 with streaming = parallel. */
  | { tag: 'streamAbort'; xid: number; subxid: number; abortLsn?: Lsn; abortTime?: bigint };

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** A cursor over one message; running past its end is a typed error. */
class Reader {
  private pos = 0;
  private readonly view: DataView;

  constructor(private readonly data: Uint8Array) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.data.length) {
      throw new WalFormatError('invalid-pgoutput-message', `pgoutput message '${String.fromCharCode(this.data[0] ?? 0x3f)}' is too short: ${what} at byte ${this.pos} needs ${n} bytes, ${this.data.length - this.pos} left`);
    }
  }

  get left(): number {
    return this.data.length - this.pos;
  }

  byte(what: string): number {
    this.need(1, what);
    return this.data[this.pos++]!;
  }

  int16(what: string): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  uint32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  int32(what: string): number {
    return this.uint32(what) | 0;
  }

  lsn(what: string): Lsn {
    this.need(8, what);
    const v = this.view.getUint32(this.pos) * 0x1_0000_0000 + this.view.getUint32(this.pos + 4);
    this.pos += 8;
    return v;
  }

  int64(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigInt64(this.pos);
    this.pos += 8;
    return v;
  }

  string(what: string): string {
    const end = this.data.indexOf(0, this.pos);
    if (end < 0) throw new WalFormatError('invalid-pgoutput-message', `pgoutput message '${String.fromCharCode(this.data[0]!)}' is too short: ${what} at byte ${this.pos} has no terminating NUL`);
    const s = utf8.decode(this.data.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }

  bytes(n: number, what: string): Uint8Array {
    if (n < 0) throw new WalFormatError('invalid-pgoutput-message', `pgoutput message '${String.fromCharCode(this.data[0]!)}': ${what} has length ${n}`);
    this.need(n, what);
    const b = this.data.slice(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  end(): void {
    if (this.pos !== this.data.length) {
      throw new WalFormatError('invalid-pgoutput-message', `pgoutput message '${String.fromCharCode(this.data[0]!)}' has ${this.data.length - this.pos} bytes after its end`);
    }
  }
}

// see logicalrep_read_tuple (proto.c)
function readTuple(r: Reader): TupleColumn[] {
  const n = r.int16('the number of columns');
  const out: TupleColumn[] = [];
  for (let i = 0; i < n; i++) {
    const kind = r.byte(`column ${i + 1}`);
    if (kind === COLUMN_NULL) out.push({ kind: 'null' });
    else if (kind === COLUMN_UNCHANGED) out.push({ kind: 'unchanged' });
    else if (kind === COLUMN_TEXT || kind === COLUMN_BINARY) {
      const len = r.int32(`the length of column ${i + 1}`);
      const b = r.bytes(len, `column ${i + 1}`);
      out.push(kind === COLUMN_TEXT ? { kind: 'text', value: utf8.decode(b) } : { kind: 'binary', value: b });
    } else throw new WalFormatError('invalid-pgoutput-message', `unrecognized data representation type '${String.fromCharCode(kind)}' in column ${i + 1}`);
  }
  return out;
}

function oldKind(r: Reader, what: string): 'K' | 'O' {
  const k = r.byte(what);
  if (k !== 0x4b && k !== 0x4f) throw new WalFormatError('invalid-pgoutput-message', `expected 'K' or 'O' before the ${what}, got byte ${k}`);
  return k === 0x4b ? 'K' : 'O';
}

function expectN(r: Reader): void {
  const n = r.byte("'N'");
  if (n !== 0x4e) throw new WalFormatError('invalid-pgoutput-message', `expected new tuple 'N', got byte ${n}`);
}

/** Parses pgoutput messages in order, following whether a streamed block is open. */
export class PgOutputParser {
  private inStream = false;

  parse(data: Uint8Array): PgOutputMessage {
    const m = this.read(data);
    if (m.tag === 'streamStart') this.inStream = true;
    else if (m.tag === 'streamStop') this.inStream = false;
    return m;
  }

  private read(data: Uint8Array): PgOutputMessage {
    const r = new Reader(data);
    const tag = r.byte('the message type');
    const xid = (): { xid?: number } => (this.inStream ? { xid: r.uint32('the transaction id') } : {});
    let m: PgOutputMessage;
    switch (tag) {
      case MSG_BEGIN:
        m = { tag: 'begin', finalLsn: r.lsn('final LSN'), commitTime: r.int64('commit time'), xid: r.uint32('xid') };
        break;
      case MSG_COMMIT:
        m = { tag: 'commit', flags: r.byte('flags'), commitLsn: r.lsn('commit LSN'), endLsn: r.lsn('end LSN'), commitTime: r.int64('commit time') };
        break;
      case MSG_ORIGIN:
        m = { tag: 'origin', originLsn: r.lsn('origin LSN'), name: r.string('origin name') };
        break;
      case MSG_RELATION: {
        const x = xid();
        const relid = r.uint32('relation id');
        const namespace = r.string('namespace');
        const name = r.string('relation name');
        const replIdent = String.fromCharCode(r.byte('replica identity'));
        const n = r.int16('the number of columns');
        const columns: RelationColumn[] = [];
        for (let i = 0; i < n; i++) {
          const flags = r.byte('column flags');
          columns.push({ isKey: (flags & 1) !== 0, name: r.string('column name'), typeOid: r.uint32('column type'), typmod: r.int32('column type modifier') });
        }
        m = { tag: 'relation', ...x, relid, namespace, name, replIdent, columns };
        break;
      }
      case MSG_TYPE: {
        const x = xid();
        m = { tag: 'type', ...x, typeOid: r.uint32('type id'), namespace: r.string('namespace'), name: r.string('type name') };
        break;
      }
      case MSG_INSERT: {
        const x = xid();
        const relid = r.uint32('relation id');
        expectN(r);
        m = { tag: 'insert', ...x, relid, newTuple: readTuple(r) };
        break;
      }
      case MSG_UPDATE: {
        const x = xid();
        const relid = r.uint32('relation id');
        const k = r.byte("'K', 'O' or 'N'");
        let old: { kind: 'K' | 'O'; tuple: TupleColumn[] } | undefined;
        if (k === 0x4b || k === 0x4f) {
          old = { kind: k === 0x4b ? 'K' : 'O', tuple: readTuple(r) };
          expectN(r);
        } else if (k !== 0x4e) throw new WalFormatError('invalid-pgoutput-message', `expected 'K', 'O' or 'N' in an update, got byte ${k}`);
        const newTuple = readTuple(r);
        m = old === undefined ? { tag: 'update', ...x, relid, newTuple } : { tag: 'update', ...x, relid, old, newTuple };
        break;
      }
      case MSG_DELETE: {
        const x = xid();
        const relid = r.uint32('relation id');
        const kind = oldKind(r, 'old tuple');
        m = { tag: 'delete', ...x, relid, old: { kind, tuple: readTuple(r) } };
        break;
      }
      case MSG_TRUNCATE: {
        const x = xid();
        const n = r.uint32('the number of relations');
        const flags = r.byte('flags');
        if (n > r.left / 4) throw new WalFormatError('invalid-pgoutput-message', `truncate message claims ${n} relations in ${r.left} bytes`);
        const relids: number[] = [];
        for (let i = 0; i < n; i++) relids.push(r.uint32('relation id'));
        m = { tag: 'truncate', ...x, cascade: (flags & 1) !== 0, restartIdentity: (flags & 2) !== 0, relids };
        break;
      }
      case MSG_MESSAGE: {
        const x = xid();
        const transactional = r.byte('flags') === 1;
        const lsn = r.lsn('message LSN');
        const prefix = r.string('prefix');
        const len = r.int32('content length');
        m = { tag: 'message', ...x, transactional, lsn, prefix, content: r.bytes(len, 'content') };
        break;
      }
      case MSG_BEGIN_PREPARE:
        m = { tag: 'beginPrepare', prepareLsn: r.lsn('prepare LSN'), endLsn: r.lsn('end LSN'), prepareTime: r.int64('prepare time'), xid: r.uint32('xid'), gid: r.string('gid') };
        break;
      case MSG_PREPARE:
      case MSG_STREAM_PREPARE:
        m = { tag: tag === MSG_PREPARE ? 'prepare' : 'streamPrepare', flags: r.byte('flags'), prepareLsn: r.lsn('prepare LSN'), endLsn: r.lsn('end LSN'), prepareTime: r.int64('prepare time'), xid: r.uint32('xid'), gid: r.string('gid') };
        break;
      case MSG_COMMIT_PREPARED:
        m = { tag: 'commitPrepared', flags: r.byte('flags'), commitLsn: r.lsn('commit LSN'), endLsn: r.lsn('end LSN'), commitTime: r.int64('commit time'), xid: r.uint32('xid'), gid: r.string('gid') };
        break;
      case MSG_ROLLBACK_PREPARED:
        m = {
          tag: 'rollbackPrepared',
          flags: r.byte('flags'),
          prepareEndLsn: r.lsn('prepare end LSN'),
          rollbackEndLsn: r.lsn('rollback end LSN'),
          prepareTime: r.int64('prepare time'),
          rollbackTime: r.int64('rollback time'),
          xid: r.uint32('xid'),
          gid: r.string('gid'),
        };
        break;
      case MSG_STREAM_START:
        m = { tag: 'streamStart', xid: r.uint32('xid'), firstSegment: r.byte('first segment') === 1 };
        break;
      case MSG_STREAM_STOP:
        m = { tag: 'streamStop' };
        break;
      case MSG_STREAM_COMMIT:
        m = { tag: 'streamCommit', xid: r.uint32('xid'), flags: r.byte('flags'), commitLsn: r.lsn('commit LSN'), endLsn: r.lsn('end LSN'), commitTime: r.int64('commit time') };
        break;
      case MSG_STREAM_ABORT: {
        const x = r.uint32('xid');
        const subxid = r.uint32('subtransaction xid');
        // Protocol 4 with parallel streaming adds the abort's LSN and time: told by the length.
        m = r.left > 0 ? { tag: 'streamAbort', xid: x, subxid, abortLsn: r.lsn('abort LSN'), abortTime: r.int64('abort time') } : { tag: 'streamAbort', xid: x, subxid };
        break;
      }
      default:
        throw new WalFormatError('invalid-pgoutput-message', `invalid logical replication message type '${String.fromCharCode(tag)}' (byte ${tag})`);
    }
    r.end();
    return m;
  }
}

function writeTuple(w: MessageWriter, tuple: readonly TupleColumn[]): void {
  w.int16(tuple.length);
  for (const c of tuple) {
    if (c.kind === 'null') w.byte(COLUMN_NULL);
    else if (c.kind === 'unchanged') w.byte(COLUMN_UNCHANGED);
    else if (c.kind === 'text') w.byte(COLUMN_TEXT).counted(utf8Encoder.encode(c.value));
    else w.byte(COLUMN_BINARY).counted(c.value);
  }
}

/** A message back to its bytes (what the server would have written for it). */
export function encodePgOutputMessage(m: PgOutputMessage): Uint8Array {
  return writePgOutputMessage(new MessageWriter(), m).finish();
}

function writePgOutputMessage(w: MessageWriter, m: PgOutputMessage): MessageWriter {
  const sx = (x: number | undefined): number => x ?? 0;
  switch (m.tag) {
    case 'begin':
      return writeBegin(w, m.finalLsn, m.commitTime, m.xid);
    case 'commit':
      return w.reset().byte(MSG_COMMIT).byte(m.flags).lsn(m.commitLsn).lsn(m.endLsn).int64(m.commitTime);
    case 'origin':
      return writeOrigin(w, m.originLsn, m.name);
    case 'relation':
      return writeRelation(w, sx(m.xid), m.relid, m.namespace, m.name, m.replIdent, m.columns);
    case 'type':
      // The namespace as sent (empty for pg_catalog).
      w.reset().byte(MSG_TYPE);
      if (m.xid !== undefined) w.int32(m.xid);
      return w.int32(m.typeOid).string(m.namespace).string(m.name);
    case 'insert':
      w.reset().byte(MSG_INSERT);
      if (m.xid !== undefined) w.int32(m.xid);
      w.int32(m.relid).byte(0x4e);
      writeTuple(w, m.newTuple);
      return w;
    case 'update':
      w.reset().byte(MSG_UPDATE);
      if (m.xid !== undefined) w.int32(m.xid);
      w.int32(m.relid);
      if (m.old !== undefined) {
        w.byte(m.old.kind.charCodeAt(0));
        writeTuple(w, m.old.tuple);
      }
      w.byte(0x4e);
      writeTuple(w, m.newTuple);
      return w;
    case 'delete':
      w.reset().byte(MSG_DELETE);
      if (m.xid !== undefined) w.int32(m.xid);
      w.int32(m.relid).byte(m.old.kind.charCodeAt(0));
      writeTuple(w, m.old.tuple);
      return w;
    case 'truncate':
      return writeTruncate(w, sx(m.xid), m.relids, m.cascade, m.restartIdentity);
    case 'message':
      return writeMessage(w, sx(m.xid), m.lsn, m.transactional, m.prefix, m.content);
    case 'beginPrepare':
      return writeBeginPrepare(w, m.prepareLsn, m.endLsn, m.prepareTime, m.xid, m.gid);
    case 'prepare':
    case 'streamPrepare':
      return w.reset().byte(m.tag === 'prepare' ? MSG_PREPARE : MSG_STREAM_PREPARE).byte(m.flags).lsn(m.prepareLsn).lsn(m.endLsn).int64(m.prepareTime).int32(m.xid).string(m.gid);
    case 'commitPrepared':
      return m.flags === 0 ? writeCommitPrepared(w, m.commitLsn, m.endLsn, m.commitTime, m.xid, m.gid) : w.reset().byte(MSG_COMMIT_PREPARED).byte(m.flags).lsn(m.commitLsn).lsn(m.endLsn).int64(m.commitTime).int32(m.xid).string(m.gid);
    case 'rollbackPrepared':
      return m.flags === 0
        ? writeRollbackPrepared(w, m.prepareEndLsn, m.rollbackEndLsn, m.prepareTime, m.rollbackTime, m.xid, m.gid)
        : w.reset().byte(MSG_ROLLBACK_PREPARED).byte(m.flags).lsn(m.prepareEndLsn).lsn(m.rollbackEndLsn).int64(m.prepareTime).int64(m.rollbackTime).int32(m.xid).string(m.gid);
    case 'streamStart':
      return writeStreamStart(w, m.xid, m.firstSegment);
    case 'streamStop':
      return writeStreamStop(w);
    case 'streamCommit':
      return m.flags === 0 ? writeStreamCommit(w, m.xid, m.commitLsn, m.endLsn, m.commitTime) : w.reset().byte(MSG_STREAM_COMMIT).int32(m.xid).byte(m.flags).lsn(m.commitLsn).lsn(m.endLsn).int64(m.commitTime);
    case 'streamAbort':
      return writeStreamAbort(w, m.xid, m.subxid, m.abortLsn !== undefined ? { lsn: m.abortLsn, time: m.abortTime ?? 0n } : undefined);
    default:
      return assertNever(m);
  }
}

function assertNever(x: never): never {
  throw new Error(`unexpected pgoutput message ${JSON.stringify(x)}`);
}
