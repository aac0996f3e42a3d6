// CommitTs rmgr (id 18): commit timestamp page zeroing and truncation. Page numbers became 64-bit in 17.
import type { DecodedRecord } from '../record.js';
import type { Major } from '../profile.js';
import { readSlruPageNo } from './clog.js';
import type { RmgrDescriptor } from './types.js';

export const COMMIT_TS_ZEROPAGE = 0x00;
export const COMMIT_TS_TRUNCATE = 0x10;

/** xl_commit_ts_truncate. */
export interface CommitTsTruncate {
  pageNo: number;
  oldestXid: number;
}

export function parseCommitTsTruncate(rec: DecodedRecord, major: Major): CommitTsTruncate {
  const b = rec.mainDataOffset;
  return { pageNo: readSlruPageNo(rec.view, b, major), oldestXid: rec.view.getUint32(b + (major >= 17 ? 8 : 4), true) };
}

export const commitTsRmgr: RmgrDescriptor = {
  id: 18,
  name: 'CommitTs',
  // see commit_ts_identify (committsdesc.c): it compares the whole xl_info, unmasked.
  identify: (info) => (info === COMMIT_TS_ZEROPAGE ? 'ZEROPAGE' : info === COMMIT_TS_TRUNCATE ? 'TRUNCATE' : undefined),
  // see commit_ts_desc (committsdesc.c)
  describe(rec, ctx) {
    const op = rec.info & 0xf0;
    const major = ctx.profile.major;
    if (op === COMMIT_TS_ZEROPAGE) return String(readSlruPageNo(rec.view, rec.mainDataOffset, major));
    if (op === COMMIT_TS_TRUNCATE) {
      const t = parseCommitTsTruncate(rec, major);
      return `pageno ${t.pageNo}, oldestXid ${t.oldestXid}`;
    }
    return '';
  },
};
