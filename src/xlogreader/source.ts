// Page sources and the thin drivers that feed the sans-IO reader: synchronous (in-memory bytes) and async.
import { InvalidArgumentError } from '../errors.js';
import { formatLsn, type Lsn } from '../lsn.js';
import { parseSegmentFileName } from '../walfile.js';
import type { DecodedRecord } from './record.js';
import { STEP_END, STEP_NEED, STEP_RECORD, XLOG_BLCKSZ, XLogReader, type CrcVerified, type EndOfWal, type XLogReaderOptions } from './reader.js';

/** WAL bytes from a source: `bytes` start at the page boundary `start` and were read from timeline `tli`. */
export interface SourceBytes {
  start: Lsn;
  bytes: Uint8Array;
  tli: number;
  /** Records of `bytes` whose CRC-32C was already checked (see XLogReader.supply). */
  crc?: CrcVerified;
}

/** What a source says when it has nothing at a page: the message names the file and why. */
export interface SourceMiss {
  missing: string;
  /**
   * Set when the bytes stop at the switch point of the timeline they were read from (the history says it ended
   * there) and the next timeline's file is not there: the reader ends with `timeline-end` at this LSN.
   */
  switchPoint?: Lsn;
}

/**
 * A page source in PostgreSQL's terms (page_read): the WAL at `pagePtr`, at least `minLength` bytes when they
 * exist (more is welcome: a whole segment). `recPtr` is the record being read, which decides the timeline.
 */
export interface PageSource {
  read(pagePtr: Lsn, minLength: number, recPtr: Lsn): SourceBytes | SourceMiss | Promise<SourceBytes | SourceMiss>;
  /** Forget cached bytes (follow mode: files may have grown or appeared). */
  invalidate?(): void;
}

/** Follow mode: at the end of the WAL there is, wait and look again instead of ending. */
export interface FollowOptions {
  /** Milliseconds between looks (default 1000, as pg_waldump -f). */
  pollMs?: number;
}

export interface SyncPageSource {
  read(pagePtr: Lsn, minLength: number, recPtr: Lsn): SourceBytes | SourceMiss;
}

/** The outcome of a read: the records, then how it ended. */
export interface ReadResult {
  records: DecodedRecord[];
  end: EndOfWal;
}

/**
 * Drives a reader over a synchronous source. A hand-written iterator: generators cost a few % per record.
 * `onDone` runs once reading has ended, failed or been left (return()).
 */
export function readRecordsSync(reader: XLogReader, source: SyncPageSource, onDone?: () => void): Generator<DecodedRecord, EndOfWal> {
  // One result object for every record: callers read `value` before asking for the next.
  const result: IteratorYieldResult<DecodedRecord> = { done: false, value: undefined as unknown as DecodedRecord };
  const it = {
    next(): IteratorResult<DecodedRecord, EndOfWal> {
      try {
        for (;;) {
          const s = reader.step();
          if (s === STEP_RECORD) {
            result.value = reader.record!;
            return result;
          }
          if (s === STEP_NEED) feed(reader, source.read(reader.needPagePtr, reader.needLength, reader.nextLsn));
          else {
            onDone?.();
            return { done: true, value: reader.end! };
          }
        }
      } catch (e) {
        onDone?.();
        throw e;
      }
    },
    return(value: EndOfWal): IteratorResult<DecodedRecord, EndOfWal> {
      onDone?.();
      return { done: true, value };
    },
    throw(e: unknown): IteratorResult<DecodedRecord, EndOfWal> {
      throw e;
    },
    [Symbol.iterator]() {
      return it;
    },
  };
  return it as unknown as Generator<DecodedRecord, EndOfWal>;
}

/**
 * Drives a reader over any source; stops (with an AbortError) when `signal` aborts. With `follow`, the end of
 * WAL (anything but the requested end LSN) is waited out: the source is looked at again every `pollMs`.
 */
