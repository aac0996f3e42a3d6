// Standby rmgr (id 8): AccessExclusiveLocks, running-xacts snapshots and invalidations, plus the shared
// invalidation message text that Transaction records reuse.
import type { DecodedRecord } from '../record.js';
import type { Major } from '../profile.js';
import type { RmgrDescriptor } from './types.js';

export const XLOG_STANDBY_LOCK = 0x00;
export const XLOG_RUNNING_XACTS = 0x10;
export const XLOG_INVALIDATIONS = 0x20;

// SharedInvalidationMessage ids below zero (sinval.h); ids >= 0 are catcache ids.
export const SHAREDINVALCATALOG_ID = -1;
export const SHAREDINVALRELCACHE_ID = -2;
export const SHAREDINVALSMGR_ID = -3;
export const SHAREDINVALRELMAP_ID = -4;
export const SHAREDINVALSNAPSHOT_ID = -5;
/** 18+ only. */
export const SHAREDINVALRELSYNC_ID = -6;

/** sizeof(SharedInvalidationMessage): every variant is packed into 16 bytes. */
export const SIZE_OF_SHARED_INVAL_MESSAGE = 16;

/**
 * One SharedInvalidationMessage, decoded by its id. `dbId` is the second field of every variant except
 * smgr (whose locator carries it). `hashValue` for catcache, `catId`/`relId` for the others.
 */
export type SharedInvalMessage =
  | { kind: 'catcache'; id: number; dbId: number; hashValue: number }
  | { kind: 'catalog'; id: number; dbId: number; catId: number }
  | { kind: 'relcache'; id: number; dbId: number; relId: number }
  | { kind: 'smgr'; id: number; backend: number; spcOid: number; dbOid: number; relNumber: number }
  | { kind: 'relmap'; id: number; dbId: number }
  | { kind: 'snapshot'; id: number; dbId: number; relId: number }
  | { kind: 'relsync'; id: number; dbId: number; relId: number }
  | { kind: 'unknown'; id: number };

/** Decodes `count` messages stored at `offset` of `view` (16 bytes each, int32-aligned). */
export function readInvalMessages(view: DataView, offset: number, count: number): SharedInvalMessage[] {
  const out: SharedInvalMessage[] = [];
  for (let i = 0; i < count; i++) {
    const at = offset + i * SIZE_OF_SHARED_INVAL_MESSAGE;
    const id = view.getInt8(at);
    const a = view.getUint32(at + 4, true);
    const b = view.getUint32(at + 8, true);
    if (id >= 0) out.push({ kind: 'catcache', id, dbId: a, hashValue: b });
    else if (id === SHAREDINVALCATALOG_ID) out.push({ kind: 'catalog', id, dbId: a, catId: b });
    else if (id === SHAREDINVALRELCACHE_ID) out.push({ kind: 'relcache', id, dbId: a, relId: b });
    else if (id === SHAREDINVALSMGR_ID) {
      // backend_hi (int8) and backend_lo (uint16) sit before the locator.
      const backend = (view.getInt8(at + 1) << 16) | view.getUint16(at + 2, true);
      out.push({ kind: 'smgr', id, backend, spcOid: a, dbOid: b, relNumber: view.getUint32(at + 12, true) });
    } else if (id === SHAREDINVALRELMAP_ID) out.push({ kind: 'relmap', id, dbId: a });
    else if (id === SHAREDINVALSNAPSHOT_ID) out.push({ kind: 'snapshot', id, dbId: a, relId: b });
    else if (id === SHAREDINVALRELSYNC_ID) out.push({ kind: 'relsync', id, dbId: a, relId: b });
    else out.push({ kind: 'unknown', id });
  }
  return out;
}

// see standby_desc_invalidations (standbydesc.c)
export function describeInvalidations(
  view: DataView,
  offset: number,
  count: number,
  dbId: number,
  tsId: number,
  relcacheInitFileInval: boolean,
  major: Major,
): string {
  if (count <= 0) return '';
  let s = relcacheInitFileInval ? `; relcache init file inval dbid ${dbId} tsid ${tsId}` : '';
  s += '; inval msgs:';
  for (const m of readInvalMessages(view, offset, count)) {
    switch (m.kind) {
      case 'catcache':
        s += ` catcache ${m.id}`;
        break;
      case 'catalog':
        s += ` catalog ${m.catId}`;
        break;
      case 'relcache':
        s += ` relcache ${m.relId}`;
        break;
      case 'smgr':
        s += ' smgr';
        break;
      case 'relmap':
        s += ` relmap db ${m.dbId}`;
        break;
      case 'snapshot':
        s += ` snapshot ${m.relId}`;
        break;
      case 'relsync':
        // Before 18 the id was unknown to the describer.
        s += major >= 18 ? ` relsync ${m.relId}` : ` unrecognized id ${m.id}`;
        break;
      case 'unknown':
        s += ` unrecognized id ${m.id}`;
        break;
      default:
        assertNever(m);
    }
  }
  return s;
}

