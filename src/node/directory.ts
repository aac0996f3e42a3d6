// Directory page source (Node): segments from pg_wal or any folders, `.gz` read transparently, `.partial`
// only when the full segment is missing.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { WalFormatError, WalSourceError } from '../errors.js';
import { isValidWalSegmentSize, type Lsn } from '../lsn.js';
import { parseWalFileName, segmentNumberOf, walFileName } from '../walfile.js';
import type { SourceBytes, SourceMiss, SyncPageSource } from '../xlogreader/source.js';
import { lz4DecompressFrame, zstdDecompressInto } from '../xlogreader/compression.js';
import type { CrcVerified } from '../xlogreader/reader.js';
import { timelinesForSegment, type TimelineHistory } from '../timeline/history.js';
import { clipAtSwitchPoint } from './switch-point.js';
import { AheadWindow, callerReadsNext, checkWindow, readWindowInRing, releaseWindow, WINDOW_MAX } from './readahead.js';

/** Bytes read from a plain segment file at a time; compressed files are read whole. */
const WINDOW = WINDOW_MAX;
/** Windows read ahead by default (10 MB). */
const READ_AHEAD = 5;

interface Found {
  file: string;
  compressed: boolean;
  tli: number;
  /** Set when the name is there but is no readable file (a folder, a symlink loop): pg_waldump's message for it. */
  unusable?: (offset: number) => string;
}

/** strerror's words for what stat/open say about a name that is there but cannot be read as a file. */
const STRERROR: Record<string, string> = {
  ELOOP: 'Too many levels of symbolic links',
  EACCES: 'Permission denied',
  EISDIR: 'Is a directory',
  EIO: 'Input/output error',
  ENAMETOOLONG: 'File name too long',
};

/**
 * Whether `file` counts as there (undefined: it is not), and if it cannot be read, pg_waldump's words for why:
 * a folder opens and then fails to read, a symlink loop fails to open.
 */
function lookAt(file: string): { unusable?: (offset: number) => string } | undefined {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(file, { throwIfNoEntry: false });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (code === 'ENOTDIR') return undefined;
    return { unusable: () => `could not open file "${path.basename(file)}": ${STRERROR[code] ?? (e as Error).message}` };
  }
  if (st === undefined) return undefined;
  if (st.isDirectory()) return { unusable: (offset) => `could not read from file ${path.basename(file)}, offset ${offset}: Is a directory` };
  return {};
}

export interface DirectorySourceOptions {
  /** Folders searched in order; the first holding a segment wins. */
  dirs: string[];
  segmentSize: number;
  /** The timeline whose files to read, when there is no history to follow. */
  timeline: number;
  /** A timeline history to follow: each segment is read from the timeline that owns it. */
  history?: TimelineHistory;
  /**
   * How many 2 MB windows of plain segment files a worker thread reads ahead of the one being read, checking the
   * CRC-32C of the records in them meanwhile (default 5; 0 = none: everything on the calling thread).
   */
  readAhead?: number;
  /**
   * Reuse a window's memory once reading has moved on from it (pg_waldump reuses its buffers too): for callers
   * that keep no record past the next one read, as `pgwal dump` does. With read-ahead, windows are read into a
   * ring of slots the worker shares with this thread (no copy, no fresh pages). Records of a window the reader
   * has left must not be used any more (their bytes are overwritten or detached). Off by default.
   */
  recycleWindows?: boolean;
}

const abandoned = new FinalizationRegistry<{ ahead: Map<Lsn, AheadWindow | null>; held: { bytes: Uint8Array | undefined } }>(({ ahead, held }) => {
  for (const a of ahead.values()) a?.cancel();
  if (held.bytes !== undefined) releaseWindow(held.bytes);
});

export class DirectorySource implements SyncPageSource {
  private cache: { segno: number; start: number; bytes: Uint8Array; file: string; tli: number; crc?: CrcVerified } | undefined;

  constructor(readonly options: DirectorySourceOptions) {
    // A source dropped without close() still gives its windows back, once collected (ring slots are few).
    if (options.recycleWindows === true) abandoned.register(this, { ahead: this.ahead, held: this.held }, this);
  }

  /** The window in the cache, for the finalizer (which must not hold the source itself). */
  private readonly held: { bytes: Uint8Array | undefined } = { bytes: undefined };

  /** Windows being read ahead by the worker, by the LSN they start at; null: one this thread will read itself. */
  private readonly ahead = new Map<Lsn, AheadWindow | null>();
  /** The last segment located for read-ahead (locate looks at the file system). */
  private located: { segno: number; found: Found | undefined } | undefined;

