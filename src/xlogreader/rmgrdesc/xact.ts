// Transaction rmgr (id 1): commit/abort/prepare payload parsers (shared with logical decoding) and their text.
import type { DecodedRecord, RelFileLocator } from '../record.js';
import type { Major } from '../profile.js';
import { lastViewCache } from '../bytes.js';
import { formatLsn, lsnFromParts, type Lsn } from '../../lsn.js';
import type { DescribeContext, RmgrDescriptor } from './types.js';
import { readRelFileLocator, relPathPerm } from './utils.js';
import { describeInvalidations, SIZE_OF_SHARED_INVAL_MESSAGE } from './standby.js';

export const XLOG_XACT_COMMIT = 0x00;
export const XLOG_XACT_PREPARE = 0x10;
export const XLOG_XACT_ABORT = 0x20;
export const XLOG_XACT_COMMIT_PREPARED = 0x30;
export const XLOG_XACT_ABORT_PREPARED = 0x40;
export const XLOG_XACT_ASSIGNMENT = 0x50;
export const XLOG_XACT_INVALIDATIONS = 0x60;
export const XLOG_XACT_OPMASK = 0x70;
/** xl_info bit: an xl_xact_xinfo follows the fixed part. */
export const XLOG_XACT_HAS_INFO = 0x80;

export const XACT_XINFO_HAS_DBINFO = 1 << 0;
export const XACT_XINFO_HAS_SUBXACTS = 1 << 1;
export const XACT_XINFO_HAS_RELFILELOCATORS = 1 << 2;
export const XACT_XINFO_HAS_INVALS = 1 << 3;
export const XACT_XINFO_HAS_TWOPHASE = 1 << 4;
export const XACT_XINFO_HAS_ORIGIN = 1 << 5;
export const XACT_XINFO_HAS_AE_LOCKS = 1 << 6;
export const XACT_XINFO_HAS_GID = 1 << 7;
export const XACT_XINFO_HAS_DROPPED_STATS = 1 << 8;
// Unsigned comparisons below: bit 31 makes the JS value negative.
export const XACT_COMPLETION_APPLY_FEEDBACK = 1 << 29;
export const XACT_COMPLETION_UPDATE_RELCACHE_FILE = 1 << 30;
export const XACT_COMPLETION_FORCE_SYNC_COMMIT = 1 << 31;

/** A transactionally dropped statistics entry (xl_xact_stats_item). */
export interface XactStatsItem {
  kind: number;
  dbOid: number;
  /** An Oid before 18 (objoid), a uint64 from 18 on (objid_lo | objid_hi << 32). */
  objId: bigint;
}

/** xl_xact_stats_item size: 12 bytes before 18, 16 from 18 (objid became 64-bit). */
function statsItemSize(major: Major): number {
  return major >= 18 ? 16 : 12;
}

function readStatsItems(view: DataView, offset: number, count: number, major: Major): XactStatsItem[] {
  const size = statsItemSize(major);
  const out: XactStatsItem[] = [];
  for (let i = 0; i < count; i++) {
    const at = offset + i * size;
    const lo = BigInt(view.getUint32(at + 8, true));
    const objId = major >= 18 ? (BigInt(view.getUint32(at + 12, true)) << 32n) | lo : lo;
    out.push({ kind: view.getInt32(at, true), dbOid: view.getUint32(at + 4, true), objId });
  }
  return out;
}

function readXids(view: DataView, offset: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(view.getUint32(offset + 4 * i, true));
  return out;
}

function readLocators(view: DataView, offset: number, count: number): RelFileLocator[] {
  const out: RelFileLocator[] = [];
  for (let i = 0; i < count; i++) out.push(readRelFileLocator(view, offset + 12 * i));
  return out;
}

const decoder = new TextDecoder();

