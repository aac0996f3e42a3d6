// Record text as PostgreSQL's tools print it: pg_walinspect's columns and pg_waldump's lines.
import { WalError, WalFormatError } from '../errors.js';
import { formatLsn, formatLsnPadded } from '../lsn.js';
import { imageCompression } from './fpi.js';
import { toHex } from './hex.js';
import { FORK_NAMES, MAIN_FORKNUM, XLR_INFO_MASK, type DecodedRecord } from './record.js';
import { rmgrById } from './rmgr.js';
import type { DescribeContext } from './rmgrdesc/types.js';

const BLCKSZ = 8192;

/**
 * rm_desc, made safe: a payload that does not parse (hostile or corrupt WAL whose CRC still matched) gives a
 * typed error naming the record, never a RangeError from deep inside a parser.
 */
export function describeRecord(rec: DecodedRecord, ctx: DescribeContext): string {
  const rmgr = rmgrById(rec.rmid);
  try {
    return rmgr.describe(rec, ctx);
  } catch (e) {
    if (e instanceof WalError) throw e;
    // A DataView read past the end: the payload is shorter than this record type needs.
    const why =
      e instanceof RangeError && /bounds|offset/i.test(e.message)
        ? `its payload (main data ${rec.mainDataLength} bytes) is shorter than a ${recordType(rec, ctx)} record needs`
        : (e as Error).message;
    throw new WalFormatError('invalid-payload', `could not describe ${rmgr.name} record at ${formatLsn(rec.lsn)}: ${why}`, { lsn: rec.lsn, cause: e });
  }
}

/** rm_identify, or `UNKNOWN (%x)` of the rmgr bits as both tools print it. */
export function recordType(rec: DecodedRecord, ctx: DescribeContext): string {
  return rmgrById(rec.rmid).identify(rec.info, ctx.profile) ?? `UNKNOWN (${(rec.info & ~XLR_INFO_MASK).toString(16)})`;
}

/** Sum of the stored image lengths (XLogRecGetLen's fpi_len). */
export function fpiLength(rec: DecodedRecord): number {
  let n = 0;
  for (let id = 0; id <= rec.maxBlockId; id++) {
    const b = rec.blocks[id];
    if (b !== undefined && b.hasImage) n += b.imageLength;
  }
  return n;
}

export function hasAnyBlockRefs(rec: DecodedRecord): boolean {
  return rec.maxBlockId >= 0;
}

/**
 * XLogRecGetBlockRefInfo (xlogdesc.c). `detailed` is pg_waldump -b and pg_walinspect's format; `pretty`
 * puts each reference on its own line for pg_waldump.
 */
export function blockRefInfo(rec: DecodedRecord, pretty: boolean, detailed: boolean): string {
  let s = detailed && pretty ? '\n' : '';
  for (let id = 0; id <= rec.maxBlockId; id++) {
    const b = rec.blocks[id];
    if (b === undefined) continue;
    const loc = `${b.locator.spcOid}/${b.locator.dbOid}/${b.locator.relNumber}`;
    const fork = FORK_NAMES[b.forkNumber] ?? String(b.forkNumber);
    if (detailed) {
      if (pretty) s += '\t';
      else if (id > 0) s += ' ';
      s += `blkref #${id}: rel ${loc} fork ${fork} blk ${b.blockNumber}`;
      if (b.hasImage) {
        const verify = b.applyImage ? '' : ' for WAL verification';
        const method = imageCompression(b.bimgInfo);
        s +=
          method === undefined
            ? ` (FPW${verify}); hole: offset: ${b.holeOffset}, length: ${b.holeLength}`
            : ` (FPW${verify}); hole: offset: ${b.holeOffset}, length: ${b.holeLength}, compression saved: ${BLCKSZ - b.holeLength - b.imageLength}, method: ${method}`;
      }
      if (pretty) s += '\n';
    } else {
      s +=
        b.forkNumber !== MAIN_FORKNUM
          ? `, blkref #${id}: rel ${loc} fork ${fork} blk ${b.blockNumber}`
          : `, blkref #${id}: rel ${loc} blk ${b.blockNumber}`;
      if (b.hasImage) s += b.applyImage ? ' FPW' : ' FPW for WAL verification';
    }
  }
  if (!detailed && pretty) s += '\n';
  return s;
}

/** One row of pg_get_wal_records_info, every column as the server's text output (null for SQL NULL). */
export interface WalRecordRow {
  start_lsn: string;
  end_lsn: string;
  prev_lsn: string;
  xid: string;
  resource_manager: string;
  record_type: string;
  record_length: string;
  main_data_length: string;
  fpi_length: string;
  description: string | null;
  block_ref: string | null;
}