  /** The window read last becomes `next`; the one before goes back for reuse when windows are recycled. */
  private setCache(next: NonNullable<DirectorySource['cache']>): void {
    const old = this.cache;
    this.cache = next;
    this.held.bytes = next.bytes;
    if (this.options.recycleWindows === true && old !== undefined && (old.bytes.buffer !== next.bytes.buffer || old.bytes.byteOffset !== next.bytes.byteOffset)) {
      releaseWindow(old.bytes);
    }
  }

  /** Forgets what was read, so the files are read again (they may have grown). */
  invalidate(): void {
    if (this.options.recycleWindows === true && this.cache !== undefined) releaseWindow(this.cache.bytes);
    this.cache = undefined;
    this.held.bytes = undefined;
    this.located = undefined;
    for (const a of this.ahead.values()) a?.cancel();
    this.ahead.clear();
  }

  /**
   * Done reading: windows read ahead are dropped and, when windows are recycled, the last one is given back.
   * Records from this source must not be used after it when windows are recycled.
   */
  close(): void {
    this.invalidate();
  }

  /** Has the worker read the windows after the one at `start` (and forget those up to it). */
  private readAheadAfter(start: Lsn, depth: number): void {
    const { segmentSize } = this.options;
    for (const [w, a] of this.ahead) {
      if (w <= start) {
        a?.cancel();
        this.ahead.delete(w);
      }
    }
    // A segment smaller than a window (1 MB) is one window.
    const step = Math.min(WINDOW, segmentSize);
    for (let k = 1, w = start + step; k <= depth; k++, w += step) {
      if (this.ahead.has(w)) continue;
      const segno = Math.floor(w / segmentSize);
      if (this.located?.segno !== segno) this.located = { segno, found: this.locate(segno) };
      const found = this.located.found;
      if (found === undefined || found.compressed || found.unusable !== undefined || found.file.endsWith('.partial')) break;
      const off = w - segno * segmentSize;
      this.ahead.set(w, callerReadsNext() ? null : new AheadWindow(found.file, off, Math.min(WINDOW, segmentSize - off), this.options.recycleWindows === true, w));
    }
  }

  /** The timeline of the last file used: the server never goes back to an older one (XLogFileReadAnyTLI). */
  private lastTli = 0;

  /**
   * The file holding segment `segno`: for each candidate timeline (just `timeline`, or the history's choice
   * for that segment), the plain name, then `.gz`, then `.partial` (and `.gz.partial`).
   */
  locate(segno: number): Found | undefined {
    const { history, segmentSize, timeline } = this.options;
    const tlis = history === undefined ? [timeline] : timelinesForSegment(segno, history, segmentSize).filter((t) => t >= this.lastTli);
    for (const tli of tlis) {
      const base = walFileName(tli, segno, segmentSize);
      for (const suffix of ['', '.gz', '.partial', '.gz.partial', '.partial.gz']) {
        for (const dir of this.options.dirs) {
          const file = path.join(dir, base + suffix);
          const there = lookAt(file);
          if (there !== undefined) return { file, compressed: suffix.includes('.gz'), tli, ...there };
        }
      }
    }
    return undefined;
  }

  /**
   * The bytes at `pagePtr`, never past the switch point of the timeline whose file they come from: an older
   * timeline's copy of the switch segment holds WAL that is not on the history after it (XLogReadDetermineTimeline
   * reads it only up to there). Wanting more there, with the newer timeline's file missing, is a miss that names
   * the switch point (the reader's `timeline-end`); follow mode looks again and takes the newer file once it is there.
   */
  read(pagePtr: Lsn, minLength: number): SourceBytes | SourceMiss {
    return clipAtSwitchPoint(this.readFile(pagePtr, minLength), pagePtr, minLength, this.options.history, this.options.segmentSize);
  }

