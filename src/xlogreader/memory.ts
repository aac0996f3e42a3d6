// Reading WAL held in memory, synchronously: for tests, browsers, and bytes that came from anywhere.
import { InvalidArgumentError } from '../errors.js';
import { isValidWalSegmentSize, type Lsn } from '../lsn.js';
import { XLogReader, type EndOfWal } from './reader.js';
import type { DecodedRecord } from './record.js';
import { MemorySource, readRecordsSync } from './source.js';

export interface MemoryWalOptions {
  /** Where to start (the first record at or after it); default: the first segment's first record. */
  start?: Lsn;
  /** Stop before a record that would end after this LSN. */
  end?: Lsn;
}

/** The segment size written in a long page header, or an error naming what was found. */
export function segmentSizeOf(firstPage: Uint8Array, name = 'WAL'): number {
  if (firstPage.length < 40) throw new InvalidArgumentError(`${name} is shorter than a long page header (40 bytes)`);
  const size = new DataView(firstPage.buffer, firstPage.byteOffset, 40).getUint32(32, true);
  if (!isValidWalSegmentSize(size)) {
    throw new InvalidArgumentError(`invalid WAL segment size in WAL file "${name}" (${size} bytes): it must be a power of two between 1 MB and 1 GB`);
  }
  return size;
}

/**
 * Records of WAL segments held in memory, keyed by file name (`000000010000000000000007`). Returns a generator
 * whose return value says how the WAL ended.
 */
export function readWalSegments(segments: Map<string, Uint8Array> | Record<string, Uint8Array>, options: MemoryWalOptions = {}): Generator<DecodedRecord, EndOfWal> {
  const entries = segments instanceof Map ? [...segments.entries()] : Object.entries(segments);
  if (entries.length === 0) throw new InvalidArgumentError('no WAL segments given');
  entries.sort(([a], [b]) => a.localeCompare(b));
  const segmentSize = segmentSizeOf(entries[0]![1], entries[0]![0]);
  const source = new MemorySource(segmentSize);
  for (const [name, bytes] of entries) source.add(name, bytes);
  const first = source.firstSegment();
  const reader = new XLogReader({ segmentSize, startLsn: options.start ?? first * segmentSize, findFirst: true, endLsn: options.end });
  return readRecordsSync(reader, source);
}
