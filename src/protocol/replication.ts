// The streaming replication messages carried inside CopyData, both ways (walsender.c ↔ walreceiver.c):
// XLogData 'w' and primary keepalive 'k' from the server, standby status update 'r' and hot standby
// feedback 'h' from the client. Timestamps are TimestampTz: microseconds since 2000-01-01 UTC.
import { assertNever } from './assert.js';
import { Reader } from './bytes.js';
import { ProtocolError } from './errors.js';
import { printable } from './framer.js';
import { lsnHi, lsnLo, type Lsn } from '../lsn.js';

/** Microseconds since 2000-01-01 00:00 UTC. */
export type TimestampTz = number;

const UNIX_TO_PG_EPOCH_MS = 946_684_800_000;

/** GetCurrentTimestamp at millisecond resolution (what `Date` offers). */
export function currentTimestamp(nowMs: number = Date.now()): TimestampTz {
  return (nowMs - UNIX_TO_PG_EPOCH_MS) * 1000;
}

export function timestampToDate(ts: TimestampTz): Date {
  return new Date(ts / 1000 + UNIX_TO_PG_EPOCH_MS);
}

export interface XLogData {
  type: 'XLogData';
  /** The LSN of data's first byte. */
  dataStart: Lsn;
  /** The server's end of WAL (flush position, or 0 from a cascading standby before 9.x: see walsender.c). */
  walEnd: Lsn;
  sendTime: TimestampTz;
  /** A view into the message: copy it to keep it past the next chunk. */
  data: Uint8Array;
}

export interface PrimaryKeepalive {
  type: 'PrimaryKeepalive';
  walEnd: Lsn;
  sendTime: TimestampTz;
  /** The server wants a standby status update now (it is about to time the connection out). */
  replyRequested: boolean;
}

export interface StandbyStatusUpdate {
  type: 'StandbyStatusUpdate';
  writeLsn: Lsn;
  flushLsn: Lsn;
  applyLsn: Lsn;
  sendTime: TimestampTz;
  replyRequested: boolean;
}

/** Transaction ids as 32-bit xid plus epoch; 0/0 means "none" (InvalidTransactionId). */
export interface HotStandbyFeedback {
  type: 'HotStandbyFeedback';
  sendTime: TimestampTz;
  xmin: number;
  xminEpoch: number;
  catalogXmin: number;
  catalogXminEpoch: number;
}

/** What a walsender sends inside CopyData during START_REPLICATION. */
export type WalSenderMessage = XLogData | PrimaryKeepalive;
/** What a walreceiver sends inside CopyData. */
export type WalReceiverMessage = StandbyStatusUpdate | HotStandbyFeedback;
export type ReplicationMessage = WalSenderMessage | WalReceiverMessage;

/** The XLogData header before the WAL bytes: 'w', three int64. */
export const XLOG_DATA_HEADER_SIZE = 25;

/** The CopyData payload of one replication message. */
export function serializeReplicationMessage(m: ReplicationMessage): Uint8Array {
  switch (m.type) {
    case 'XLogData': {
      const out = new Uint8Array(XLOG_DATA_HEADER_SIZE + m.data.length);
      writeXLogDataHeader(out, 0, m.dataStart, m.walEnd, m.sendTime);
      out.set(m.data, XLOG_DATA_HEADER_SIZE);
      return out;
    }
    case 'PrimaryKeepalive': {
      const out = new Uint8Array(18);
      const v = new DataView(out.buffer);
      out[0] = 0x6b;
      putLsn(v, 1, m.walEnd);
      putI64(v, 9, m.sendTime);
      out[17] = m.replyRequested ? 1 : 0;
      return out;
    }
    case 'StandbyStatusUpdate': {
      const out = new Uint8Array(34);
      const v = new DataView(out.buffer);
      out[0] = 0x72;
      putLsn(v, 1, m.writeLsn);
      putLsn(v, 9, m.flushLsn);
      putLsn(v, 17, m.applyLsn);
      putI64(v, 25, m.sendTime);
      out[33] = m.replyRequested ? 1 : 0;
      return out;
    }
    case 'HotStandbyFeedback': {
      const out = new Uint8Array(25);
      const v = new DataView(out.buffer);
      out[0] = 0x68;
      putI64(v, 1, m.sendTime);
      v.setUint32(9, m.xmin);
      v.setUint32(13, m.xminEpoch);
      v.setUint32(17, m.catalogXmin);
      v.setUint32(21, m.catalogXminEpoch);
      return out;
    }
    default:
      return assertNever(m);
  }
}