/** A NUL-terminated string starting at `offset`, bounded by `end`; returns the text and the byte length read. */
function cString(bytes: Uint8Array, offset: number, end: number): { text: string; length: number } {
  let nul = offset;
  while (nul < end && bytes[nul] !== 0) nul++;
  return { text: decoder.decode(bytes.subarray(offset, nul)), length: nul - offset };
}

/** xl_xact_parsed_commit / xl_xact_parsed_abort. Abort records never carry invalidations (nmsgs 0). */
export interface ParsedXactEnd {
  /** xinfo flags; 0 when the record has no xl_xact_xinfo. */
  xinfo: number;
  /** xact_time, microseconds since 2000-01-01. */
  xactTime: bigint;
  dbId: number;
  tsId: number;
  subxacts: number[];
  /** Relations dropped by the transaction. */
  relLocators: RelFileLocator[];
  droppedStats: XactStatsItem[];
  /** Invalidation messages: `nmsgs` of them at `msgsOffset` in `rec.bytes` (see readInvalMessages). */
  nmsgs: number;
  msgsOffset: number;
  /** The prepared transaction's xid for COMMIT/ABORT PREPARED, else 0. */
  twophaseXid: number;
  twophaseGid: string;
  originLsn: Lsn;
  originTimestamp: bigint;
}

export type ParsedCommit = ParsedXactEnd;
export type ParsedAbort = ParsedXactEnd;

/** A DataView of a record's source, kept while records come from the same buffer (a reader reuses its pages). */
const sourceView = lastViewCache();

// see ParseCommitRecord and ParseAbortRecord (xactdesc.c): optional pieces follow xact_time in xinfo-bit order.
function parseXactEnd(rec: DecodedRecord, major: Major, withInvals: boolean): ParsedXactEnd {
  // Read where the record lies (offsets shifted by sourceOffset): no cut of its bytes and no DataView per commit.
  const src = rec.source;
  const v = sourceView(src);
  let at = rec.sourceOffset + rec.mainDataOffset;
  const end = at + rec.mainDataLength;
  const p: ParsedXactEnd = {
    xinfo: 0,
    xactTime: v.getBigInt64(at, true),
    dbId: 0,
    tsId: 0,
    subxacts: [],
    relLocators: [],
    droppedStats: [],
    nmsgs: 0,
    msgsOffset: 0,
    twophaseXid: 0,
    twophaseGid: '',
    originLsn: 0,
    originTimestamp: 0n,
  };
  at += 8;
  if ((rec.info & XLOG_XACT_HAS_INFO) !== 0) {
    p.xinfo = v.getUint32(at, true);
    at += 4;
  }
  const xinfo = p.xinfo;
  if (xinfo & XACT_XINFO_HAS_DBINFO) {
    p.dbId = v.getUint32(at, true);
    p.tsId = v.getUint32(at + 4, true);
    at += 8;
  }
  if (xinfo & XACT_XINFO_HAS_SUBXACTS) {
    const n = v.getInt32(at, true);
    p.subxacts = readXids(v, at + 4, n);
    at += 4 + 4 * n;
  }
  if (xinfo & XACT_XINFO_HAS_RELFILELOCATORS) {
    const n = v.getInt32(at, true);
    p.relLocators = readLocators(v, at + 4, n);
    at += 4 + 12 * n;
  }
  if (xinfo & XACT_XINFO_HAS_DROPPED_STATS) {
    const n = v.getInt32(at, true);
    p.droppedStats = readStatsItems(v, at + 4, n, major);
    at += 4 + statsItemSize(major) * n;
  }
  if (withInvals && xinfo & XACT_XINFO_HAS_INVALS) {
    p.nmsgs = v.getInt32(at, true);
    p.msgsOffset = at + 4 - rec.sourceOffset;
    at += 4 + SIZE_OF_SHARED_INVAL_MESSAGE * p.nmsgs;
  }
  if (xinfo & XACT_XINFO_HAS_TWOPHASE) {
    p.twophaseXid = v.getUint32(at, true);
    at += 4;
    if (xinfo & XACT_XINFO_HAS_GID) {
      const gid = cString(src, at, end);
      p.twophaseGid = gid.text;
      at += gid.length + 1;
    }
  }
  // From here on nothing is aligned.
  if (xinfo & XACT_XINFO_HAS_ORIGIN) {
    p.originLsn = lsnFromParts(v.getUint32(at + 4, true), v.getUint32(at, true));
    p.originTimestamp = v.getBigInt64(at + 8, true);
  }
  return p;
}

