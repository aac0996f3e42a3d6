// The sans-IO framing core: WAL pages in, validated and decoded records (or "need page X", or end of WAL) out.
//
//   step() ──▶ STEP_RECORD   reader.record holds the next record
//          ├─▶ STEP_NEED     supply bytes for reader.needPagePtr (at least reader.needLength of them) and step again
//          └─▶ STEP_END      reader.end says where WAL ends and why, worded like PostgreSQL
//
// It follows XLogDecodeNextRecord / XLogReaderValidatePageHeader / XLogFindNextRecord (xlogreader.c): every
// check the server makes, in the same order, with the same messages for the reader's major. A record that
// fits in one page is a view into that page; only records spanning pages are copied, into a buffer that grows
// with what was actually read (a forged xl_tot_len cannot make it allocate).
import { InvalidArgumentError, WalFormatError } from '../errors.js';
import { assertWalSegmentSize, formatLsn, lsnFromParts, maxAlign, type Lsn } from '../lsn.js';
import { walFileName } from '../walfile.js';
import { u32 } from './bytes.js';
import { recordCrc } from './crc32c.js';
import { decodeRecordBody, decodeVouchedBody } from './decode-record.js';
import { profileForMagic, type VersionProfile } from './profile.js';
import { DecodedRecord, SIZE_OF_XLOG_RECORD } from './record.js';

export const XLOG_BLCKSZ = 8192;
export const SIZE_OF_SHORT_PHD = 24;
export const SIZE_OF_LONG_PHD = 40;

export const XLP_FIRST_IS_CONTRECORD = 0x0001;
export const XLP_LONG_HEADER = 0x0002;
export const XLP_BKP_REMOVABLE = 0x0004;
export const XLP_FIRST_IS_OVERWRITE_CONTRECORD = 0x0008;
const XLP_ALL_FLAGS = 0x000f;

const RM_XLOG_ID = 0;
const XLOG_SWITCH = 0x40;
const RM_MAX_BUILTIN_ID = 21;
const RM_MIN_CUSTOM_ID = 128;

export const STEP_RECORD = 0;
export const STEP_NEED = 1;
export const STEP_END = 2;
export type Step = typeof STEP_RECORD | typeof STEP_NEED | typeof STEP_END;

/** Why reading stopped. Only `invalid-record` carries a message from PostgreSQL's reader. */
export type EndReason =
  /** The WAL is not valid here: what the server treats as the end of WAL (zeroed or recycled page, torn record…). */
  | 'invalid-record'
  /** The source has no more bytes (missing or short file, end of the input). */
  | 'no-more-wal'
  /**
   * The timeline read so far ended here (its switch point in the history: `lsn`) and the next timeline's file
   * holding that point is not there (yet): the old timeline's WAL past this point is not on the history.
   */
  | 'timeline-end'
  /** The requested end LSN was reached. */
  | 'end-lsn';

export interface EndOfWal {
  reason: EndReason;
  /** Where the record that could not be read starts (or the end LSN). */
  lsn: Lsn;
  /** The server's message for `invalid-record`, e.g. `invalid record length at 0/7023B0: expected at least 24, got 0`. */
  message: string;
  /** For `no-more-wal`: the page that could not be had, and what the source said. */
  pagePtr?: Lsn;
}

export interface XLogReaderOptions {
  /** wal_segment_size of the WAL (from a long page header or the file size). */
  segmentSize: number;
  /** Where to start: a record's LSN, a page or segment start, or (with `findFirst`) any position. */
  startLsn: Lsn;
  /** XLogFindNextRecord: start at the first record at or after `startLsn` (pg_waldump -s does this). */
  findFirst?: boolean;
  /** Stop before any record that does not end at or before this LSN (pg_waldump -e). */
  endLsn?: Lsn;
  /** Expected major; otherwise taken from the first page's magic. */
  profile?: VersionProfile;
  /** Timeline of the files, for messages (the source can change it per supply). */
  timeline?: number;
  /**
   * The system identifier and major the WAL must be of (a slot's): WAL of another system or major is a typed
   * error naming both values, not records decoded against the wrong catalog.
   */
  expect?: { systemIdentifier?: bigint; major?: number; what: string };
  /**
   * Reuse the memory multi-page records are assembled in, and the record object itself, once reading has moved
   * on: for callers that keep no record past the next one (a kept record changes). Off by default.
   */
  reuseBuffers?: boolean;
  /**
   * The timelines a page may say it belongs to (the server's tliInHistory over expectedTLEs): a page of any
   * other timeline ends the WAL with "unexpected timeline ID". Default: any.
   */
  isExpectedTimeline?: (tli: number) => boolean;
}

/**
 * Records of supplied bytes whose CRC-32C was already checked over those very bytes (by a worker thread
 * reading ahead): the reader skips computing it again. Anything it does not vouch for is checked as usual, so a
 * mismatch still ends the WAL at the same record with the same message.
 */
export interface CrcVerified {
  /**
   * True only when the record starting `offset` bytes into the supplied bytes, framed as PostgreSQL frames it
   * (its xl_tot_len, page headers skipped) and lying wholly within them, has a matching CRC.
   */
  verified(offset: number): boolean;
  /** The records from the first one starting in the supplied bytes that passed every check the reader makes. */
  readonly run?: VouchedRun | undefined;
}

/**
 * Records of supplied bytes, from the first one that starts in them, that a worker found to pass every check the
 * reader would make on the way: page headers (the same magic and timeline, the right addresses, contrecord flags
 * and lengths), record headers with the prev-links chained from the first record's `prev`, CRC-32C and
 * DecodeXLogRecord; no XLOG_SWITCH among them. Offsets are into the supplied bytes.
 */
export interface VouchedRun {
  count: number;
  /** Where the first record starts, and the last. */
  first: number;
  last: number;
  /** Where the record after the last one starts (MAXALIGNed end), and the last one's end. */
  next: number;
  end: number;
  /** The first record's xl_prev. */
  prev: Lsn;
  /** The magic and timeline of every page the records lie in. */
  magic: number;
  tli: number;
  /**
   * The records' statistics as pg_waldump --stats keeps them (WalStats.addRun): `[n, then n times key, records,
   * bytes without images, image bytes]`, key = `rmid << 4 | xl_info >> 4`. Undefined when not gathered.
   */
  stats?: Int32Array | undefined;
}

