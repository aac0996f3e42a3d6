// openWal: records of WAL segment files in folders (Node).
import fs from 'node:fs';
import path from 'node:path';
import { WalSourceError } from '../errors.js';
import { formatLsn, type Lsn } from '../lsn.js';
import { type XLogReaderOptions, XLogReader, type EndOfWal, isWalPageAt, walPageAddr, XLOG_BLCKSZ } from '../xlogreader/reader.js';
import type { DecodedRecord } from '../xlogreader/record.js';
import { readRecords, readRecordsSync, type FollowOptions } from '../xlogreader/source.js';
import { DirectorySource, inspectDirectory, type WalDirectoryInfo } from './directory.js';
import { assertOnHistory, historyWithoutFile, HistoryTooLargeError, MAX_HISTORY_FILE_SIZE, parseTimelineHistory, TimelineEndError, type TimelineHistory } from '../timeline/history.js';
import { historyFileName, parseSegmentFileName } from '../walfile.js';

export interface OpenWalOptions {
  /** A pg_wal folder, a data directory (its pg_wal is used), or any folders holding segments, searched in order. */
  path: string | string[];
  /**
   * The timeline to read: a number, or `latest` (the newest timeline with a history file in the folders). Its
   * history is followed: each segment comes from the timeline that owns it, so reading crosses switches.
   * Default: the timeline of the lowest-named segment, without history.
   */
  timeline?: number | 'latest';
  /**
   * 2 MB windows of segment files a worker thread reads ahead, checking their records' CRC-32C meanwhile, so
   * both cores work (default 5; 0 = read and check everything on the calling thread). Records, errors and the
   * end of WAL are the same either way.
   */
  readAhead?: number;
  /**
   * Reuse the memory of windows and of multi-page records, and the record object itself, once reading has moved
   * on: for loops that keep no record past the next one (a kept record changes under it). Faster and flatter in
   * memory; off by default.
   */
  recycleWindows?: boolean;
}

export interface RecordsOptions {
  /** Start at the first record at or after this LSN; default: the first segment's first record. */
  start?: Lsn;
  /** The timeline `start` was reached on: refused with a typed error when it is not on the followed history. */
  startTimeline?: number;
  /** Stop before a record whose bytes reach past this LSN (pg_waldump -e). */
  end?: Lsn;
  signal?: AbortSignal;
  /** Follow mode (records() only): wait at the end of WAL for more instead of ending. */
  follow?: FollowOptions;
  /** The system and major the WAL must be of: anything else is a typed error naming both. */
  expect?: XLogReaderOptions['expect'];
}

/** A stream of records that, once finished, says how the WAL ended. */
export interface RecordStream extends AsyncIterable<DecodedRecord> {
  /** Set when iteration has finished: where and why reading stopped. */
  readonly end: EndOfWal | undefined;
}

export interface RecordIterable extends Iterable<DecodedRecord> {
  readonly end: EndOfWal | undefined;
}

export class WalFiles {
  readonly dirs: string[];
  readonly info: WalDirectoryInfo;

  constructor(options: OpenWalOptions) {
    const given = Array.isArray(options.path) ? options.path : [options.path];
    this.dirs = given.map(resolveWalDir);
    const target = options.timeline === 'latest' ? newestTimeline(this.dirs) : options.timeline;
    this.history = target === undefined ? undefined : readHistory(this.dirs, target);
    // Following a history, the first segment may belong to any of its timelines: look at all of them.
    const found = inspectDirectory(this.dirs, this.history === undefined ? target : undefined);
    this.info = this.history === undefined ? found : { ...found, timeline: target! };
    this.readAhead = options.readAhead;
    this.recycleWindows = options.recycleWindows;
  }

  private readonly readAhead: number | undefined;
  private readonly recycleWindows: boolean | undefined;

  /** The followed history, newest first; undefined when reading one timeline's files only. */
  readonly history: TimelineHistory | undefined;

  /** An end at a switch point is an early stop, not the end of the WAL: a typed error. */
  private readonly stopped = (end: EndOfWal | undefined): void => {
    if (end?.reason === 'timeline-end') throw TimelineEndError.at(end.lsn, this.history!, this.info.segmentSize);
  };

  get segmentSize(): number {
    return this.info.segmentSize;
  }

  source(): DirectorySource {
    return new DirectorySource({ dirs: this.dirs, segmentSize: this.info.segmentSize, timeline: this.info.timeline, history: this.history, readAhead: this.readAhead, recycleWindows: this.recycleWindows });
  }