export async function* readRecords(reader: XLogReader, source: PageSource, signal?: AbortSignal, follow?: FollowOptions): AsyncGenerator<DecodedRecord, EndOfWal> {
  for (;;) {
    signal?.throwIfAborted();
    const s = reader.step();
    if (s === STEP_RECORD) yield reader.record!;
    else if (s === STEP_NEED) feed(reader, await source.read(reader.needPagePtr, reader.needLength, reader.nextLsn));
    else if (s === STEP_END) {
      if (follow === undefined || reader.end!.reason === 'end-lsn') return reader.end!;
      await sleep(follow.pollMs ?? 1000, signal);
      source.invalidate?.();
      reader.retry();
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function feed(reader: XLogReader, got: SourceBytes | SourceMiss): void {
  if ('missing' in got) reader.supplyMissing(reader.needPagePtr, got.missing, got.switchPoint);
  else reader.supply(got.start, got.bytes, got.tli, got.crc);
}

/** An in-memory source: whole or partial segments keyed by segment number. */
export class MemorySource implements SyncPageSource {
  private readonly segments = new Map<number, { bytes: Uint8Array; tli: number; name: string }>();

  constructor(readonly segmentSize: number) {}

  /** Adds a segment by file name (e.g. `000000010000000000000007`) or number. */
  add(segment: string | number, bytes: Uint8Array, tli = 1): this {
    let segno: number;
    let name: string;
    if (typeof segment === 'string') {
      const p = parseSegmentFileName(segment, this.segmentSize);
      segno = p.segno;
      tli = p.tli;
      name = segment;
    } else {
      segno = segment;
      name = `segment ${segno}`;
    }
    if (bytes.length > this.segmentSize) {
      throw new InvalidArgumentError(`${name} has ${bytes.length} bytes, more than the segment size ${this.segmentSize}`);
    }
    this.segments.set(segno, { bytes, tli, name });
    return this;
  }

  /** The lowest segment number held. */
  firstSegment(): number {
    return Math.min(...this.segments.keys());
  }

  read(pagePtr: Lsn, minLength: number): SourceBytes | SourceMiss {
    const segno = Math.floor(pagePtr / this.segmentSize);
    const seg = this.segments.get(segno);
    if (seg === undefined) return { missing: `no segment holds ${formatLsn(pagePtr)}` };
    const off = pagePtr - segno * this.segmentSize;
    if (seg.bytes.length < off + Math.min(minLength, XLOG_BLCKSZ)) {
      return { missing: `${seg.name} ends at offset ${seg.bytes.length}, before ${formatLsn(pagePtr + minLength)}` };
    }
    return { start: segno * this.segmentSize, bytes: seg.bytes, tli: seg.tli };
  }
}

/**
 * Re-cuts a source's bytes into pieces of `size` bytes, as a network or a slow pipe would deliver them. The
 * reader must produce the same records whatever the cut (STYLE: test the core at every split point).
 */
export class ChunkedSource implements SyncPageSource {
  constructor(
    private readonly inner: SyncPageSource,
    private readonly size: number,
  ) {}

  private page: { start: Lsn; bytes: Uint8Array; tli: number } | undefined;

  read(pagePtr: Lsn, minLength: number, recPtr: Lsn): SourceBytes | SourceMiss {
    // Grow one page piece by piece until it holds minLength bytes: only whole pieces are ever handed over.
    if (this.page === undefined || this.page.start !== pagePtr) this.page = { start: pagePtr, bytes: new Uint8Array(0), tli: 1 };
    const got = this.inner.read(pagePtr, minLength, recPtr);
    if ('missing' in got) return got;
    const off = pagePtr - got.start;
    const available = Math.min(XLOG_BLCKSZ, got.bytes.length - off);
    const have = this.page.bytes.length;
    // More than minLength: PostgreSQL's reader treats a read of no more than a short page header as failed.
    const want = Math.min(available, Math.max(have + this.size, Math.ceil((minLength + 1) / this.size) * this.size));
    const next = got.bytes.slice(off, off + Math.min(want, available));
    this.page = { start: pagePtr, bytes: next, tli: got.tli };
    return { start: pagePtr, bytes: next, tli: got.tli };
  }
}

export { XLogReader };
export type { XLogReaderOptions };