/**
 * A whole framed CopyData message carrying XLogData, in one allocation: the walsender's hot path.
 * `data` is copied once, into the message.
 */
export function xlogDataMessage(dataStart: Lsn, walEnd: Lsn, sendTime: TimestampTz, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + XLOG_DATA_HEADER_SIZE + data.length);
  out[0] = 0x64; // 'd'
  new DataView(out.buffer).setInt32(1, 4 + XLOG_DATA_HEADER_SIZE + data.length);
  writeXLogDataHeader(out, 5, dataStart, walEnd, sendTime);
  out.set(data, 5 + XLOG_DATA_HEADER_SIZE);
  return out;
}

function writeXLogDataHeader(out: Uint8Array, at: number, dataStart: Lsn, walEnd: Lsn, sendTime: TimestampTz): void {
  const v = new DataView(out.buffer, out.byteOffset);
  out[at] = 0x77;
  putLsn(v, at + 1, dataStart);
  putLsn(v, at + 9, walEnd);
  putI64(v, at + 17, sendTime);
}

function putLsn(v: DataView, at: number, lsn: Lsn): void {
  if (!Number.isSafeInteger(lsn) || lsn < 0) throw new RangeError(`${lsn} is not a valid LSN`);
  v.setUint32(at, lsnHi(lsn));
  v.setUint32(at + 4, lsnLo(lsn));
}

function putI64(v: DataView, at: number, n: number): void {
  if (!Number.isSafeInteger(n)) throw new RangeError(`${n} is not an exact 64-bit integer`);
  const hi = Math.floor(n / 0x1_0000_0000);
  v.setInt32(at, hi);
  v.setUint32(at + 4, n - hi * 0x1_0000_0000);
}

/** A message a walsender sent (read by the client). */
export function parseWalSenderMessage(payload: Uint8Array): WalSenderMessage {
  const m = parseReplicationMessage(payload);
  if (m.type === 'XLogData' || m.type === 'PrimaryKeepalive') return m;
  throw new ProtocolError('unexpected-message', `unexpected streaming message type "${payload[0] === 0x72 ? 'r' : 'h'}" from the server`);
}

/** A message a walreceiver sent (read by the walsender). */
export function parseWalReceiverMessage(payload: Uint8Array): WalReceiverMessage {
  const m = parseReplicationMessage(payload);
  if (m.type === 'StandbyStatusUpdate' || m.type === 'HotStandbyFeedback') return m;
  throw new ProtocolError('unexpected-message', `unexpected message type "${payload[0] === 0x77 ? 'w' : 'k'}" from the client`);
}

/** Any of the four, from a CopyData payload. */
export function parseReplicationMessage(payload: Uint8Array): ReplicationMessage {
  if (payload.length === 0) throw new ProtocolError('protocol-violation', 'invalid streaming message: empty CopyData');
  const kind = payload[0]!;
  switch (kind) {
    case 0x77 /* w */: {
      const r = new Reader(payload, 'XLogData');
      r.off = 1;
      return { type: 'XLogData', dataStart: r.lsn('dataStart'), walEnd: r.lsn('walEnd'), sendTime: r.i64('sendTime'), data: r.rest() };
    }
    case 0x6b /* k */: {
      const r = new Reader(payload, 'primary keepalive');
      r.off = 1;
      const m: PrimaryKeepalive = { type: 'PrimaryKeepalive', walEnd: r.lsn('walEnd'), sendTime: r.i64('sendTime'), replyRequested: r.u8('replyRequested') !== 0 };
      r.end();
      return m;
    }
    case 0x72 /* r */: {
      const r = new Reader(payload, 'standby status update');
      r.off = 1;
      const m: StandbyStatusUpdate = {
        type: 'StandbyStatusUpdate',
        writeLsn: r.lsn('write'),
        flushLsn: r.lsn('flush'),
        applyLsn: r.lsn('apply'),
        sendTime: r.i64('sendTime'),
        replyRequested: r.u8('replyRequested') !== 0,
      };
      r.end();
      return m;
    }
    case 0x68 /* h */: {
      const r = new Reader(payload, 'hot standby feedback');
      r.off = 1;
      const m: HotStandbyFeedback = {
        type: 'HotStandbyFeedback',
        sendTime: r.i64('sendTime'),
        xmin: r.u32('xmin'),
        xminEpoch: r.u32('xmin epoch'),
        catalogXmin: r.u32('catalog_xmin'),
        catalogXminEpoch: r.u32('catalog_xmin epoch'),
      };
      r.end();
      return m;
    }
    default:
      throw new ProtocolError('protocol-violation', `invalid streaming message type "${printable(kind)}"`);
  }
}