  private readFile(pagePtr: Lsn, minLength: number): SourceBytes | SourceMiss {
    const { segmentSize, timeline } = this.options;
    const segno = Math.floor(pagePtr / segmentSize);
    const segStart = segno * segmentSize;
    const c = this.cache;
    if (c !== undefined && c.segno === segno && pagePtr >= c.start && pagePtr + minLength <= c.start + c.bytes.length) {
      return { start: c.start, bytes: c.bytes, tli: c.tli, crc: c.crc };
    }
    const found = this.locate(segno);
    if (found === undefined) {
      const tli = this.options.history === undefined ? timeline : (timelinesForSegment(segno, this.options.history, segmentSize)[0] ?? timeline);
      return { missing: `could not find file "${walFileName(tli, segno, segmentSize)}": No such file or directory` };
    }
    if (found.unusable !== undefined) throw new WalSourceError('unreadable-file', found.unusable(pagePtr - segStart), { file: found.file, lsn: pagePtr });
    this.lastTli = found.tli;
    let start: number;
    let bytes: Uint8Array;
    if (found.compressed) {
      const raw = readCompressed(found.file, segmentSize);
      if (raw[0] !== 0x1f || raw[1] !== 0x8b) throw new WalSourceError('unreadable-file', `could not decompress file "${found.file}": not in gzip format`, { file: found.file });
      bytes = decompressMember(raw, segmentSize, found.file);
      start = segStart;
    } else {
      // A window starting at the page, so long segments are not read whole.
      const off = pagePtr - segStart;
      const winStart = off - (off % WINDOW);
      start = segStart + winStart;
      const depth = this.options.readAhead ?? READ_AHEAD;
      if (depth > 0 && !found.file.endsWith('.partial')) {
        const a = this.ahead.get(start);
        const ready = a != null && a.file === found.file ? a.take() : undefined;
        this.readAheadAfter(start, depth);
        if (ready !== undefined) {
          this.setCache({ segno, start, bytes: ready, file: found.file, tli: found.tli, crc: a!.crc });
          if (ready.length >= pagePtr - start + Math.min(minLength, 8192)) return { start, bytes: ready, tli: found.tli, crc: a!.crc };
        }
      }
      if (depth > 0 && this.options.recycleWindows === true && !found.file.endsWith('.partial')) {
        const own = readWindowInRing(found.file, winStart, Math.min(WINDOW, segmentSize - winStart), start);
        if (own !== undefined) {
          this.setCache({ segno, start, bytes: own.bytes, file: found.file, tli: found.tli, crc: own.crc });
          return { start, bytes: own.bytes, tli: found.tli, crc: own.crc };
        }
      }
      const fd = fs.openSync(found.file, 'r');
      try {
        // Not zero-filled: every byte handed on is read from the file first.
        const buf = new Uint8Array(Buffer.allocUnsafeSlow(Math.min(WINDOW, segmentSize - winStart)).buffer);
        let got = 0;
        while (got < buf.length) {
          const n = fs.readSync(fd, buf, got, buf.length - got, winStart + got);
          if (n === 0) break;
          got += n;
        }
        bytes = got === buf.length ? buf : buf.subarray(0, got);
      } finally {
        fs.closeSync(fd);
      }
    }
    // A whole window read here when recycling (no ring slot was free): checked as the worker checks its windows.
    const whole = Math.min(WINDOW, segmentSize - (start - segStart));
    const crc = this.options.recycleWindows === true && (this.options.readAhead ?? READ_AHEAD) > 0 && !found.compressed && bytes.length === whole ? checkWindow(bytes, start, start - segStart) : undefined;
    this.setCache({ segno, start, bytes, file: found.file, tli: found.tli, crc });
    const off = pagePtr - start;
    if (bytes.length < off + Math.min(minLength, 8192)) {
      return {
        // WALRead's words: a short read is retried, and the read that returns nothing is the one reported.
        missing: `could not read from file ${path.basename(found.file)}, offset ${pagePtr - segStart + Math.max(0, bytes.length - off)}: read 0 of ${8192 - Math.max(0, bytes.length - off)}`,
      };
    }
    return { start, bytes, tli: found.tli, crc };
  }
}

export interface WalDirectoryInfo {
  segmentSize: number;
  timeline: number;
  /** Segment numbers present for that timeline, ascending. */
  segments: number[];
  systemIdentifier: bigint;
}

/**
 * Looks at a folder the way pg_waldump's search_directory does: the segment size from the first readable
 * segment's long header; the timeline (unless given) of the lowest-named segment.
 */
export function inspectDirectory(dirs: string[], timeline?: number): WalDirectoryInfo {
  const names: string[] = [];
  for (const dir of dirs) {
    let entries: string[];
    try {
      entries = fs.readdirSync(dir);
    } catch (e) {
      throw new WalSourceError('unreadable-directory', `could not open directory "${dir}": ${(e as Error).message}`, { file: dir, cause: e });
    }
    for (const n of entries) {
      try {
        const p = parseWalFileName(n);
        if (p.kind === 'segment' || p.kind === 'partial') names.push(path.join(dir, n));
      } catch {
        /* not a WAL file: pg_wal holds archive_status/, summaries/ … */
      }
    }
  }
  names.sort((a, b) => path.basename(a).localeCompare(path.basename(b)));
  const candidates = timeline === undefined ? names : names.filter((n) => parseWalFileName(path.basename(n)).tli === timeline);
  if (candidates.length === 0) {
    throw new WalSourceError('no-wal-files', `could not locate WAL file in ${dirs.map((d) => `"${d}"`).join(', ')}`, { file: dirs[0] });
  }
  const first = candidates[0]!;
  const head = readHead(first);
  // search_directory reads a whole first page for the segment size.
  if (head.length < 8192) throw new WalFormatError('short-segment', `could not read file "${path.basename(first)}": read ${head.length} of 8192`, { file: first });
  const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const segmentSize = head.length >= 40 ? v.getUint32(32, true) : 0;
  if (!isValidWalSegmentSize(segmentSize)) {
    throw new WalFormatError(
      'invalid-segment-size',
      `invalid WAL segment size in WAL file "${path.basename(first)}" (${segmentSize} bytes): it must be a power of two between 1 MB and 1 GB`,
      { file: first },
    );
  }
  const tli = timeline ?? parseWalFileName(path.basename(first)).tli;
  const segments = [
    ...new Set(
      candidates
        .map((n) => parseWalFileName(path.basename(n)))
        .filter((p) => p.tli === tli)
        .map((p) => segmentNumberOf(p, segmentSize)),
    ),
  ].sort((a, b) => a - b);
  return { segmentSize, timeline: tli, segments, systemIdentifier: v.getBigUint64(24, true) };
}

