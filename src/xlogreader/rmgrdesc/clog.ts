// CLOG rmgr (id 3): commit-log page zeroing and truncation. Page numbers became 64-bit in 17.
import type { DecodedRecord } from '../record.js';
import type { Major } from '../profile.js';
import type { RmgrDescriptor } from './types.js';

export const CLOG_ZEROPAGE = 0x00;
export const CLOG_TRUNCATE = 0x10;

/** An SLRU page number: int before 17, int64 from 17 (a number: it stays far below 2^53). */
export function readSlruPageNo(view: DataView, at: number, major: Major): number {
  return major >= 17 ? Number(view.getBigInt64(at, true)) : view.getInt32(at, true);
}

/** xl_clog_truncate. */
export interface ClogTruncate {
  pageNo: number;
  oldestXact: number;
  oldestXactDb: number;
}

export function parseClogTruncate(rec: DecodedRecord, major: Major): ClogTruncate {
  const b = rec.mainDataOffset;
  const at = major >= 17 ? b + 8 : b + 4;
  return {
    pageNo: readSlruPageNo(rec.view, b, major),
    oldestXact: rec.view.getUint32(at, true),
    oldestXactDb: rec.view.getUint32(at + 4, true),
  };
}

export const clogRmgr: RmgrDescriptor = {
  id: 3,
  name: 'CLOG',
  identify(info) {
    const op = info & 0xf0;
    return op === CLOG_ZEROPAGE ? 'ZEROPAGE' : op === CLOG_TRUNCATE ? 'TRUNCATE' : undefined;
  },
  // see clog_desc (clogdesc.c)
  describe(rec, ctx) {
    const op = rec.info & 0xf0;
    const major = ctx.profile.major;
    if (op === CLOG_ZEROPAGE) return `page ${readSlruPageNo(rec.view, rec.mainDataOffset, major)}`;
    if (op === CLOG_TRUNCATE) {
      const t = parseClogTruncate(rec, major);
      return `page ${t.pageNo}; oldestXact ${t.oldestXact}`;
    }
    return '';
  },
};