interface Chunk {
  start: Lsn;
  bytes: Uint8Array;
  tli: number;
  crc: CrcVerified | undefined;
}

/** A record being reassembled across pages; survives STEP_NEED so long records are not re-read. */
interface Assembly {
  recPtr: Lsn;
  totalLength: number;
  gotLength: number;
  buffer: Uint8Array;
  gotHeader: boolean;
  /** The next continuation page to read. */
  pagePtr: Lsn;
  /** The supplied bytes every page so far came from (undefined once two differ): their CrcVerified may vouch. */
  chunk: Chunk | undefined;
}

/** lsn % XLOG_BLCKSZ without fmod: LSNs past 2^30 are doubles in V8, and % on doubles is a slow call. */
function offInPage(lsn: Lsn): number {
  return lsn - Math.floor(lsn / XLOG_BLCKSZ) * XLOG_BLCKSZ;
}

/** Assembly arena blocks: multi-page records up to ARENA_RECORD_MAX bytes are cut from them. */
const ARENA_BYTES = 64 * 1024;
const ARENA_RECORD_MAX = 3 * XLOG_BLCKSZ;

const FAIL = -1;
const NEED = -2;
const RESTART = -3;

export class XLogReader {
  readonly segmentSize: number;
  profile: VersionProfile | undefined;
  /** From the first long page header read. */
  systemIdentifier: bigint | undefined;

  // results
  record: DecodedRecord | undefined;
  needPagePtr: Lsn = 0;
  needLength = 0;
  end: EndOfWal | undefined;

  // position (XLogReaderState)
  private nextRecPtr: Lsn;
  /** DecodeRecPtr: the last record returned; 0 before the first. */
  private decodeRecPtr: Lsn = 0;
  private randAccess = true;
  private latestPagePtr: Lsn = 0;
  private latestPageTli = 0;
  private findTarget: Lsn | undefined;
  private readonly endLsn: Lsn | undefined;
  private asm: Assembly | undefined;
  /** XLogReaderState.overwrittenRecPtr: the record abandoned for an OVERWRITE_CONTRECORD. */
  overwrittenRecPtr: Lsn = 0;
  /**
   * Within a run a worker vouched for (VouchedRun): the supplied bytes it lies in, and the offset in them of its
   * last record. Records up to there are framed without the checks the worker made (readVouched).
   */
  private vouched: Chunk | undefined;
  private vouchedLast = 0;
  /** Supplied bytes with a run the reader may enter (set on supply), and bytes whose run it is done with. */
  private vouchable = false;
  private unvouched: Chunk | undefined;
  /** Records framed in a vouched run (for tests: that the fast path was taken). */
  vouchedRecords = 0;

  // input
  private chunks: Chunk[] = [];
  private missing: { pagePtr: Lsn; message: string; switchPoint: Lsn | undefined } | undefined;
  private validatedSegno = -1;
  private currentTli: number;

  private readonly expect: XLogReaderOptions['expect'];
  private readonly reuseBuffers: boolean;
  private readonly isExpectedTimeline: XLogReaderOptions['isExpectedTimeline'];

  constructor(options: XLogReaderOptions) {
    assertWalSegmentSize(options.segmentSize);
    this.expect = options.expect;
    this.isExpectedTimeline = options.isExpectedTimeline;
    this.reuseBuffers = options.reuseBuffers === true;
    if (!Number.isSafeInteger(options.startLsn) || options.startLsn <= 0) {
      throw new InvalidArgumentError(`invalid start LSN ${options.startLsn}: it must be a valid WAL position`);
    }
    this.segmentSize = options.segmentSize;
    this.profile = options.profile;
    this.endLsn = options.endLsn;
    this.currentTli = options.timeline ?? 1;
    if (options.findFirst) {
      this.findTarget = options.startLsn;
      this.nextRecPtr = this.findFirstRecordStart(options.startLsn);
    } else {
      this.nextRecPtr = options.startLsn;
      // XLogBeginRead's contract: a record start or a page start.
      const off = offInPage(options.startLsn);
      if (off !== 0 && off < SIZE_OF_SHORT_PHD) {
        throw new InvalidArgumentError(`${formatLsn(options.startLsn)} points into a page header, not at a record`);
      }
    }
  }

  /** ReadRecPtr: the LSN of the last record returned (0 before the first), as pg_waldump names it in errors. */
  get lastRecordLsn(): Lsn {
    return this.decodeRecPtr;
  }

  /**
   * After an end other than `end-lsn`, forget it and the bytes at and after the failing page, so the next
   * step reads them again (follow mode: WAL that was not there yet may have arrived).
   */
  retry(): void {
    if (this.end === undefined || this.end.reason === 'end-lsn') return;
    this.end = undefined;
    this.missing = undefined;
    this.asm = undefined;
    this.chunks = [];
    this.cachedPagePtr = -1;
    this.vouched = undefined;
    this.unvouched = undefined;
  }

  /** Where the next record will be looked for. */
  get nextLsn(): Lsn {
    return this.nextRecPtr;
  }

  /**
   * Makes WAL bytes available: `bytes` are the WAL starting at the page boundary `start` (a whole segment, part
   * of one, or a single page; a page may be incomplete when the source has no more yet), read from timeline `tli`.
   */
  supply(start: Lsn, bytes: Uint8Array, tli = this.currentTli, crc?: CrcVerified): void {
    if (start % XLOG_BLCKSZ !== 0) throw new InvalidArgumentError(`supplied WAL must start on a page boundary, not at ${formatLsn(start)}`);
    this.missing = undefined;
    this.cachedPagePtr = -1;
    // Replace what covered the same start (a longer read of a page that was short).
    this.chunks = this.chunks.filter((c) => c.start !== start);
    this.chunks.push({ start, bytes, tli, crc });
    if (crc?.run !== undefined) this.vouchable = true;
    // Not while framing a run: bytes are supplied when the reader needs a page it does not hold.
    this.vouched = undefined;
  }