function assertNever(x: never): never {
  throw new Error(`unexpected value ${JSON.stringify(x)}`);
}

/** xl_standby_lock. */
export interface StandbyLock {
  xid: number;
  dbOid: number;
  relOid: number;
}

// see standby_desc, XLOG_STANDBY_LOCK (standbydesc.c): xl_standby_locks is nlocks then 12-byte entries.
export function parseStandbyLocks(rec: DecodedRecord): StandbyLock[] {
  const v = rec.view;
  const base = rec.mainDataOffset;
  const n = v.getInt32(base, true);
  const locks: StandbyLock[] = [];
  for (let i = 0; i < n; i++) {
    const at = base + 4 + i * 12;
    locks.push({ xid: v.getUint32(at, true), dbOid: v.getUint32(at + 4, true), relOid: v.getUint32(at + 8, true) });
  }
  return locks;
}

/** xl_running_xacts. */
export interface RunningXacts {
  nextXid: number;
  oldestRunningXid: number;
  latestCompletedXid: number;
  subxidOverflow: boolean;
  /** Top-level xids (the first xcnt entries of xids[]). */
  xids: number[];
  /** Subtransaction xids (the subxcnt entries after them). */
  subxids: number[];
}

// xl_running_xacts: xcnt, subxcnt, subxid_overflow (bool, padded), nextXid, oldestRunningXid, latestCompletedXid, xids[]
export function parseRunningXacts(rec: DecodedRecord): RunningXacts {
  const v = rec.view;
  const base = rec.mainDataOffset;
  const xcnt = v.getInt32(base, true);
  const subxcnt = v.getInt32(base + 4, true);
  const xids: number[] = [];
  const subxids: number[] = [];
  for (let i = 0; i < xcnt; i++) xids.push(v.getUint32(base + 24 + 4 * i, true));
  for (let i = 0; i < subxcnt; i++) subxids.push(v.getUint32(base + 24 + 4 * (xcnt + i), true));
  return {
    subxidOverflow: v.getUint8(base + 8) !== 0,
    nextXid: v.getUint32(base + 12, true),
    oldestRunningXid: v.getUint32(base + 16, true),
    latestCompletedXid: v.getUint32(base + 20, true),
    xids,
    subxids,
  };
}

/** xl_invalidations, with the messages left in the record (`msgsOffset` into `rec.bytes`). */
export interface StandbyInvalidations {
  dbId: number;
  tsId: number;
  relcacheInitFileInval: boolean;
  nmsgs: number;
  msgsOffset: number;
}

export function parseStandbyInvalidations(rec: DecodedRecord): StandbyInvalidations {
  const v = rec.view;
  const base = rec.mainDataOffset;
  return {
    dbId: v.getUint32(base, true),
    tsId: v.getUint32(base + 4, true),
    relcacheInitFileInval: v.getUint8(base + 8) !== 0,
    nmsgs: v.getInt32(base + 12, true),
    msgsOffset: base + 16,
  };
}

// see standby_desc_running_xacts (standbydesc.c); 16 renamed "subxid ovf" and started listing subxids.
function describeRunningXacts(r: RunningXacts, major: Major): string {
  let s = `nextXid ${r.nextXid} latestCompletedXid ${r.latestCompletedXid} oldestRunningXid ${r.oldestRunningXid}`;
  if (r.xids.length > 0) s += `; ${r.xids.length} xacts: ${r.xids.join(' ')}`;
  if (major >= 16) {
    if (r.subxidOverflow) s += '; subxid overflowed';
    if (r.subxids.length > 0) s += `; ${r.subxids.length} subxacts: ${r.subxids.join(' ')}`;
  } else if (r.subxidOverflow) {
    s += '; subxid ovf';
  }
  return s;
}

const NAMES: Record<number, string> = {
  [XLOG_STANDBY_LOCK]: 'LOCK',
  [XLOG_RUNNING_XACTS]: 'RUNNING_XACTS',
  [XLOG_INVALIDATIONS]: 'INVALIDATIONS',
};

export const standbyRmgr: RmgrDescriptor = {
  id: 8,
  name: 'Standby',
  identify: (info) => NAMES[info & 0xf0],
  // see standby_desc (standbydesc.c)
  describe(rec, ctx) {
    const info = rec.info & 0xf0;
    if (info === XLOG_STANDBY_LOCK) {
      return parseStandbyLocks(rec)
        .map((l) => `xid ${l.xid} db ${l.dbOid} rel ${l.relOid} `)
        .join('');
    }
    if (info === XLOG_RUNNING_XACTS) return describeRunningXacts(parseRunningXacts(rec), ctx.profile.major);
    if (info === XLOG_INVALIDATIONS) {
      const p = parseStandbyInvalidations(rec);
      return describeInvalidations(rec.view, p.msgsOffset, p.nmsgs, p.dbId, p.tsId, p.relcacheInitFileInval, ctx.profile.major);
    }
    return '';
  },
};
