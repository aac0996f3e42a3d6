// A synthetic WAL writer for the shapes a server rarely produces: valid page headers, records spanning pages,
// correct CRCs — so a test can then break exactly one thing and watch the reader's answer.
import { crc32c } from '../../src/xlogreader/crc32c.js';
import { walFileName } from '../../src/walfile.js';

export interface BlockSpec {
  id: number;
  forkFlags?: number;
  locator?: [number, number, number];
  sameRel?: boolean;
  blockNumber: number;
  data?: Uint8Array;
  /** A raw image with its bimg_info (and hole fields as stored). */
  image?: { bytes: Uint8Array; holeOffset: number; bimgInfo: number; holeLength?: number };
}

export interface RecordSpec {
  rmid: number;
  info: number;
  xid?: number;
  main?: Uint8Array;
  blocks?: BlockSpec[];
  toplevelXid?: number;
  origin?: number;
}

const BLCKSZ = 8192;
const u16 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff];
const u32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];

/** XLogRecordAssemble, simplified: block headers, origin, top-level xid, main data header, then payloads. */
export function assembleBody(spec: RecordSpec): Uint8Array {
  const head: number[] = [];
  const payload: number[] = [];
  for (const b of spec.blocks ?? []) {
    let flags = b.forkFlags ?? 0;
    if (b.data) flags |= 0x20;
    if (b.image) flags |= 0x10;
    if (b.sameRel) flags |= 0x80;
    head.push(b.id, flags, ...u16(b.data?.length ?? 0));
    if (b.image) {
      head.push(...u16(b.image.bytes.length), ...u16(b.image.holeOffset), b.image.bimgInfo);
      if (b.image.holeLength !== undefined) head.push(...u16(b.image.holeLength));
      payload.push(...b.image.bytes);
    }
    if (!b.sameRel) head.push(...u32(b.locator?.[0] ?? 1663), ...u32(b.locator?.[1] ?? 5), ...u32(b.locator?.[2] ?? 16384));
    head.push(...u32(b.blockNumber));
    if (b.data) payload.push(...b.data);
  }
  if (spec.origin !== undefined) head.push(253, ...u16(spec.origin));
  if (spec.toplevelXid !== undefined) head.push(252, ...u32(spec.toplevelXid));
  const main = spec.main ?? new Uint8Array(0);
  if (main.length > 0) {
    if (main.length <= 255) head.push(255, main.length);
    else head.push(254, ...u32(main.length));
  }
  return Uint8Array.from([...head, ...payload, ...main]);
}

export interface BuilderOptions {
  segmentSize?: number;
  magic?: number;
  systemIdentifier?: bigint;
  tli?: number;
  /** The first segment number written. */
  startSegno?: number;
}

export class WalBuilder {
  readonly segmentSize: number;
  readonly magic: number;
  readonly systemIdentifier: bigint;
  readonly tli: number;
  readonly startLsn: number;
  private bytes: Uint8Array;
  /** Insert position (an LSN). */
  pos: number;
  /** xl_prev of the next record (the last record added). */
  prevLsn = 0;
  readonly lsns: number[] = [];

  constructor(o: BuilderOptions = {}) {
    this.segmentSize = o.segmentSize ?? 1024 * 1024;
    this.magic = o.magic ?? 0xd113;
    this.systemIdentifier = o.systemIdentifier ?? 7000000000000000001n;
    this.tli = o.tli ?? 1;
    this.startLsn = (o.startSegno ?? 1) * this.segmentSize;
    this.bytes = new Uint8Array(this.segmentSize);
    this.pos = this.startLsn;
  }

  private ensure(lsn: number): void {
    const need = lsn - this.startLsn;
    if (need <= this.bytes.length) return;
    const segs = Math.ceil(need / this.segmentSize);
    const grown = new Uint8Array(segs * this.segmentSize);
    grown.set(this.bytes);
    this.bytes = grown;
  }

  /** Byte view at an LSN (for tests that corrupt things). */
  at(lsn: number): number {
    return lsn - this.startLsn;
  }

  get raw(): Uint8Array {
    return this.bytes;
  }

  private writePageHeader(pagePtr: number, remLen: number): number {
    this.ensure(pagePtr + BLCKSZ);
    const long = pagePtr % this.segmentSize === 0;
    const off = this.at(pagePtr);
    const v = new DataView(this.bytes.buffer, off, 40);
    v.setUint16(0, this.magic, true);
    v.setUint16(2, (long ? 0x0002 : 0) | (remLen > 0 ? 0x0001 : 0) | 0x0004, true);
    v.setUint32(4, this.tli, true);
    v.setUint32(8, pagePtr % 0x1_0000_0000, true);
    v.setUint32(12, Math.floor(pagePtr / 0x1_0000_0000), true);
    v.setUint32(16, remLen, true);
    if (long) {
      v.setBigUint64(24, this.systemIdentifier, true);
      v.setUint32(32, this.segmentSize, true);
      v.setUint32(36, BLCKSZ, true);
      return 40;
    }
    return 24;
  }

  /** Appends a record (header + body with a correct CRC); returns its LSN. */
  add(spec: RecordSpec, mutate?: (record: Uint8Array) => void): number {
    const body = assembleBody(spec);
    const rec = new Uint8Array(24 + body.length);
    rec.set(body, 24);
    const v = new DataView(rec.buffer);
    if (this.pos % BLCKSZ === 0) this.pos += this.writePageHeader(this.pos, 0);
    const lsn = this.pos;
    v.setUint32(0, rec.length, true);
    v.setUint32(4, spec.xid ?? 0, true);
    v.setUint32(8, this.prevLsn % 0x1_0000_0000, true);
    v.setUint32(12, Math.floor(this.prevLsn / 0x1_0000_0000), true);
    rec[16] = spec.info;
    rec[17] = spec.rmid;
    const crc = crc32c(rec.subarray(0, 20), crc32c(rec.subarray(24)));
    v.setUint32(20, crc, true);
    mutate?.(rec);
    // Copy across pages, writing continuation headers.
    let done = 0;
    let p = lsn;
    while (done < rec.length) {
      if (p % BLCKSZ === 0) p += this.writePageHeader(p, rec.length - done);
      this.ensure(p + 1);
      const room = BLCKSZ - (p % BLCKSZ);
      const n = Math.min(room, rec.length - done);
      this.bytes.set(rec.subarray(done, done + n), this.at(p));
      done += n;
      p += n;
    }
    this.pos = p + ((8 - (p % 8)) % 8);
    this.ensure(this.pos + BLCKSZ);
    this.prevLsn = lsn;
    this.lsns.push(lsn);
    return lsn;
  }

  /** The segments written so far, by file name. */
  segments(): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    for (let off = 0; off < this.bytes.length; off += this.segmentSize) {
      const segno = (this.startLsn + off) / this.segmentSize;
      out.set(walFileName(this.tli, segno, this.segmentSize), this.bytes.subarray(off, off + this.segmentSize));
    }
    return out;
  }
}

/** A record of `size` main-data bytes for a custom rmgr (128), whose description is just its id. */
export function filler(size: number, seed = 1): RecordSpec {
  const main = new Uint8Array(size);
  for (let i = 0; i < size; i++) main[i] = (i * 31 + seed) & 0xff;
  return { rmid: 128, info: 0x00, main };
}