  reader(options: RecordsOptions): XLogReader {
    const start = options.start ?? this.info.segments[0]! * this.info.segmentSize;
    if (options.startTimeline !== undefined) assertOnHistory(options.startTimeline, start, this.history ?? historyWithoutFile(this.info.timeline));
    // A page must be of the followed history; reading one timeline's files, of that timeline or an older one.
    const tlis = this.history === undefined ? undefined : new Set(this.history.map((e) => e.tli));
    const newest = this.info.timeline;
    const isExpectedTimeline = tlis === undefined ? (t: number) => t <= newest : (t: number) => tlis.has(t);
    return new XLogReader({ segmentSize: this.info.segmentSize, startLsn: start, findFirst: true, endLsn: options.end, timeline: this.info.timeline, expect: options.expect, reuseBuffers: this.recycleWindows, isExpectedTimeline });
  }

  /**
   * `for await (const record of wal.records({ start, end }))`; `stream.end` afterwards. Reading that stops at a
   * switch point of the followed history because the next timeline's file is missing throws a TimelineEndError
   * after the records before it (follow mode waits for the file instead).
   */
  records(options: RecordsOptions = {}): RecordStream {
    const reader = this.reader(options);
    const source = this.source();
    const stopped = this.stopped;
    let end: EndOfWal | undefined;
    return {
      get end() {
        return end;
      },
      async *[Symbol.asyncIterator]() {
        try {
          end = yield* readRecords(reader, source, options.signal, options.follow);
        } finally {
          source.close();
        }
        stopped(end);
      },
    };
  }

  /**
   * Reading stopped at `end` (not at a requested end LSN): why that is not the end of the WAL the folders hold,
   * or undefined when it is. A segment file shorter than the segment size is damaged; so is the WAL when a page
   * after the failing one carries the header the server wrote for it (later in the segment, or the first page of
   * a later segment): the WAL went on past the record that could not be read.
   */
  damageAfter(end: EndOfWal): string | undefined {
    const damage = this.damageSeen(end);
    // A server writing these folders may have completed the record meanwhile (and gone on past it): then the
    // WAL grew, it is not damaged, and reading stopped at its end as it was.
    return damage === undefined || this.readableNow(end.lsn) ? undefined : damage;
  }

  /** Whether a record can be read at `lsn` now (a fresh look at the files). */
  private readableNow(lsn: Lsn): boolean {
    const source = new DirectorySource({ dirs: this.dirs, segmentSize: this.info.segmentSize, timeline: this.info.timeline, history: this.history, readAhead: 0 });
    try {
      const reader = new XLogReader({ segmentSize: this.info.segmentSize, startLsn: lsn, timeline: this.info.timeline });
      for (const _ of readRecordsSync(reader, source)) return true;
      return false;
    } catch {
      return false;
    } finally {
      source.close();
    }
  }

  private damageSeen(end: EndOfWal): string | undefined {
    const { segmentSize } = this.info;
    const segno = Math.floor(end.lsn / segmentSize);
    const source = new DirectorySource({ dirs: this.dirs, segmentSize, timeline: this.info.timeline, history: this.history, readAhead: 0 });
    try {
      const found = source.locate(segno);
      if (found !== undefined && !found.compressed) {
        const size = fs.statSync(found.file).size;
        if (size !== segmentSize) return `file "${path.basename(found.file)}" is ${size} bytes, not a whole segment of ${segmentSize}`;
      }
      const failPage = end.lsn - (end.lsn % XLOG_BLCKSZ);
      const failing = found === undefined ? undefined : source.read(failPage, XLOG_BLCKSZ);
      if (failing !== undefined && !('missing' in failing)) {
        const later = laterPageAddr(failing.bytes.subarray(failPage - failing.start), failPage);
        if (later !== undefined) return `${later} ("${path.basename(found!.file)}")`;
      }
      for (let p = failPage + XLOG_BLCKSZ; found !== undefined && p < (segno + 1) * segmentSize; p += XLOG_BLCKSZ) {
        const got = source.read(p, XLOG_BLCKSZ);
        if ('missing' in got) break;
        if (isWalPageAt(got.bytes.subarray(p - got.start), p)) return `WAL continues after it, at ${formatLsn(p)}`;
      }
      const later = new Set<number>();
      for (const dir of this.dirs) {
        for (const name of fs.readdirSync(dir)) {
          if (!/^[0-9A-F]{24}(\.partial)?(\.gz)?(\.partial)?$/.test(name)) continue;
          const s = parseSegmentFileName(name, segmentSize).segno;
          if (s > segno) later.add(s);
        }
      }
      for (const s of [...later].sort((a, b) => a - b)) {
        const f = source.locate(s);
        if (f === undefined) continue;
        const start = s * segmentSize;
        let page: Uint8Array;
        if (f.compressed) {
          const got = source.read(start, XLOG_BLCKSZ);
          if ('missing' in got) continue;
          page = got.bytes;
        } else {
          page = new Uint8Array(XLOG_BLCKSZ);
          const fd = fs.openSync(f.file, 'r');
          try {
            page = page.subarray(0, fs.readSync(fd, page, 0, XLOG_BLCKSZ, 0));
          } finally {
            fs.closeSync(fd);
          }
        }
        if (isWalPageAt(page, start)) return `WAL continues after it, in "${path.basename(f.file)}" at ${formatLsn(start)}`;
      }
      return undefined;
    } finally {
      source.close();
    }
  }

