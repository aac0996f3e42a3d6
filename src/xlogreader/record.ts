// A decoded WAL record: the fixed header, block references and main data, as views into the record bytes.
// Mirrors DecodedXLogRecord (xlogreader.h); field names follow PostgreSQL's.
import type { Lsn } from '../lsn.js';

/** RelFileLocator (RelFileNode before 16): tablespace, database, relfilenumber. */
export interface RelFileLocator {
  readonly spcOid: number;
  readonly dbOid: number;
  readonly relNumber: number;
}

/** ForkNumber. */
export const MAIN_FORKNUM = 0;
export const FSM_FORKNUM = 1;
export const VISIBILITYMAP_FORKNUM = 2;
export const INIT_FORKNUM = 3;
/** forkNames[] in relpath.c. */
export const FORK_NAMES = ['main', 'fsm', 'vm', 'init'] as const;

// fork_flags bits (xlogrecord.h)
export const BKPBLOCK_FORK_MASK = 0x0f;
export const BKPBLOCK_HAS_IMAGE = 0x10;
export const BKPBLOCK_HAS_DATA = 0x20;
export const BKPBLOCK_WILL_INIT = 0x40;
export const BKPBLOCK_SAME_REL = 0x80;

// bimg_info bits, 15–18
export const BKPIMAGE_HAS_HOLE = 0x01;
export const BKPIMAGE_APPLY = 0x02;
export const BKPIMAGE_COMPRESS_PGLZ = 0x04;
export const BKPIMAGE_COMPRESS_LZ4 = 0x08;
export const BKPIMAGE_COMPRESS_ZSTD = 0x10;
export const BKPIMAGE_COMPRESSED = BKPIMAGE_COMPRESS_PGLZ | BKPIMAGE_COMPRESS_LZ4 | BKPIMAGE_COMPRESS_ZSTD;

// xl_info generic bits
export const XLR_INFO_MASK = 0x0f;
export const XLR_RMGR_INFO_MASK = 0xf0;
export const XLR_SPECIAL_REL_UPDATE = 0x01;
export const XLR_CHECK_CONSISTENCY = 0x02;

export const SIZE_OF_XLOG_RECORD = 24;

/** One block reference (DecodedBkpBlock). Offsets are into the record's `bytes`. */
export class BlockRef {
  /** Where the image and the data lie in the record's bytes: set once the headers have all been read. */
  imageOffset = 0;
  dataOffset = 0;

  constructor(
    readonly id: number,
    /** fork_flags as stored: fork number in the low nibble, BKPBLOCK_* above. */
    readonly flags: number,
    readonly locator: RelFileLocator,
    readonly blockNumber: number,
    /** bimg_info; 0 without an image. */
    readonly bimgInfo: number,
    /** Stored image length (bimg_len), compressed or not. */
    readonly imageLength: number,
    readonly holeOffset: number,
    readonly holeLength: number,
    readonly dataLength: number,
  ) {}

  // Derived from the flags on the prototype: fewer fields per reference (most records have one, made per record).
  get forkNumber(): number {
    return this.flags & BKPBLOCK_FORK_MASK;
  }

  get hasImage(): boolean {
    return (this.flags & BKPBLOCK_HAS_IMAGE) !== 0;
  }

  /** BKPIMAGE_APPLY: the image is restored during redo. */
  get applyImage(): boolean {
    return (this.flags & BKPBLOCK_HAS_IMAGE) !== 0 && (this.bimgInfo & BKPIMAGE_APPLY) !== 0;
  }

  get hasData(): boolean {
    return (this.flags & BKPBLOCK_HAS_DATA) !== 0;
  }
}

/** Shared by every record without block references, so they allocate no array. */
const NO_BLOCKS: readonly (BlockRef | undefined)[] = Object.freeze([]);

/** Builds a record's block references from its validated headers; set by decode-record.ts (no import cycle). */
let blockDecoder: ((rec: DecodedRecord) => (BlockRef | undefined)[]) | undefined;
export function setBlockDecoder(fn: (rec: DecodedRecord) => (BlockRef | undefined)[]): void {
  blockDecoder = fn;
}