// The last parse, for the same record asked again: a commit is parsed by the catalog, the decoder and pgoutput's
// catalog in turn. Readers reuse record objects, so the record's place (LSN, end, timeline) is part of the key.
// Callers treat a parse as read-only.
let lastRec: DecodedRecord | undefined;
let lastLsn = -1;
let lastEnd = -1;
let lastTimeline = -1;
let lastMajor = 0;
let lastInvals = false;
let lastParse: ParsedXactEnd | undefined;

function parseXactEndOnce(rec: DecodedRecord, major: Major, withInvals: boolean): ParsedXactEnd {
  if (rec === lastRec && rec.lsn === lastLsn && rec.endLsn === lastEnd && rec.timeline === lastTimeline && major === lastMajor && withInvals === lastInvals) return lastParse!;
  const p = parseXactEnd(rec, major, withInvals);
  lastRec = rec;
  lastLsn = rec.lsn;
  lastEnd = rec.endLsn;
  lastTimeline = rec.timeline;
  lastMajor = major;
  lastInvals = withInvals;
  lastParse = p;
  return p;
}

// see ParseCommitRecord (xactdesc.c)
export function parseCommit(rec: DecodedRecord, major: Major): ParsedCommit {
  return parseXactEndOnce(rec, major, true);
}

// see ParseAbortRecord (xactdesc.c)
export function parseAbort(rec: DecodedRecord, major: Major): ParsedAbort {
  return parseXactEndOnce(rec, major, false);
}

/** xl_xact_parsed_prepare: the two-phase state file image a PREPARE record carries. */
export interface ParsedPrepare {
  /** The prepared transaction's xid. */
  twophaseXid: number;
  dbId: number;
  /** prepared_at, microseconds since 2000-01-01. */
  xactTime: bigint;
  owner: number;
  twophaseGid: string;
  subxacts: number[];
  /** Relations dropped on commit / on abort. */
  relLocators: RelFileLocator[];
  abortRelLocators: RelFileLocator[];
  droppedStats: XactStatsItem[];
  abortDroppedStats: XactStatsItem[];
  nmsgs: number;
  msgsOffset: number;
  initFileInval: boolean;
  originLsn: Lsn;
  originTimestamp: bigint;
}

const maxAlign = (n: number): number => (n + 7) & ~7;
/** MAXALIGN(sizeof(xl_xact_prepare)). */
const SIZE_OF_XACT_PREPARE = 72;