  /** The same, synchronously. */
  recordsSync(options: RecordsOptions = {}): RecordIterable {
    const reader = this.reader(options);
    const source = this.source();
    const stopped = this.stopped;
    let end: EndOfWal | undefined;
    return {
      get end() {
        return end;
      },
      // The reader's iterator itself (a wrapper or generator around it cost a call per record); the source is
      // closed when it ends, fails or is left.
      [Symbol.iterator]() {
        let done = false;
        const it = readRecordsSync(reader, source, () => {
          if (done) return;
          done = true;
          end = reader.end;
          source.close();
          stopped(end);
        });
        return it;
      },
    };
  }
}

/** When the page at `pagePtr` carries a later address: what that says (shared with the archive's check). */
export function laterPageAddr(page: Uint8Array, pagePtr: Lsn): string | undefined {
  const addr = walPageAddr(page);
  return addr !== undefined && addr > pagePtr ? `the page at ${formatLsn(pagePtr)} holds the WAL of ${formatLsn(addr)}: a later segment's file in its place` : undefined;
}

/** A folder with segments, or a data directory whose pg_wal has them (pg_waldump's search order). */
function resolveWalDir(dir: string): string {
  if (!fs.existsSync(dir)) throw new WalSourceError('unreadable-directory', `could not open directory "${dir}": No such file or directory`, { file: dir });
  const pgWal = path.join(dir, 'pg_wal');
  const hasSegments = (d: string): boolean => {
    try {
      return fs.readdirSync(d).some((n) => /^[0-9A-F]{24}(\.partial)?(\.gz)?$/.test(n));
    } catch {
      return false;
    }
  };
  if (!hasSegments(dir) && hasSegments(pgWal)) return pgWal;
  return dir;
}

/** The highest timeline with a history file in the folders (1 when there is none). */
export function newestTimeline(dirs: string[]): number {
  let newest = 1;
  for (const dir of dirs) {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch (e) {
      throw new WalSourceError('unreadable-directory', `could not open directory "${dir}": ${strerror(e)}`, { file: dir, cause: e });
    }
    for (const name of names) {
      const m = /^([0-9A-F]{8})\.history$/.exec(name);
      if (m !== null) newest = Math.max(newest, parseInt(m[1]!, 16));
    }
  }
  return newest;
}

/** The history of `tli` from the first folder holding its history file (timeline 1 has none). */
export function readHistory(dirs: string[], tli: number): TimelineHistory {
  const name = historyFileName(tli);
  for (const dir of dirs) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return parseTimelineHistory(readHistoryFile(file), tli, file);
  }
  return historyWithoutFile(tli);
}

/** A history file's text, refused unread when it is larger than any history file (MAX_HISTORY_FILE_SIZE). */
function readHistoryFile(file: string): string {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new WalSourceError('unreadable-file', `could not open file "${file}": ${strerror(e)}`, { file, cause: e });
  }
  try {
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) throw new WalSourceError('unreadable-file', `could not read file "${file}": Is a directory`, { file });
    if (st.size > MAX_HISTORY_FILE_SIZE) throw new HistoryTooLargeError(file, st.size);
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.toString('utf8', 0, got);
  } finally {
    fs.closeSync(fd);
  }
}

/** strerror's words for the usual errno codes (Node's messages are its own). */
function strerror(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const words: Record<string, string> = {
    ENOENT: 'No such file or directory',
    ENOTDIR: 'Not a directory',
    EACCES: 'Permission denied',
    ELOOP: 'Too many levels of symbolic links',
    EISDIR: 'Is a directory',
  };
  return (code !== undefined ? words[code] : undefined) ?? (e as Error).message;
}

export function openWal(options: OpenWalOptions): WalFiles {
  return new WalFiles(options);
}
