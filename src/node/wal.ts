// openWal: records of WAL segment files in folders (Node).
import fs from 'node:fs';
import path from 'node:path';
import { WalSourceError } from '../errors.js';
import type { Lsn } from '../lsn.js';
import { XLogReader, type EndOfWal } from '../xlogreader/reader.js';
import type { DecodedRecord } from '../xlogreader/record.js';
import { readRecords, readRecordsSync } from '../xlogreader/source.js';
import { DirectorySource, inspectDirectory, type WalDirectoryInfo } from './directory.js';

export interface OpenWalOptions {
  /** A pg_wal folder, a data directory (its pg_wal is used), or any folders holding segments, searched in order. */
  path: string | string[];
  /** The timeline whose files to read; default: that of the lowest-named segment. */
  timeline?: number;
}

export interface RecordsOptions {
  /** Start at the first record at or after this LSN; default: the first segment's first record. */
  start?: Lsn;
  /** Stop before a record whose bytes reach past this LSN (pg_waldump -e). */
  end?: Lsn;
  signal?: AbortSignal;
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
    this.info = inspectDirectory(this.dirs, options.timeline);
  }

  get segmentSize(): number {
    return this.info.segmentSize;
  }

  source(): DirectorySource {
    return new DirectorySource({ dirs: this.dirs, segmentSize: this.info.segmentSize, timeline: this.info.timeline });
  }

  reader(options: RecordsOptions): XLogReader {
    const start = options.start ?? this.info.segments[0]! * this.info.segmentSize;
    return new XLogReader({ segmentSize: this.info.segmentSize, startLsn: start, findFirst: true, endLsn: options.end, timeline: this.info.timeline });
  }

  /** `for await (const record of wal.records({ start, end }))`; `stream.end` afterwards. */
  records(options: RecordsOptions = {}): RecordStream {
    const reader = this.reader(options);
    const source = this.source();
    let end: EndOfWal | undefined;
    return {
      get end() {
        return end;
      },
      async *[Symbol.asyncIterator]() {
        end = yield* readRecords(reader, source, options.signal);
      },
    };
  }

  /** The same, synchronously. */
  recordsSync(options: RecordsOptions = {}): RecordIterable {
    const reader = this.reader(options);
    const source = this.source();
    let end: EndOfWal | undefined;
    return {
      get end() {
        return end;
      },
      *[Symbol.iterator]() {
        end = yield* readRecordsSync(reader, source);
      },
    };
  }
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

export function openWal(options: OpenWalOptions): WalFiles {
  return new WalFiles(options);
}
