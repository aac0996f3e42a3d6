// xlogreader: WAL pages in, validated records out; descriptions as pg_waldump / pg_walinspect print them.
export * from './reader.js';
// record.ts less setBlockDecoder (decode-record.ts installs the block decoder: internal wiring)
export {
  MAIN_FORKNUM,
  FSM_FORKNUM,
  VISIBILITYMAP_FORKNUM,
  INIT_FORKNUM,
  FORK_NAMES,
  BKPBLOCK_FORK_MASK,
  BKPBLOCK_HAS_IMAGE,
  BKPBLOCK_HAS_DATA,
  BKPBLOCK_WILL_INIT,
  BKPBLOCK_SAME_REL,
  BKPIMAGE_HAS_HOLE,
  BKPIMAGE_APPLY,
  BKPIMAGE_COMPRESS_PGLZ,
  BKPIMAGE_COMPRESS_LZ4,
  BKPIMAGE_COMPRESS_ZSTD,
  BKPIMAGE_COMPRESSED,
  XLR_INFO_MASK,
  XLR_RMGR_INFO_MASK,
  XLR_SPECIAL_REL_UPDATE,
  XLR_CHECK_CONSISTENCY,
  SIZE_OF_XLOG_RECORD,
  BlockRef,
  DecodedRecord,
  type RelFileLocator,
} from './record.js';
export * from './profile.js';
export * from './source.js';
export * from './fpi.js';
export * from './describe.js';
export { WalStats, walinspectStatsRows, waldumpStatsText, type StatCounts } from './stats.js';
export * from './rmgr.js';
export * from './memory.js';
export { formatTimestampBackend, formatTimestampFrontend, walinspectContext, waldumpContext } from './timestamp.js';
export type { DescribeContext, RmgrDescriptor } from './rmgrdesc/types.js';
export * from './rmgrdesc/heap.js';
export * from './rmgrdesc/xact.js';
export * from './rmgrdesc/standby.js';
export * from './rmgrdesc/xlog.js';
export * from './rmgrdesc/logicalmsg.js';
