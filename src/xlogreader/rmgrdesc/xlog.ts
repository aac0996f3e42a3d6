// XLOG rmgr (id 0): checkpoints, NEXTOID, switches, restore points, parameter changes, end of recovery and
// the other records of xlog.c, with their payload parsers.
import type { DecodedRecord } from '../record.js';
import type { Major } from '../profile.js';
import { formatLsn, lsnFromParts, type Lsn } from '../../lsn.js';
import type { RmgrDescriptor } from './types.js';

export const XLOG_CHECKPOINT_SHUTDOWN = 0x00;
export const XLOG_CHECKPOINT_ONLINE = 0x10;
export const XLOG_NOOP = 0x20;
export const XLOG_NEXTOID = 0x30;
export const XLOG_SWITCH = 0x40;
export const XLOG_BACKUP_END = 0x50;
export const XLOG_PARAMETER_CHANGE = 0x60;
export const XLOG_RESTORE_POINT = 0x70;
export const XLOG_FPW_CHANGE = 0x80;
export const XLOG_END_OF_RECOVERY = 0x90;
export const XLOG_FPI_FOR_HINT = 0xa0;
export const XLOG_FPI = 0xb0;
export const XLOG_OVERWRITE_CONTRECORD = 0xd0;
/** 17+. */
export const XLOG_CHECKPOINT_REDO = 0xe0;

// wal_level_options (xlogdesc.c): the first entry with the value names it; deprecated aliases never win.
const WAL_LEVEL_NAMES = ['minimal', 'replica', 'logical'];
export function walLevelName(level: number): string {
  return WAL_LEVEL_NAMES[level] ?? '?';
}

const readLsn = (v: DataView, at: number): Lsn => lsnFromParts(v.getUint32(at + 4, true), v.getUint32(at, true));

/** CheckPoint (pg_control.h). */
export interface CheckPoint {
  redo: Lsn;
  thisTimeLineId: number;
  prevTimeLineId: number;
  fullPageWrites: boolean;
  /** 17+ only; undefined before. */
  walLevel: number | undefined;
  /** nextXid as a FullTransactionId: epoch and xid halves. */
  nextXidEpoch: number;
  nextXid: number;
  nextOid: number;
  nextMulti: number;
  nextMultiOffset: number;
  oldestXid: number;
  oldestXidDb: number;
  oldestMulti: number;
  oldestMultiDb: number;
  /** pg_time_t: seconds since 1970. */
  time: bigint;
  oldestCommitTsXid: number;
  newestCommitTsXid: number;
  oldestActiveXid: number;
}

// CheckPoint: 17 put wal_level into the padding after fullPageWrites, so no later offset moved.
export function parseCheckpoint(rec: DecodedRecord, major: Major): CheckPoint {
  const v = rec.view;
  const b = rec.mainDataOffset;
  return {
    redo: readLsn(v, b),
    thisTimeLineId: v.getUint32(b + 8, true),
    prevTimeLineId: v.getUint32(b + 12, true),
    fullPageWrites: v.getUint8(b + 16) !== 0,
    walLevel: major >= 17 ? v.getInt32(b + 20, true) : undefined,
    nextXidEpoch: v.getUint32(b + 28, true),
    nextXid: v.getUint32(b + 24, true),
    nextOid: v.getUint32(b + 32, true),
    nextMulti: v.getUint32(b + 36, true),
    nextMultiOffset: v.getUint32(b + 40, true),
    oldestXid: v.getUint32(b + 44, true),
    oldestXidDb: v.getUint32(b + 48, true),
    oldestMulti: v.getUint32(b + 52, true),
    oldestMultiDb: v.getUint32(b + 56, true),
    time: v.getBigInt64(b + 64, true),
    oldestCommitTsXid: v.getUint32(b + 72, true),
    newestCommitTsXid: v.getUint32(b + 76, true),
    oldestActiveXid: v.getUint32(b + 80, true),
  };
}

/** xl_end_of_recovery. */
export interface EndOfRecovery {
  endTime: bigint;
  thisTimeLineId: number;
  prevTimeLineId: number;
  /** 17+ only. */
  walLevel: number | undefined;
}

export function parseEndOfRecovery(rec: DecodedRecord, major: Major): EndOfRecovery {
  const v = rec.view;
  const b = rec.mainDataOffset;
  return {
    endTime: v.getBigInt64(b, true),
    thisTimeLineId: v.getUint32(b + 8, true),
    prevTimeLineId: v.getUint32(b + 12, true),
    walLevel: major >= 17 ? v.getInt32(b + 16, true) : undefined,
  };
}

/** xl_overwrite_contrecord. */
export interface OverwriteContrecord {
  overwrittenLsn: Lsn;
  overwriteTime: bigint;
}

export function parseOverwriteContrecord(rec: DecodedRecord): OverwriteContrecord {
  const v = rec.view;
  const b = rec.mainDataOffset;
  return { overwrittenLsn: readLsn(v, b), overwriteTime: v.getBigInt64(b + 8, true) };
}

/** xl_parameter_change. */
export interface ParameterChange {
  maxConnections: number;
  maxWorkerProcesses: number;
  maxWalSenders: number;
  maxPreparedXacts: number;
  maxLocksPerXact: number;
  walLevel: number;
  walLogHints: boolean;
  trackCommitTimestamp: boolean;
}

export function parseParameterChange(rec: DecodedRecord): ParameterChange {
  const v = rec.view;
  const b = rec.mainDataOffset;
  return {
    maxConnections: v.getInt32(b, true),
    maxWorkerProcesses: v.getInt32(b + 4, true),
    maxWalSenders: v.getInt32(b + 8, true),
    maxPreparedXacts: v.getInt32(b + 12, true),
    maxLocksPerXact: v.getInt32(b + 16, true),
    walLevel: v.getInt32(b + 20, true),
    walLogHints: v.getUint8(b + 24) !== 0,
    trackCommitTimestamp: v.getUint8(b + 25) !== 0,
  };
}

