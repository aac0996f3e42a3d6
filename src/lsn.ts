// LSNs: exact 64-bit WAL positions held in JS numbers, their text form, and segment/page arithmetic.
//
// An LSN is a plain number. Every LSN below 2^53 (8 PiB of WAL) is exact; anything larger is refused
// with a typed error rather than rounded, so arithmetic never silently loses a byte. Numbers keep the
// hot path free of allocations (bench/primitives measures this against `long` and bigint).
import { InvalidArgumentError } from './errors.js';

export type Lsn = number;

/** InvalidXLogRecPtr. */
export const INVALID_LSN: Lsn = 0;
/** The largest LSN pgwal represents exactly. */
export const MAX_LSN: Lsn = Number.MAX_SAFE_INTEGER;

const TWO_32 = 0x1_0000_0000;
/** The largest high half whose LSN is still exact in a double (2^53 - 1 >> 32). */
const MAX_HI = 0x1f_ffff;

/** Joins the two 32-bit halves read from WAL. Returns -1 when the value is not exactly representable. */
export function lsnFromParts(hi: number, lo: number): Lsn {
  if (hi > MAX_HI) return -1;
  return hi * TWO_32 + lo;
}

export function lsnHi(lsn: Lsn): number {
  return Math.floor(lsn / TWO_32);
}

export function lsnLo(lsn: Lsn): number {
  return lsn % TWO_32;
}

/** `X/X` as PostgreSQL 15–18 print it: upper-case hex, no zero padding. */
export function formatLsn(lsn: Lsn): string {
  return `${lsnHi(lsn).toString(16).toUpperCase()}/${lsnLo(lsn).toString(16).toUpperCase()}`;
}

/** Each byte as two upper-case hex digits. */
const HEX2: string[] = [];
for (let b = 0; b < 256; b++) HEX2.push(b.toString(16).toUpperCase().padStart(2, '0'));
let paddedHi = -1;
let paddedHiText = '';

/** `%X/%08X` as pg_waldump prints an LSN in a record line: built from a table (it is ~2 per line of `dump`). */
export function formatLsnPadded(lsn: Lsn): string {
  const hi = Math.floor(lsn / 0x100000000);
  const lo = lsn >>> 0;
  if (hi !== paddedHi) {
    paddedHi = hi;
    paddedHiText = hi.toString(16).toUpperCase();
  }
  return `${paddedHiText}/${HEX2[lo >>> 24]}${HEX2[(lo >>> 16) & 255]}${HEX2[(lo >>> 8) & 255]}${HEX2[lo & 255]}`;
}

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** Parses `X/X` the way pg_lsn_in does (1–8 hex digits each side). */
export function parseLsn(text: string): Lsn {
  const m = LSN_TEXT.exec(text);
  if (m === null) {
    throw new InvalidArgumentError(`invalid input syntax for type pg_lsn: "${text}"`);
  }
  const lsn = lsnFromParts(parseInt(m[1]!, 16), parseInt(m[2]!, 16));
  if (lsn < 0) {
    throw new InvalidArgumentError(`LSN "${text}" is beyond ${formatLsn(MAX_LSN)}, the largest LSN pgwal represents exactly`);
  }
  return lsn;
}

export function lsnToBigInt(lsn: Lsn): bigint {
  return BigInt(lsn);
}

export function lsnFromBigInt(value: bigint): Lsn {
  if (value < 0n || value > BigInt(MAX_LSN)) {
    throw new InvalidArgumentError(`LSN ${value} is outside 0 .. ${MAX_LSN}`);
  }
  return Number(value);
}

export function compareLsn(a: Lsn, b: Lsn): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Adds a byte count, refusing to leave the exact range. */
export function addLsn(lsn: Lsn, bytes: number): Lsn {
  const r = lsn + bytes;
  if (!Number.isSafeInteger(r) || r < 0) {
    throw new InvalidArgumentError(`LSN ${formatLsn(lsn)} + ${bytes} is outside the exact LSN range`);
  }
  return r;
}

// ---- wal_segment_size and XLOG_BLCKSZ arithmetic ----

export const MIN_WAL_SEGMENT_SIZE = 1024 * 1024;
export const MAX_WAL_SEGMENT_SIZE = 1024 * 1024 * 1024;
export const DEFAULT_WAL_SEGMENT_SIZE = 16 * 1024 * 1024;
export const XLOG_BLCKSZ = 8192;

/** IsValidWalSegSize: a power of two from 1 MB to 1 GB. */
export function isValidWalSegmentSize(size: number): boolean {
  return Number.isInteger(size) && size >= MIN_WAL_SEGMENT_SIZE && size <= MAX_WAL_SEGMENT_SIZE && (size & (size - 1)) === 0;
}

export function assertWalSegmentSize(size: number): void {
  if (!isValidWalSegmentSize(size)) {
    throw new InvalidArgumentError(
      `invalid WAL segment size ${size}: it must be a power of two between 1 MB and 1 GB`,
    );
  }
}

/** XLByteToSeg: the segment number holding `lsn`. */
export function segmentOf(lsn: Lsn, segSize: number): number {
  return Math.floor(lsn / segSize);
}

/** XLByteToPrevSeg: the segment holding the byte just before `lsn` (for end positions). */
export function segmentOfEnd(lsn: Lsn, segSize: number): number {
  return Math.floor((lsn - 1) / segSize);
}

export function segmentOffset(lsn: Lsn, segSize: number): number {
  return lsn % segSize;
}

/** XLogSegNoOffsetToRecPtr with offset 0. */
export function segmentStart(segno: number, segSize: number): Lsn {
  return segno * segSize;
}

export function pageStart(lsn: Lsn, pageSize: number = XLOG_BLCKSZ): Lsn {
  return lsn - (lsn % pageSize);
}

export function pageOffset(lsn: Lsn, pageSize: number = XLOG_BLCKSZ): number {
  return lsn % pageSize;
}

/** MAXALIGN for 64-bit servers. */
export function maxAlign(n: number): number {
  return n + ((8 - (n % 8)) % 8);
}