export class DecodedRecord {
  /** ReadRecPtr: where the record starts. */
  lsn: Lsn = 0;
  /** EndRecPtr: the first byte after it (before alignment). */
  endLsn: Lsn = 0;
  totalLength = 0;
  xid = 0;
  info = 0;
  rmid = 0;
  /**
   * The record is `totalLength` bytes of `source` from `sourceOffset`: a page (or window) it lies in, or a
   * reassembled copy. `bytes` is cut from it on first use, as most records are never looked at that closely;
   * hot paths read the source by offset instead.
   */
  readonly source: Uint8Array;
  readonly sourceOffset: number;
  private cut: Uint8Array | undefined;
  private dataView: DataView | undefined;
  /** Replication origin (XLR_BLOCK_ID_ORIGIN), 0 = InvalidRepOriginId. */
  origin = 0;
  /** Top-level xid of a subtransaction (XLR_BLOCK_ID_TOPLEVEL_XID), 0 = none. */
  toplevelXid = 0;
  mainDataOffset = 0;
  mainDataLength = 0;
  /** Highest block id in use, -1 when there are none. */
  maxBlockId = -1;
  /** Sum of the stored image lengths of the block references (XLogRecGetLen's fpi_len). */
  fpiLength = 0;
  /** The timeline the record was read from. */
  timeline = 0;
  private blockRefs: readonly (BlockRef | undefined)[] | undefined;

  /** The record is `bytes` (or `length` bytes of it from `offset`). */
  constructor(bytes: Uint8Array, offset = 0, length = bytes.length - offset) {
    this.source = bytes;
    this.sourceOffset = offset;
    this.totalLength = length;
  }

  /**
   * The reader's, when it reuses its buffers: this object becomes the next record (every field as a new record's),
   * sparing an allocation per record. Field order as in the declarations, so the object keeps its shape.
   */
  reuseFor(bytes: Uint8Array, offset: number, length: number): this {
    this.lsn = 0;
    this.endLsn = 0;
    this.totalLength = length;
    this.xid = 0;
    this.info = 0;
    this.rmid = 0;
    (this as { source: Uint8Array }).source = bytes;
    (this as { sourceOffset: number }).sourceOffset = offset;
    this.cut = undefined;
    this.dataView = undefined;
    this.origin = 0;
    this.toplevelXid = 0;
    this.mainDataOffset = 0;
    this.mainDataLength = 0;
    this.maxBlockId = -1;
    this.fpiLength = 0;
    this.timeline = 0;
    this.blockRefs = undefined;
    return this;
  }

  // Read from the header, not kept: a field each, boxed as a heap number, for every record read.
  /** xl_prev. */
  get prevLsn(): Lsn {
    const b = this.source;
    const at = this.sourceOffset + 8;
    return (b[at + 4]! | (b[at + 5]! << 8) | (b[at + 6]! << 16)) * 0x1_0000_0000 + b[at + 7]! * 0x100_0000_0000_0000 + ((b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16)) + b[at + 3]! * 0x100_0000);
  }

  /** xl_crc as stored. */
  get crc(): number {
    const b = this.source;
    const at = this.sourceOffset + 20;
    return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16)) + b[at + 3]! * 0x100_0000;
  }

  /** The whole record, header included: a view into a page when it fits in one, else a reassembled copy. */
  get bytes(): Uint8Array {
    const n = this.totalLength;
    return (this.cut ??= this.sourceOffset === 0 && n === this.source.length ? this.source : this.source.subarray(this.sourceOffset, this.sourceOffset + n));
  }

  /** A DataView over `bytes`, made on first use (most records are never looked at this closely). */
  get view(): DataView {
    const b = this.bytes;
    return (this.dataView ??= new DataView(b.buffer, b.byteOffset, b.byteLength));
  }

  /** Indexed by block id; undefined where the record has no reference with that id. Decoded on first use. */
  get blocks(): readonly (BlockRef | undefined)[] {
    return (this.blockRefs ??= this.maxBlockId < 0 || blockDecoder === undefined ? NO_BLOCKS : blockDecoder(this));
  }

  set blocks(value: readonly (BlockRef | undefined)[]) {
    this.blockRefs = value;
  }

  /** XLogRecHasBlockRef. */
  hasBlockRef(id: number): boolean {
    return this.blocks[id] !== undefined;
  }

  /** XLogRecGetBlock: the reference with this id, or undefined. */
  block(id: number): BlockRef | undefined {
    return this.blocks[id];
  }

  /** XLogRecGetBlockData: the block's rmgr data, or undefined when it has none. */
  blockData(id: number): Uint8Array | undefined {
    const b = this.blocks[id];
    if (b === undefined || !b.hasData) return undefined;
    return this.bytes.subarray(b.dataOffset, b.dataOffset + b.dataLength);
  }

  /** XLogRecGetData. */
  mainData(): Uint8Array {
    return this.bytes.subarray(this.mainDataOffset, this.mainDataOffset + this.mainDataLength);
  }

  /** XLogRecGetInfo & ~XLR_INFO_MASK. */
  get rmgrInfo(): number {
    return this.info & XLR_RMGR_INFO_MASK;
  }

  /** XLogRecBlockImageApply. */
  blockImageApply(id: number): boolean {
    return this.blocks[id]?.applyImage === true;
  }
}