// see GetWALRecordInfo (pg_walinspect.c): 15 prints empty strings where 16+ prints NULL.
export function walinspectRow(rec: DecodedRecord, ctx: DescribeContext): WalRecordRow {
  const rmgr = rmgrById(rec.rmid);
  const desc = describeRecord(rec, ctx);
  const legacy = ctx.profile.major <= 15;
  const refs = hasAnyBlockRefs(rec) ? blockRefInfo(rec, false, true) : legacy ? '' : null;
  return {
    start_lsn: formatLsn(rec.lsn),
    end_lsn: formatLsn(rec.endLsn),
    prev_lsn: formatLsn(rec.prevLsn),
    xid: String(rec.xid),
    resource_manager: rmgr.name,
    record_type: recordType(rec, ctx),
    record_length: String(rec.totalLength),
    main_data_length: String(rec.mainDataLength),
    fpi_length: String(fpiLength(rec)),
    description: desc.length > 0 || legacy ? desc : null,
    block_ref: refs,
  };
}

const lsnPadded = formatLsnPadded;

// see XLogDumpDisplayRecord (pg_waldump.c)
export function waldumpLine(rec: DecodedRecord, ctx: DescribeContext, bkpDetails: boolean): string {
  const rmgr = rmgrById(rec.rmid);
  const fpi = fpiLength(rec);
  const id = rmgr.identify(rec.info, ctx.profile);
  let s =
    `rmgr: ${rmgr.name.padEnd(11)} len (rec/tot): ${String(rec.totalLength - fpi).padStart(6)}/${String(rec.totalLength).padStart(6)}, ` +
    `tx: ${String(rec.xid).padStart(10)}, lsn: ${lsnPadded(rec.lsn)}, prev ${lsnPadded(rec.prevLsn)}, `;
  s += id === undefined ? `desc: UNKNOWN (${(rec.info & ~XLR_INFO_MASK).toString(16)}) ` : `desc: ${id} `;
  s += describeRecord(rec, ctx);
  s += blockRefInfo(rec, true, bkpDetails);
  return s;
}

/** pg_get_wal_block_info's columns for each block reference of a record (16+), as text; data in `\x` hex. */
// see GetWALBlockInfo (pg_walinspect.c)
export function walinspectBlockRows(rec: DecodedRecord, ctx: DescribeContext, restore: (rec: DecodedRecord, id: number) => Uint8Array): (string | null)[][] {
  const rmgr = rmgrById(rec.rmid);
  const desc = describeRecord(rec, ctx);
  const type = recordType(rec, ctx);
  const hex = (b: Uint8Array): string => `\\x${toHex(b)}`;
  const rows: (string | null)[][] = [];
  for (let id = 0; id <= rec.maxBlockId; id++) {
    const b = rec.blocks[id];
    if (b === undefined) continue;
    let info: string | null = null;
    if (b.hasImage) {
      const flags: string[] = [];
      if (b.bimgInfo & 0x01) flags.push('HAS_HOLE');
      if (b.applyImage) flags.push('APPLY');
      if (b.bimgInfo & 0x04) flags.push('COMPRESS_PGLZ');
      if (b.bimgInfo & 0x08) flags.push('COMPRESS_LZ4');
      if (b.bimgInfo & 0x10) flags.push('COMPRESS_ZSTD');
      info = `{${flags.join(',')}}`;
    }
    const data = rec.blockData(id);
    rows.push([
      formatLsn(rec.lsn),
      formatLsn(rec.endLsn),
      formatLsn(rec.prevLsn),
      String(id),
      String(b.locator.spcOid),
      String(b.locator.dbOid),
      String(b.locator.relNumber),
      String(b.forkNumber),
      String(b.blockNumber),
      String(rec.xid),
      rmgr.name,
      type,
      String(rec.totalLength),
      String(rec.mainDataLength),
      String(b.hasData ? b.dataLength : 0),
      String(b.hasImage ? b.imageLength : 0),
      info,
      desc.length > 0 ? desc : null,
      data === undefined ? null : hex(data),
      b.hasImage ? hex(restore(rec, id)) : null,
    ]);
  }
  return rows;
}

export const WALINSPECT_BLOCK_COLUMNS = [
  'start_lsn', 'end_lsn', 'prev_lsn', 'block_id', 'reltablespace', 'reldatabase', 'relfilenode', 'relforknumber',
  'relblocknumber', 'xid', 'resource_manager', 'record_type', 'record_length', 'main_data_length', 'block_data_length',
  'block_fpi_length', 'block_fpi_info', 'description', 'block_data', 'block_fpi_data',
] as const;