  /** The source has nothing (more) at `pagePtr`: the next attempt to read it ends the WAL with `no-more-wal`. */
  supplyMissing(pagePtr: Lsn, message: string, switchPoint?: Lsn): void {
    this.missing = { pagePtr, message, switchPoint };
  }

  private evictedTo = -1;

  /** Drops supplied bytes that lie wholly before the page of the next record. */
  private evict(): void {
    const keep = this.nextRecPtr - offInPage(this.nextRecPtr);
    if (keep === this.evictedTo) return;
    this.evictedTo = keep;
    for (const c of this.chunks) {
      if (c.start + c.bytes.length <= keep) {
        this.chunks = this.chunks.filter((k) => k.start + k.bytes.length > keep);
        // Nor is a dropped window kept alive as the run left last.
        if (this.unvouched !== undefined && !this.chunks.includes(this.unvouched)) this.unvouched = undefined;
        return;
      }
    }
  }

  /** The bytes of page `pagePtr` (at least `minLen` of them), or NEED / FAIL. */
  private pageBytes(pagePtr: Lsn, minLen: number): Uint8Array | typeof NEED | typeof FAIL {
    if (this.endLsn !== undefined && pagePtr + minLen > this.endLsn) {
      return this.fail('end-lsn', this.endLsn, '');
    }
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      const c = this.chunks[i]!;
      if (pagePtr < c.start || pagePtr >= c.start + c.bytes.length) continue;
      const off = pagePtr - c.start;
      let avail = Math.min(c.bytes.length - off, XLOG_BLCKSZ);
      if (this.endLsn !== undefined) avail = Math.min(avail, this.endLsn - pagePtr);
      if (avail >= minLen) {
        this.currentTli = c.tli;
        this.pageChunk = c;
        return c.bytes.subarray(off, off + avail);
      }
      break;
    }
    if (this.missing !== undefined && this.missing.pagePtr <= pagePtr) {
      const m = this.missing;
      return m.switchPoint === undefined ? this.fail('no-more-wal', pagePtr, m.message) : this.fail('timeline-end', m.switchPoint, m.message, pagePtr);
    }
    this.needPagePtr = pagePtr;
    this.needLength = Math.max(minLen, SIZE_OF_SHORT_PHD);
    return NEED;
  }

  private fail(reason: EndReason, lsn: Lsn, message: string, pagePtr?: Lsn): typeof FAIL {
    this.end = { reason, lsn, message, pagePtr };
    return FAIL;
  }

  private invalid(lsn: Lsn, message: string): typeof FAIL {
    return this.fail('invalid-record', lsn, message);
  }

  private segmentName(pagePtr: Lsn): string {
    return walFileName(this.currentTli, Math.floor(pagePtr / this.segmentSize), this.segmentSize);
  }

  /** ReadPageInternal's cache: the last page read and validated (most records start on the page of the last). */
  private cachedPagePtr = -1;
  private cachedPage: Uint8Array | undefined;
  private cachedChunk: Chunk | undefined;
  /** The supplied bytes the page last returned by pageBytes/readPage lies in. */
  private pageChunk: Chunk | undefined;

  // see ReadPageInternal (xlogreader.c): a segment's first page is validated before any other page of it.
  private readPage(pagePtr: Lsn, reqLen: number): Uint8Array | typeof NEED | typeof FAIL {
    if (pagePtr === this.cachedPagePtr && this.cachedPage!.length >= reqLen) {
      this.pageChunk = this.cachedChunk;
      return this.cachedPage!;
    }
    const segno = Math.floor(pagePtr / this.segmentSize);
    const segStart = segno * this.segmentSize;
    if (segno !== this.validatedSegno && pagePtr !== segStart) {
      const first = this.pageBytes(segStart, XLOG_BLCKSZ);
      if (typeof first === 'number') return first;
      if (!this.validatePageHeader(segStart, first)) return FAIL;
    }
    let page = this.pageBytes(pagePtr, Math.max(reqLen, SIZE_OF_SHORT_PHD));
    if (typeof page === 'number') return page;
    if (page.length <= SIZE_OF_SHORT_PHD) {
      // ReadPageInternal treats a read of no more than a short header as a failed read; when -e cut it (the page
      // callback gives only the bytes before the end) pg_waldump ends there without a word.
      if (this.endLsn !== undefined && pagePtr + page.length >= this.endLsn) return this.fail('end-lsn', this.endLsn, '');
      return this.fail('no-more-wal', pagePtr, 'short read', pagePtr);
    }
    const hdrSize = page[2]! & XLP_LONG_HEADER ? SIZE_OF_LONG_PHD : SIZE_OF_SHORT_PHD;
    if (page.length < hdrSize) {
      page = this.pageBytes(pagePtr, hdrSize);
      if (typeof page === 'number') return page;
    }
    if (!this.validatePageHeader(pagePtr, page)) return FAIL;
    this.validatedSegno = segno;
    this.cachedPagePtr = pagePtr;
    this.cachedPage = page;
    this.cachedChunk = this.pageChunk;
    return page;
  }

  // see XLogReaderValidatePageHeader (xlogreader.c)
  private validatePageHeader(pagePtr: Lsn, page: Uint8Array): boolean {
    const v = new DataView(page.buffer, page.byteOffset, page.byteLength);
    const magic = v.getUint16(0, true);
    const info = v.getUint16(2, true);
    const offset = pagePtr % this.segmentSize;
    const where = (): string =>
      this.major <= 15
        ? `in log segment ${this.segmentName(pagePtr)}, offset ${offset}`
        : `in WAL segment ${this.segmentName(pagePtr)}, LSN ${formatLsn(pagePtr)}, offset ${offset}`;
    const hex4 = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0');
    if (this.profile === undefined) {
      const p = profileForMagic(magic);
      if (p === undefined) {
        if (magic === 0) {
          this.invalid(pagePtr, `invalid magic number 0000 ${where()}`);
          return false;
        }
        throw new WalFormatError(
          'unsupported-version',
          `WAL page magic ${hex4(magic)} at ${formatLsn(pagePtr)} is not that of PostgreSQL 15, 16, 17 or 18 ` +
            `(D110, D113, D116, D118): unsupported version or not WAL`,
          { lsn: pagePtr, file: this.segmentName(pagePtr) },
        );
      }
      this.profile = p;
      const want = this.expect?.major;
      if (want !== undefined && p.major !== want) {
        throw new WalFormatError('foreign-segment', `WAL at ${formatLsn(pagePtr)} is from PostgreSQL ${p.major}, ${this.expect!.what} is for PostgreSQL ${want}`, {
          lsn: pagePtr,
          file: this.segmentName(pagePtr),
        });
      }
    }
    if (magic !== this.profile.pageMagic) {
      this.invalid(pagePtr, `invalid magic number ${hex4(magic)} ${where()}`);
      return false;
    }
    if ((info & ~XLP_ALL_FLAGS) !== 0) {
      this.invalid(pagePtr, `invalid info bits ${hex4(info)} ${where()}`);
      return false;
    }
    if (info & XLP_LONG_HEADER) {
      if (page.length < SIZE_OF_LONG_PHD) {
        this.fail('no-more-wal', pagePtr, 'short read', pagePtr);
        return false;
      }
      const sysid = v.getBigUint64(24, true);
      const segSize = v.getUint32(32, true);
      const blcksz = v.getUint32(36, true);
      // PostgreSQL only checks these against pg_control; a reader of files checks them against each other, and a
      // foreign file is an error, not the end of WAL.
      const wantSysid = this.expect?.systemIdentifier;
      if (wantSysid !== undefined && sysid !== wantSysid) {
        throw new WalFormatError('foreign-segment', `WAL file is from different database system: its system identifier is ${sysid}, ${this.expect!.what}'s is ${wantSysid}`, {
          lsn: pagePtr,
          file: this.segmentName(pagePtr),
        });
      }
      if (this.systemIdentifier === undefined) this.systemIdentifier = sysid;
      else if (sysid !== this.systemIdentifier) {
        throw new WalFormatError(
          'foreign-segment',
          `WAL file is from different database system: WAL file database system identifier is ${sysid}, ` +
            `the first WAL file's is ${this.systemIdentifier}`,
          { lsn: pagePtr, file: this.segmentName(pagePtr) },
        );
      }
      if (segSize !== this.segmentSize) {
        throw new WalFormatError(
          'foreign-segment',
          `WAL file is from different database system: incorrect segment size in page header (${segSize}, expected ${this.segmentSize})`,
          { lsn: pagePtr, file: this.segmentName(pagePtr) },
        );
      }
      if (blcksz !== XLOG_BLCKSZ) {
        throw new WalFormatError(
          'foreign-segment',
          `WAL file is from different database system: incorrect XLOG_BLCKSZ in page header (${blcksz}, expected ${XLOG_BLCKSZ})`,
          { lsn: pagePtr, file: this.segmentName(pagePtr) },
        );
      }
    } else if (offset === 0) {
      this.invalid(pagePtr, `invalid info bits ${hex4(info)} ${where()}`);
      return false;
    }
    const pageaddr = lsnFromParts(v.getUint32(12, true), v.getUint32(8, true));
    if (pageaddr !== pagePtr) {
      const text = pageaddr < 0 ? `${v.getUint32(12, true).toString(16).toUpperCase()}/${v.getUint32(8, true).toString(16).toUpperCase()}` : formatLsn(pageaddr);
      this.invalid(pagePtr, `unexpected pageaddr ${text} ${where()}`);
      return false;
    }
    const tli = v.getUint32(4, true);
    if (pagePtr > this.latestPagePtr) {
      if (tli < this.latestPageTli) {
        this.invalid(pagePtr, `out-of-sequence timeline ID ${tli} (after ${this.latestPageTli}) ${where()}`);
        return false;
      }
    }
    // see ReadRecord (xlogrecovery.c): the page's timeline must be on the history being followed
    if (this.isExpectedTimeline !== undefined && !this.isExpectedTimeline(tli)) {
      this.invalid(pagePtr, `unexpected timeline ID ${tli} in WAL segment ${this.segmentName(pagePtr)}, LSN ${formatLsn(pagePtr)}, offset ${offset}`);
      return false;
    }
    this.latestPagePtr = pagePtr;
    this.latestPageTli = tli;
    return true;
  }

  get major(): number {
    return this.profile?.major ?? 18;
  }

  private lengthMessage(recPtr: Lsn, got: number): string {
    return this.major <= 15
      ? `invalid record length at ${formatLsn(recPtr)}: wanted ${SIZE_OF_XLOG_RECORD}, got ${got}`
      : `invalid record length at ${formatLsn(recPtr)}: expected at least ${SIZE_OF_XLOG_RECORD}, got ${got}`;
  }

  // see ValidXLogRecordHeader (xlogreader.c)
  private validRecordHeader(recPtr: Lsn, bytes: Uint8Array, off: number): boolean {
    const totLen = (bytes[off]! | (bytes[off + 1]! << 8) | (bytes[off + 2]! << 16)) + bytes[off + 3]! * 0x1000000;
    if (totLen < SIZE_OF_XLOG_RECORD) {
      this.invalid(recPtr, this.lengthMessage(recPtr, totLen));
      return false;
    }
    const rmid = bytes[off + 17]!;
    if (!(rmid <= RM_MAX_BUILTIN_ID || rmid >= RM_MIN_CUSTOM_ID)) {
      this.invalid(recPtr, `invalid resource manager ID ${rmid} at ${formatLsn(recPtr)}`);
      return false;
    }
    const prevLo = (bytes[off + 8]! | (bytes[off + 9]! << 8) | (bytes[off + 10]! << 16)) + bytes[off + 11]! * 0x1000000;
    const prevHi = (bytes[off + 12]! | (bytes[off + 13]! << 8) | (bytes[off + 14]! << 16)) + bytes[off + 15]! * 0x1000000;
    const prev = lsnFromParts(prevHi, prevLo);
    const ok = this.randAccess ? prev >= 0 && prev < recPtr : prev === this.decodeRecPtr;
    if (!ok) {
      this.invalid(recPtr, `record with incorrect prev-link ${prevHi.toString(16).toUpperCase()}/${prevLo.toString(16).toUpperCase()} at ${formatLsn(recPtr)}`);
      return false;
    }
    return true;
  }

  /**
   * For callers that only count records (`pgwal dump -q`): when the next record is the first of a run the supplied
   * bytes' CrcVerified vouches for, and the reader stands where the worker assumed (it expects that prev-link, and
   * has validated pages of that magic and timeline in that segment), steps over the whole run as step() would over
   * each record, and returns it; undefined otherwise (call step()). `record` is not set. `withStats`: only a run
   * that carries its statistics.
   */
  skipVouched(withStats = false): VouchedRun | undefined {
    if (this.end !== undefined || this.asm !== undefined || this.randAccess || this.findPending !== undefined || this.findTarget !== undefined) return undefined;
    let at = this.nextRecPtr;
    let c = this.cachedChunk;
    if (c === undefined || at < c.start || at >= c.start + c.bytes.length) {
      c = undefined;
      for (const k of this.chunks) if (at >= k.start && at < k.start + k.bytes.length) c = k;
      if (c === undefined) return undefined;
    }
    if (offInPage(at) === 0) {
      // The last record ended at a page's end: the next starts after this page's header, which must not say it
      // continues a record (readStart's "contrecord is requested"); the worker checked the rest of the header.
      const p = at - c.start;
      if (c.bytes.length < p + SIZE_OF_LONG_PHD) return undefined;
      const info = c.bytes[p + 2]! | (c.bytes[p + 3]! << 8);
      if (info & XLP_FIRST_IS_CONTRECORD) return undefined;
      at += info & XLP_LONG_HEADER ? SIZE_OF_LONG_PHD : SIZE_OF_SHORT_PHD;
    }
    const run = c.crc?.run;
    if (run === undefined || c.start + run.first !== at || run.prev !== this.decodeRecPtr || (withStats && run.stats === undefined)) return undefined;
    if (run.magic !== this.profile?.pageMagic || run.tli !== this.latestPageTli) return undefined;
    const start = c.start;
    if (Math.floor(start / this.segmentSize) !== this.validatedSegno || run.end > c.bytes.length) return undefined;
    if (this.endLsn !== undefined && start + run.end > this.endLsn) return undefined;
    this.vouched = undefined;
    this.decodeRecPtr = start + run.last;
    this.nextRecPtr = start + run.next;
    const lastPage = start + run.end - 1;
    this.latestPagePtr = Math.max(this.latestPagePtr, lastPage - offInPage(lastPage));
    this.record = undefined;
    this.cachedPagePtr = -1;
    this.evict();
    return run;
  }

  /** Reads the next record. See the diagram at the top of the file. */
  step(): Step {
    if (this.end !== undefined) return STEP_END;
    if (this.vouched !== undefined) {
      const v = this.readVouched();
      if (v !== undefined) {
        this.record = v;
        return STEP_RECORD;
      }
    }
    if (this.findPending !== undefined) {
      const r = this.resolveFind();
      if (r === NEED) return STEP_NEED;
      if (r === FAIL) return STEP_END;
    }
    for (;;) {
      const r = this.asm === undefined ? (this.readOnPage() ?? this.readStart()) : this.readContinuation(this.asm);
      if (r === NEED) return STEP_NEED;
      if (r === FAIL) {
        this.asm = undefined;
        return STEP_END;
      }
      if (r === RESTART) continue;
      // A record: in find mode, skip those before the target.
      const rec = r;
      if (this.findTarget !== undefined) {
        if (rec.lsn < this.findTarget) continue;
        this.findTarget = undefined;
      }
      this.record = rec;
      // Nothing to drop while the next record starts on the page read last.
      if (this.nextRecPtr - this.cachedPagePtr >= XLOG_BLCKSZ || this.nextRecPtr < this.cachedPagePtr) this.evict();
      if (this.vouchable) this.enterVouched();
      return STEP_RECORD;
    }
  }

  /**
   * Starts framing without checks when the next record is one of a run the supplied bytes' CrcVerified vouches
   * for, reached as the worker reached it: the prev-link it checked is the record just returned, the reader has
   * validated pages of the run's magic and timeline in that segment. From there the reader frames the records just
   * as the worker did, so each passes the checks the reader would make (the worker made them all, on those bytes).
   */
  private enterVouched(): void {
    if (this.randAccess || this.asm !== undefined || this.findTarget !== undefined || this.findPending !== undefined) return;
    const at = this.nextRecPtr;
    // The bytes pageBytes would read the record from: the latest supplied that hold it.
    let c: Chunk | undefined;
    for (let i = this.chunks.length - 1; i >= 0 && c === undefined; i--) {
      const k = this.chunks[i]!;
      if (at >= k.start && at < k.start + k.bytes.length) c = k;
    }
    if (c === undefined || c === this.unvouched) return;
    const run = c.crc?.run;
    const b = c.bytes;
    let o = at - c.start;
    if ((o & (XLOG_BLCKSZ - 1)) === 0) {
      if (b.length < o + SIZE_OF_SHORT_PHD) return;
      // readStart's "contrecord is requested" (the worker checked the rest of this page's header)
      if (b[o + 2]! & XLP_FIRST_IS_CONTRECORD) return;
      o += b[o + 2]! & XLP_LONG_HEADER ? SIZE_OF_LONG_PHD : SIZE_OF_SHORT_PHD;
    }
    if (run === undefined || o > run.last) {
      this.unvouched = c;
      return;
    }
    if (o < run.first || !c.crc!.verified(o) || run.end > b.length) return;
    if (run.magic !== this.profile?.pageMagic || run.tli !== this.latestPageTli || Math.floor(c.start / this.segmentSize) !== this.validatedSegno) return;
    // The record at `o` is one the worker framed in the run (the run is the first records it framed, and it
    // marked each): its prev-link, which the worker checked against the record before it, must be the last one read.
    const prevLo = (b[o + 8]! | (b[o + 9]! << 8) | (b[o + 10]! << 16)) + b[o + 11]! * 0x1000000;
    const prevHi = (b[o + 12]! | (b[o + 13]! << 8) | (b[o + 14]! << 16)) + b[o + 15]! * 0x1000000;
    if (lsnFromParts(prevHi, prevLo) !== this.decodeRecPtr) return;
    this.vouched = c;
    this.vouchedLast = run.last;
    this.currentTli = c.tli;
    // The page cache is not kept up while framing the run: it is read (and validated) again after it.
    this.cachedPagePtr = -1;
  }

  /** Leaves a vouched run where the reader's own checks take over (undefined: step goes the usual way). */
  private leaveVouched(): undefined {
    this.unvouched = this.vouched;
    this.vouched = undefined;
    // The last page the records read lay in, as reading them one by one would have left it.
    const last = this.nextRecPtr - 1;
    if (last > this.latestPagePtr) this.latestPagePtr = last - offInPage(last);
    this.evict();
    return undefined;
  }

  /**
   * The next record of a vouched run, framed as the worker framed it (page headers skipped, pieces of a record
   * spanning pages copied together), with none of the checks it made; undefined past the run or the end LSN.
   */
  private readVouched(): DecodedRecord | undefined {
    const c = this.vouched!;
    const b = c.bytes;
    let o = this.nextRecPtr - c.start;
    if ((o & (XLOG_BLCKSZ - 1)) === 0) o += b[o + 2]! & XLP_LONG_HEADER ? SIZE_OF_LONG_PHD : SIZE_OF_SHORT_PHD;
    if (o > this.vouchedLast) return this.leaveVouched();
    const totalLength = (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x1000000;
    const recPtr = c.start + o;
    if (this.endLsn !== undefined && recPtr + totalLength > this.endLsn) return this.leaveVouched();
    this.vouchedRecords++;
    const inPage = o & (XLOG_BLCKSZ - 1);
    if (inPage + totalLength <= XLOG_BLCKSZ) return this.finishVouched(recPtr, b, o, totalLength, recPtr + maxAlign(totalLength));
    // Spanning pages: every continuation page has a short header (the worker refused any other).
    const buffer = totalLength > ARENA_RECORD_MAX ? new Uint8Array(totalLength) : this.assemblyBuffer(totalLength);
    let got = XLOG_BLCKSZ - inPage;
    buffer.set(b.subarray(o, o + got));
    let p = o + got;
    let piece = 0;
    while (got < totalLength) {
      piece = Math.min(totalLength - got, XLOG_BLCKSZ - SIZE_OF_SHORT_PHD);
      buffer.set(b.subarray(p + SIZE_OF_SHORT_PHD, p + SIZE_OF_SHORT_PHD + piece), got);
      got += piece;
      p += XLOG_BLCKSZ;
    }
    return this.finishVouched(recPtr, buffer, 0, totalLength, c.start + p - XLOG_BLCKSZ + SIZE_OF_SHORT_PHD + maxAlign(piece));
  }

  /** finish() for a record of a vouched run: no XLOG_SWITCH among them, DecodeXLogRecord's checks passed. */
  private finishVouched(recPtr: Lsn, bytes: Uint8Array, base: number, totalLength: number, next: Lsn): DecodedRecord {
    const rec = this.reuseBuffers ? (this.reused?.reuseFor(bytes, base, totalLength) ?? (this.reused = new DecodedRecord(bytes, base, totalLength))) : new DecodedRecord(bytes, base, totalLength);
    rec.lsn = recPtr;
    rec.xid = u32(bytes, base + 4);
    rec.info = bytes[base + 16]!;
    rec.rmid = bytes[base + 17]!;
    rec.timeline = this.currentTli;
    rec.endLsn = next;
    decodeVouchedBody(rec, bytes, base);
    this.decodeRecPtr = recPtr;
    this.nextRecPtr = next;
    return rec;
  }

  /**
   * readStart's common case, kept short: the record starts past the header of the page read last (already
   * validated) and ends within the bytes held for it. Anything else (undefined) goes the long way.
   */
  private readOnPage(): DecodedRecord | typeof FAIL | undefined {
    const recPtr = this.nextRecPtr;
    const off = recPtr - this.cachedPagePtr;
    if (off <= SIZE_OF_LONG_PHD || off > XLOG_BLCKSZ - SIZE_OF_XLOG_RECORD || this.findPending !== undefined) return undefined;
    const page = this.cachedPage!;
    if (page.length < off + SIZE_OF_XLOG_RECORD) return undefined;
    const totalLength = (page[off]! | (page[off + 1]! << 8) | (page[off + 2]! << 16)) + page[off + 3]! * 0x1000000;
    if (totalLength < SIZE_OF_XLOG_RECORD || off + totalLength > page.length) return undefined;
    if (!this.validRecordHeader(recPtr, page, off)) return FAIL;
    const c = this.cachedChunk!;
    this.pageChunk = c;
    if (c.crc === undefined || !c.crc.verified(recPtr - c.start)) {
      const crc = (page[off + 20]! | (page[off + 21]! << 8) | (page[off + 22]! << 16) | (page[off + 23]! << 24)) >>> 0;
      if (recordCrc(page, off, totalLength) !== crc) {
        return this.invalid(recPtr, `incorrect resource manager data checksum in record at ${formatLsn(recPtr)}`);
      }
    }
    return this.finish(recPtr, page, off, totalLength, recPtr + maxAlign(totalLength));
  }

  private readStart(): DecodedRecord | typeof NEED | typeof FAIL | typeof RESTART {
    let recPtr = this.nextRecPtr;
    const targetPagePtr = recPtr - offInPage(recPtr);
    let targetRecOff = offInPage(recPtr);
    const page = this.readPage(targetPagePtr, Math.min(targetRecOff + SIZE_OF_XLOG_RECORD, XLOG_BLCKSZ));
    if (typeof page === 'number') return page;
    const info = page[2]! | (page[3]! << 8);
    const hdrSize = info & XLP_LONG_HEADER ? SIZE_OF_LONG_PHD : SIZE_OF_SHORT_PHD;
    if (targetRecOff === 0) {
      recPtr += hdrSize;
      targetRecOff = hdrSize;
    } else if (targetRecOff < hdrSize) {
      return this.invalid(
        recPtr,
        this.major <= 15
          ? `invalid record offset at ${formatLsn(recPtr)}`
          : `invalid record offset at ${formatLsn(recPtr)}: expected at least ${hdrSize}, got ${targetRecOff}`,
      );
    }
    if (info & XLP_FIRST_IS_CONTRECORD && targetRecOff === hdrSize) {
      return this.invalid(recPtr, `contrecord is requested by ${formatLsn(recPtr)}`);
    }
    // The page may have been supplied short; the header fields needed now are within the requested length.
    let p = page;
    if (p.length < Math.min(targetRecOff + SIZE_OF_XLOG_RECORD, XLOG_BLCKSZ)) {
      const more = this.pageBytes(targetPagePtr, Math.min(targetRecOff + SIZE_OF_XLOG_RECORD, XLOG_BLCKSZ));
      if (typeof more === 'number') return more;
      p = more;
    }
    const totalLength = (p[targetRecOff]! | (p[targetRecOff + 1]! << 8) | (p[targetRecOff + 2]! << 16)) + p[targetRecOff + 3]! * 0x1000000;
    let gotHeader = false;
    if (targetRecOff <= XLOG_BLCKSZ - SIZE_OF_XLOG_RECORD) {
      if (!this.validRecordHeader(recPtr, p, targetRecOff)) return FAIL;
      gotHeader = true;
    } else if (totalLength < SIZE_OF_XLOG_RECORD) {
      return this.invalid(recPtr, this.lengthMessage(recPtr, totalLength));
    }
    const len = XLOG_BLCKSZ - targetRecOff;
    if (totalLength > len) {
      // Needs reassembly: copy the first fragment now; the buffer grows with each validated continuation page.
      const full = this.pageBytes(targetPagePtr, XLOG_BLCKSZ);
      if (typeof full === 'number') return full;
      const buffer = this.assemblyBuffer(totalLength);
      buffer.set(full.subarray(targetRecOff, XLOG_BLCKSZ));
      this.asm = { recPtr, totalLength, gotLength: len, buffer, gotHeader, pagePtr: targetPagePtr + XLOG_BLCKSZ, chunk: this.pageChunk };
      return this.readContinuation(this.asm);
    }
    const whole = p.length >= targetRecOff + totalLength ? p : this.pageBytes(targetPagePtr, targetRecOff + totalLength);
    if (typeof whole === 'number') return whole;
    const crc = whole[targetRecOff + 20]! | (whole[targetRecOff + 21]! << 8) | (whole[targetRecOff + 22]! << 16) | (whole[targetRecOff + 23]! << 24);
    const c = this.pageChunk!;
    if ((c.crc === undefined || !c.crc.verified(recPtr - c.start)) && recordCrc(whole, targetRecOff, totalLength) !== crc >>> 0) {
      return this.invalid(recPtr, `incorrect resource manager data checksum in record at ${formatLsn(recPtr)}`);
    }
    return this.finish(recPtr, whole, targetRecOff, totalLength, recPtr + maxAlign(totalLength));
  }

  /** Where multi-page records are assembled: cut from a shared block, reused only with reuseBuffers (records are views into it). */
  private arena: Uint8Array = new Uint8Array(0);
  private arenaUsed = 0;
  private spareArena: Uint8Array | undefined;
  /** With reuseBuffers: the one record object, made again for each record. */
  private reused: DecodedRecord | undefined;

  /**
   * A buffer for a record of `totalLength` bytes spanning pages. Most (full-page images) fit the current arena
   * block, which spares an allocation per record; longer ones start at 32 kB and grow with what is actually read,
   * so a forged xl_tot_len cannot make the reader allocate.
   */
  private assemblyBuffer(totalLength: number): Uint8Array {
    if (totalLength > ARENA_RECORD_MAX) return new Uint8Array(4 * XLOG_BLCKSZ);
    if (this.arenaUsed + totalLength > this.arena.length) {
      // Reusing, two blocks take turns: the one taken up again holds only records from before the last one returned.
      const spare = this.spareArena;
      if (this.reuseBuffers) this.spareArena = this.arena;
      this.arena = spare !== undefined && spare.length === ARENA_BYTES ? spare : new Uint8Array(ARENA_BYTES);
      this.arenaUsed = 0;
    }
    const b = this.arena.subarray(this.arenaUsed, this.arenaUsed + totalLength);
    this.arenaUsed += maxAlign(totalLength);
    return b;
  }

  private readContinuation(a: Assembly): DecodedRecord | typeof NEED | typeof FAIL | typeof RESTART {
    while (a.gotLength < a.totalLength) {
      const hdr = this.readPage(a.pagePtr, SIZE_OF_SHORT_PHD);
      if (typeof hdr === 'number') {
        if (hdr === FAIL) this.noteAborted(a);
        return hdr;
      }
      const info = hdr[2]! | (hdr[3]! << 8);
      if (info & XLP_FIRST_IS_OVERWRITE_CONTRECORD) {
        // The rest of this record was never written; a new record starts at this page.
        this.overwrittenRecPtr = a.recPtr;
        this.nextRecPtr = a.pagePtr;
        this.asm = undefined;
        return RESTART;
      }
      if (!(info & XLP_FIRST_IS_CONTRECORD)) {
        this.noteAborted(a);
        return this.invalid(a.recPtr, `there is no contrecord flag at ${formatLsn(a.recPtr)}`);
      }
      const remLen = (hdr[16]! | (hdr[17]! << 8) | (hdr[18]! << 16)) + hdr[19]! * 0x1000000;
      if (remLen === 0 || a.totalLength !== remLen + a.gotLength) {
        this.noteAborted(a);
        return this.invalid(a.recPtr, `invalid contrecord length ${remLen} (expected ${a.totalLength - a.gotLength}) at ${formatLsn(a.recPtr)}`);
      }
      const hdrSize = info & XLP_LONG_HEADER ? SIZE_OF_LONG_PHD : SIZE_OF_SHORT_PHD;
      const len = Math.min(remLen, XLOG_BLCKSZ - hdrSize);
      const page = this.pageBytes(a.pagePtr, hdrSize + len);
      if (typeof page === 'number') {
        if (page === FAIL) this.noteAborted(a);
        return page;
      }
      if (a.buffer.length < a.gotLength + len) {
        const grown = new Uint8Array(Math.min(a.totalLength, Math.max(a.buffer.length * 2, a.gotLength + len)));
        grown.set(a.buffer.subarray(0, a.gotLength));
        a.buffer = grown;
      }
      a.buffer.set(page.subarray(hdrSize, hdrSize + len), a.gotLength);
      if (this.pageChunk !== a.chunk) a.chunk = undefined;
      a.gotLength += len;
      if (!a.gotHeader) {
        if (!this.validRecordHeader(a.recPtr, a.buffer, 0)) {
          this.noteAborted(a);
          return FAIL;
        }
        a.gotHeader = true;
      }
      if (a.gotLength < a.totalLength) a.pagePtr += XLOG_BLCKSZ;
      else {
        const bytes = a.buffer;
        const crc = (bytes[20]! | (bytes[21]! << 8) | (bytes[22]! << 16) | (bytes[23]! << 24)) >>> 0;
        const c = a.chunk;
        if ((c?.crc === undefined || !c.crc.verified(a.recPtr - c.start)) && recordCrc(bytes, 0, a.totalLength) !== crc) {
          this.noteAborted(a);
          return this.invalid(a.recPtr, `incorrect resource manager data checksum in record at ${formatLsn(a.recPtr)}`);
        }
        this.asm = undefined;
        return this.finish(a.recPtr, bytes, 0, a.totalLength, a.pagePtr + hdrSize + maxAlign(remLen));
      }
    }
    return FAIL;
  }

  /** abortedRecPtr / missingContrecPtr: where a torn multi-page record started and where its rest is missing. */
  abortedRecPtr: Lsn = 0;
  missingContrecPtr: Lsn = 0;

  private noteAborted(a: Assembly): void {
    this.abortedRecPtr = a.recPtr;
    this.missingContrecPtr = a.pagePtr;
  }

  private finish(recPtr: Lsn, bytes: Uint8Array, base: number, totalLength: number, next: Lsn): DecodedRecord | typeof FAIL {
    const rec = this.reuseBuffers ? (this.reused?.reuseFor(bytes, base, totalLength) ?? (this.reused = new DecodedRecord(bytes, base, totalLength))) : new DecodedRecord(bytes, base, totalLength);
    rec.lsn = recPtr;
    rec.xid = u32(bytes, base + 4);
    rec.info = bytes[base + 16]!;
    rec.rmid = bytes[base + 17]!;
    rec.timeline = this.currentTli;
    if (rec.rmid === RM_XLOG_ID && (rec.info & 0xf0) === XLOG_SWITCH) {
      // Pretend it extends to the end of its segment.
      next = next + this.segmentSize - 1;
      next -= next % this.segmentSize;
    }
    rec.endLsn = next;
    const error = decodeRecordBody(rec, this.decodeRecPtr, bytes, base);
    if (error !== undefined) return this.invalid(recPtr, error);
    this.decodeRecPtr = recPtr;
    this.nextRecPtr = next;
    this.randAccess = false;
    return rec;
  }

  // see XLogFindNextRecord (xlogreader.c): the first record start at or after a position, from page headers.
  private findFirstRecordStart(lsn: Lsn): Lsn {
    // Resolved lazily: step() reads pages until the first record start is known.
    this.findPending = lsn;
    return lsn - offInPage(lsn);
  }

  private findPending: Lsn | undefined;

  /**
   * In find mode, before the first step: skip continuation data from the page holding the start position.
   * Returns NEED/FAIL, or 0 when the first record start is known.
   */
  private resolveFind(): number {
    let tmp = this.findPending!;
    for (;;) {
      const pagePtr = tmp - offInPage(tmp);
      const page = this.readPage(pagePtr, Math.max(tmp % XLOG_BLCKSZ, SIZE_OF_SHORT_PHD));
      if (typeof page === 'number') return page;
      const info = page[2]! | (page[3]! << 8);
      const hdrSize = info & XLP_LONG_HEADER ? SIZE_OF_LONG_PHD : SIZE_OF_SHORT_PHD;
      if (info & XLP_FIRST_IS_CONTRECORD) {
        const remLen = (page[16]! | (page[17]! << 8) | (page[18]! << 16)) + page[19]! * 0x1000000;
        if (maxAlign(remLen) >= XLOG_BLCKSZ - hdrSize) {
          tmp = pagePtr + XLOG_BLCKSZ;
          this.findPending = tmp;
          continue;
        }
        tmp = pagePtr + hdrSize + maxAlign(remLen);
      } else {
        tmp = pagePtr + hdrSize;
      }
      this.findPending = undefined;
      this.nextRecPtr = tmp;
      this.randAccess = true;
      return 0;
    }
  }

}

/**
 * Whether `page` (at least a short header's bytes) starts with a header the server wrote for `pagePtr`: a known
 * magic, valid info bits and `xlp_pageaddr` equal to `pagePtr`. A zeroed or recycled page fails it; a page that
 * passes after an invalid record means the WAL goes on past it (damage, not the end of WAL).
 */
export function isWalPageAt(page: Uint8Array, pagePtr: Lsn): boolean {
  return walPageAddr(page) === pagePtr;
}

/**
 * The `xlp_pageaddr` of a page whose header looks like one the server wrote (known magic, valid info bits), else
 * undefined. A recycled segment's pages carry an older address; a later address where WAL ended means a file of
 * later WAL lies in the place of the one wanted (swapped or misnamed), which is damage, not the end of WAL.
 */
export function walPageAddr(page: Uint8Array): Lsn | undefined {
  if (page.length < SIZE_OF_SHORT_PHD) return undefined;
  const magic = page[0]! | (page[1]! << 8);
  const info = page[2]! | (page[3]! << 8);
  if (profileForMagic(magic) === undefined || (info & ~XLP_ALL_FLAGS) !== 0) return undefined;
  const addr = lsnFromParts(u32(page, 12), u32(page, 8));
  return addr < 0 ? undefined : addr;
}