// see ParsePrepareRecord (xactdesc.c): a fixed header, then MAXALIGNed arrays.
export function parsePrepare(rec: DecodedRecord, major: Major): ParsedPrepare {
  const v = rec.view;
  const base = rec.mainDataOffset;
  const nsubxacts = v.getInt32(base + 28, true);
  const ncommitrels = v.getInt32(base + 32, true);
  const nabortrels = v.getInt32(base + 36, true);
  const ncommitstats = v.getInt32(base + 40, true);
  const nabortstats = v.getInt32(base + 44, true);
  const ninvalmsgs = v.getInt32(base + 48, true);
  const gidlen = v.getUint16(base + 54, true);
  let at = base + SIZE_OF_XACT_PREPARE;
  // gidlen counts the terminating NUL; strncpy stops at the first NUL anyway.
  const gid = cString(rec.bytes, at, at + gidlen).text;
  at += maxAlign(gidlen);
  const subxacts = readXids(v, at, nsubxacts);
  at += maxAlign(4 * nsubxacts);
  const relLocators = readLocators(v, at, ncommitrels);
  at += maxAlign(12 * ncommitrels);
  const abortRelLocators = readLocators(v, at, nabortrels);
  at += maxAlign(12 * nabortrels);
  const droppedStats = readStatsItems(v, at, ncommitstats, major);
  at += maxAlign(statsItemSize(major) * ncommitstats);
  const abortDroppedStats = readStatsItems(v, at, nabortstats, major);
  at += maxAlign(statsItemSize(major) * nabortstats);
  return {
    twophaseXid: v.getUint32(base + 8, true),
    dbId: v.getUint32(base + 12, true),
    xactTime: v.getBigInt64(base + 16, true),
    owner: v.getUint32(base + 24, true),
    twophaseGid: gid,
    subxacts,
    relLocators,
    abortRelLocators,
    droppedStats,
    abortDroppedStats,
    nmsgs: ninvalmsgs,
    msgsOffset: at,
    initFileInval: v.getUint8(base + 52) !== 0,
    originLsn: lsnFromParts(v.getUint32(base + 60, true), v.getUint32(base + 56, true)),
    originTimestamp: v.getBigInt64(base + 64, true),
  };
}

/** xl_xact_assignment. */
export interface XactAssignment {
  xtop: number;
  subxacts: number[];
}

export function parseXactAssignment(rec: DecodedRecord): XactAssignment {
  const v = rec.view;
  const base = rec.mainDataOffset;
  return { xtop: v.getUint32(base, true), subxacts: readXids(v, base + 8, v.getInt32(base + 4, true)) };
}

/** xl_xact_invals (XLOG_XACT_INVALIDATIONS): messages left in the record. */
export interface XactInvalidations {
  nmsgs: number;
  msgsOffset: number;
}

export function parseXactInvalidations(rec: DecodedRecord): XactInvalidations {
  return { nmsgs: rec.view.getInt32(rec.mainDataOffset, true), msgsOffset: rec.mainDataOffset + 4 };
}

// see xact_desc_relations (xactdesc.c)
function describeRelations(label: string, locators: RelFileLocator[], major: Major): string {
  if (locators.length === 0) return '';
  return `; ${label}:` + locators.map((l) => ` ${relPathPerm(l, 0, major)}`).join('');
}

// see xact_desc_subxacts (xactdesc.c)
function describeSubxacts(subxacts: number[]): string {
  return subxacts.length === 0 ? '' : '; subxacts:' + subxacts.map((x) => ` ${x}`).join('');
}

// see xact_desc_stats (xactdesc.c)
function describeStats(label: string, items: XactStatsItem[]): string {
  if (items.length === 0) return '';
  return `; ${label}dropped stats:` + items.map((s) => ` ${s.kind}/${s.dbOid}/${s.objId}`).join('');
}

function describeOrigin(origin: number, lsn: Lsn, ts: bigint, ctx: DescribeContext): string {
  return `; origin: node ${origin}, lsn ${formatLsn(lsn)}, at ${ctx.formatTimestamp(ts)}`;
}

// see xact_desc_commit (xactdesc.c)
function describeCommit(rec: DecodedRecord, ctx: DescribeContext): string {
  const major = ctx.profile.major;
  const p = parseCommit(rec, major);
  let s = p.twophaseXid !== 0 ? `${p.twophaseXid}: ` : '';
  s += ctx.formatTimestamp(p.xactTime);
  s += describeRelations('rels', p.relLocators, major);
  s += describeSubxacts(p.subxacts);
  s += describeStats('', p.droppedStats);
  s += describeInvalidations(rec.view, p.msgsOffset, p.nmsgs, p.dbId, p.tsId, (p.xinfo & XACT_COMPLETION_UPDATE_RELCACHE_FILE) !== 0, major);
  if ((p.xinfo & XACT_COMPLETION_APPLY_FEEDBACK) !== 0) s += '; apply_feedback';
  if ((p.xinfo & XACT_COMPLETION_FORCE_SYNC_COMMIT) !== 0) s += '; sync';
  if (p.xinfo & XACT_XINFO_HAS_ORIGIN) s += describeOrigin(rec.origin, p.originLsn, p.originTimestamp, ctx);
  return s;
}