/** xl_restore_point. */
export interface RestorePoint {
  time: bigint;
  name: string;
}

const decoder = new TextDecoder();

export function parseRestorePoint(rec: DecodedRecord): RestorePoint {
  const b = rec.mainDataOffset;
  const end = b + rec.mainDataLength;
  let nul = b + 8;
  while (nul < end && rec.bytes[nul] !== 0) nul++;
  return { time: rec.view.getBigInt64(b, true), name: decoder.decode(rec.bytes.subarray(b + 8, nul)) };
}

const NAMES: Record<number, string> = {
  [XLOG_CHECKPOINT_SHUTDOWN]: 'CHECKPOINT_SHUTDOWN',
  [XLOG_CHECKPOINT_ONLINE]: 'CHECKPOINT_ONLINE',
  [XLOG_NOOP]: 'NOOP',
  [XLOG_NEXTOID]: 'NEXTOID',
  [XLOG_SWITCH]: 'SWITCH',
  [XLOG_BACKUP_END]: 'BACKUP_END',
  [XLOG_PARAMETER_CHANGE]: 'PARAMETER_CHANGE',
  [XLOG_RESTORE_POINT]: 'RESTORE_POINT',
  [XLOG_FPW_CHANGE]: 'FPW_CHANGE',
  [XLOG_END_OF_RECOVERY]: 'END_OF_RECOVERY',
  [XLOG_OVERWRITE_CONTRECORD]: 'OVERWRITE_CONTRECORD',
  [XLOG_FPI]: 'FPI',
  [XLOG_FPI_FOR_HINT]: 'FPI_FOR_HINT',
};

// see xlog_desc (xlogdesc.c)
function describe(rec: DecodedRecord, major: Major, formatTimestamp: (us: bigint) => string): string {
  const info = rec.info & 0xf0;
  const v = rec.view;
  const b = rec.mainDataOffset;
  switch (info) {
    case XLOG_CHECKPOINT_SHUTDOWN:
    case XLOG_CHECKPOINT_ONLINE: {
      const c = parseCheckpoint(rec, major);
      const level = major >= 17 ? ` wal_level ${walLevelName(c.walLevel!)};` : '';
      return (
        `redo ${formatLsn(c.redo)}; tli ${c.thisTimeLineId}; prev tli ${c.prevTimeLineId}; fpw ${c.fullPageWrites};${level} ` +
        `xid ${c.nextXidEpoch}:${c.nextXid}; oid ${c.nextOid}; multi ${c.nextMulti}; offset ${c.nextMultiOffset}; ` +
        `oldest xid ${c.oldestXid} in DB ${c.oldestXidDb}; oldest multi ${c.oldestMulti} in DB ${c.oldestMultiDb}; ` +
        `oldest/newest commit timestamp xid: ${c.oldestCommitTsXid}/${c.newestCommitTsXid}; ` +
        `oldest running xid ${c.oldestActiveXid}; ${info === XLOG_CHECKPOINT_SHUTDOWN ? 'shutdown' : 'online'}`
      );
    }
    case XLOG_NEXTOID:
      return String(v.getUint32(b, true));
    case XLOG_RESTORE_POINT:
      return parseRestorePoint(rec).name;
    case XLOG_BACKUP_END:
      return formatLsn(readLsn(v, b));
    case XLOG_PARAMETER_CHANGE: {
      const p = parseParameterChange(rec);
      return (
        `max_connections=${p.maxConnections} max_worker_processes=${p.maxWorkerProcesses} ` +
        `max_wal_senders=${p.maxWalSenders} max_prepared_xacts=${p.maxPreparedXacts} ` +
        `max_locks_per_xact=${p.maxLocksPerXact} wal_level=${walLevelName(p.walLevel)} ` +
        `wal_log_hints=${p.walLogHints ? 'on' : 'off'} track_commit_timestamp=${p.trackCommitTimestamp ? 'on' : 'off'}`
      );
    }
    case XLOG_FPW_CHANGE:
      return v.getUint8(b) !== 0 ? 'true' : 'false';
    case XLOG_END_OF_RECOVERY: {
      const e = parseEndOfRecovery(rec, major);
      const level = major >= 17 ? `; wal_level ${walLevelName(e.walLevel!)}` : '';
      return `tli ${e.thisTimeLineId}; prev tli ${e.prevTimeLineId}; time ${formatTimestamp(e.endTime)}${level}`;
    }
    case XLOG_OVERWRITE_CONTRECORD: {
      const o = parseOverwriteContrecord(rec);
      return `lsn ${formatLsn(o.overwrittenLsn)}; time ${formatTimestamp(o.overwriteTime)}`;
    }
    case XLOG_CHECKPOINT_REDO:
      return major >= 17 ? `wal_level ${walLevelName(v.getInt32(b, true))}` : '';
    // Nothing further to print: NOOP, SWITCH, FPI, FPI_FOR_HINT, and the unused opcode 0xC0.
    default:
      return '';
  }
}

export const xlogRmgr: RmgrDescriptor = {
  id: 0,
  name: 'XLOG',
  // see xlog_identify (xlogdesc.c)
  identify(info, profile) {
    const op = info & 0xf0;
    if (op === XLOG_CHECKPOINT_REDO) return profile.major >= 17 ? 'CHECKPOINT_REDO' : undefined;
    return NAMES[op];
  },
  describe: (rec, ctx) => describe(rec, ctx.profile.major, ctx.formatTimestamp),
};
