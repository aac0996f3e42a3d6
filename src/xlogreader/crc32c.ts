// CRC-32C over WAL records: the body first, then the header up to xl_crc (ValidXLogRecord, pg_crc32c.h).
import CRC32C from 'crc-32/crc32c.js';

/** The CRC a record at `offset` of `bytes` should carry, as an unsigned 32-bit number. */
export function recordCrc(bytes: Uint8Array, offset: number, totalLength: number): number {
  const body = CRC32C.buf(bytes.subarray(offset + 24, offset + totalLength), 0);
  return CRC32C.buf(bytes.subarray(offset, offset + 20), body) >>> 0;
}

export function crc32c(bytes: Uint8Array, seed = 0): number {
  return CRC32C.buf(bytes, seed) >>> 0;
}