/**
 * The compressed bytes of a `.gz` segment: never more than a compressed segment can take (deflate adds a few
 * bytes per 64 kB stored), so a huge file is refused before it is read.
 */
function readCompressed(file: string, segmentSize: number): Uint8Array {
  const limit = segmentSize + (segmentSize >>> 10) + 65536;
  const size = fs.statSync(file).size;
  if (size > limit) {
    throw new WalSourceError('bad-archive-member', `compressed WAL file "${file}" has ${size} bytes, more than a compressed segment of ${segmentSize} bytes can have`, { file });
  }
  return fs.readFileSync(file);
}

/**
 * The first page of a `.gz` segment, inflating only as much as it takes: the segment size is not known yet, so
 * the input is fed in growing pieces (each inflates to at most ~1000 times its size) until a page is out.
 */
function readGzipHead(file: string): Uint8Array {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    for (let k = 4096; ; k *= 2) {
      const n = Math.min(k, size);
      const buf = Buffer.alloc(n);
      fs.readSync(fd, buf, 0, n, 0);
      let out: Buffer;
      try {
        out = zlib.gunzipSync(buf, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
      } catch (e) {
        throw new WalSourceError('unreadable-file', `could not decompress file "${file}": ${(e as Error).message}`, { file, cause: e });
      }
      if (out.length >= 8192 || n === size) return new Uint8Array(out.buffer, out.byteOffset, Math.min(out.length, 8192));
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** The first page of the first segment (search_directory): a name that is no readable file is a typed error. */
function readHead(file: string): Uint8Array {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    throw new WalSourceError('unreadable-file', `could not open file "${path.basename(file)}": ${STRERROR[code] ?? (e as Error).message}`, { file, cause: e });
  }
  try {
    if (fs.fstatSync(fd).isDirectory()) throw new WalSourceError('unreadable-file', `could not read file "${path.basename(file)}": Is a directory`, { file });
    if (file.includes('.gz')) return readGzipHead(file);
    const buf = new Uint8Array(8192);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Decompresses by magic bytes (gzip, zstd, lz4 frame); plain bytes pass through. Never produces more than
 * `maxSize` bytes (the segment size): every compressed input, archived or in a folder, goes through here, so a
 * small file that inflates to gigabytes is a typed error naming it, not an allocation.
 */
export function decompressMember(bytes: Uint8Array, maxSize: number, name: string): Uint8Array {
  const bad = (what: string): never => {
    throw new WalSourceError('bad-archive-member', `compressed WAL file "${name}" is not a valid ${what} stream of at most ${maxSize} bytes (the WAL segment size)`, { file: name });
  };
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return zlib.gunzipSync(bytes, { maxOutputLength: maxSize });
    } catch (e) {
      // A gzip stream that ends early is most often one still being written by archive_command.
      if ((e as NodeJS.ErrnoException).code === 'Z_BUF_ERROR') {
        throw new WalSourceError('truncated-archive-member', `compressed WAL file "${name}" ends before its gzip stream does`, { file: name });
      }
      return bad('gzip');
    }
  }
  if (bytes[0] === 0x28 && bytes[1] === 0xb5 && bytes[2] === 0x2f && bytes[3] === 0xfd) {
    const out = new Uint8Array(maxSize);
    const n = zstdDecompressInto(bytes, out);
    return n < 0 ? bad('zstd') : out.subarray(0, n);
  }
  if (bytes[0] === 0x04 && bytes[1] === 0x22 && bytes[2] === 0x4d && bytes[3] === 0x18) {
    return lz4DecompressFrame(bytes, maxSize) ?? bad('lz4');
  }
  return bytes;
}