// see xact_desc_abort (xactdesc.c): note the dropped stats come after the origin here.
function describeAbort(rec: DecodedRecord, ctx: DescribeContext): string {
  const major = ctx.profile.major;
  const p = parseAbort(rec, major);
  let s = p.twophaseXid !== 0 ? `${p.twophaseXid}: ` : '';
  s += ctx.formatTimestamp(p.xactTime);
  s += describeRelations('rels', p.relLocators, major);
  s += describeSubxacts(p.subxacts);
  if (p.xinfo & XACT_XINFO_HAS_ORIGIN) s += describeOrigin(rec.origin, p.originLsn, p.originTimestamp, ctx);
  s += describeStats('', p.droppedStats);
  return s;
}

// see xact_desc_prepare (xactdesc.c)
function describePrepare(rec: DecodedRecord, ctx: DescribeContext): string {
  const major = ctx.profile.major;
  const p = parsePrepare(rec, major);
  let s = `gid ${p.twophaseGid}: ${ctx.formatTimestamp(p.xactTime)}`;
  s += describeRelations('rels(commit)', p.relLocators, major);
  s += describeRelations('rels(abort)', p.abortRelLocators, major);
  s += describeStats('commit ', p.droppedStats);
  s += describeStats('abort ', p.abortDroppedStats);
  s += describeSubxacts(p.subxacts);
  // ParsePrepareRecord leaves tsId zero.
  s += describeInvalidations(rec.view, p.msgsOffset, p.nmsgs, p.dbId, 0, p.initFileInval, major);
  // Like PrepareRedoAdd: the origin counts only when the record names one.
  if (rec.origin !== 0) s += describeOrigin(rec.origin, p.originLsn, p.originTimestamp, ctx);
  return s;
}

const NAMES: Record<number, string> = {
  [XLOG_XACT_COMMIT]: 'COMMIT',
  [XLOG_XACT_PREPARE]: 'PREPARE',
  [XLOG_XACT_ABORT]: 'ABORT',
  [XLOG_XACT_COMMIT_PREPARED]: 'COMMIT_PREPARED',
  [XLOG_XACT_ABORT_PREPARED]: 'ABORT_PREPARED',
  [XLOG_XACT_ASSIGNMENT]: 'ASSIGNMENT',
  [XLOG_XACT_INVALIDATIONS]: 'INVALIDATION',
};

export const xactRmgr: RmgrDescriptor = {
  id: 1,
  name: 'Transaction',
  identify: (info) => NAMES[info & XLOG_XACT_OPMASK],
  // see xact_desc (xactdesc.c)
  describe(rec, ctx) {
    switch (rec.info & XLOG_XACT_OPMASK) {
      case XLOG_XACT_COMMIT:
      case XLOG_XACT_COMMIT_PREPARED:
        return describeCommit(rec, ctx);
      case XLOG_XACT_ABORT:
      case XLOG_XACT_ABORT_PREPARED:
        return describeAbort(rec, ctx);
      case XLOG_XACT_PREPARE:
        return describePrepare(rec, ctx);
      case XLOG_XACT_ASSIGNMENT: {
        // The record's own xid is ignored: the top-level xid is the interesting one.
        const a = parseXactAssignment(rec);
        return `xtop ${a.xtop}: subxacts:` + a.subxacts.map((x) => ` ${x}`).join('');
      }
      case XLOG_XACT_INVALIDATIONS: {
        const p = parseXactInvalidations(rec);
        return describeInvalidations(rec.view, p.msgsOffset, p.nmsgs, 0, 0, false, ctx.profile.major);
      }
      default:
        return '';
    }
  },
};
