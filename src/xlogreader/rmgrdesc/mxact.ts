// MultiXact rmgr (id 6): offset/member page zeroing, multixact creation and truncation.
import type { DecodedRecord } from '../record.js';
import { readSlruPageNo } from './clog.js';
import type { RmgrDescriptor } from './types.js';

export const XLOG_MULTIXACT_ZERO_OFF_PAGE = 0x00;
export const XLOG_MULTIXACT_ZERO_MEM_PAGE = 0x10;
export const XLOG_MULTIXACT_CREATE_ID = 0x20;
export const XLOG_MULTIXACT_TRUNCATE_ID = 0x30;

/** MultiXactStatus values, in enum order (multixact.h). */
export const MULTIXACT_STATUS_NAMES = ['keysh', 'sh', 'fornokeyupd', 'forupd', 'nokeyupd', 'upd'] as const;

/** MultiXactMember. */
export interface MultiXactMember {
  xid: number;
  status: number;
}

/** xl_multixact_create. */
export interface MultiXactCreate {
  mid: number;
  moff: number;
  members: MultiXactMember[];
}

export function parseMultiXactCreate(rec: DecodedRecord): MultiXactCreate {
  const v = rec.view;
  const b = rec.mainDataOffset;
  const n = v.getInt32(b + 8, true);
  const members: MultiXactMember[] = [];
  for (let i = 0; i < n; i++) members.push({ xid: v.getUint32(b + 12 + 8 * i, true), status: v.getInt32(b + 16 + 8 * i, true) });
  return { mid: v.getUint32(b, true), moff: v.getUint32(b + 4, true), members };
}

/** xl_multixact_truncate. */
export interface MultiXactTruncate {
  oldestMultiDb: number;
  startTruncOff: number;
  endTruncOff: number;
  startTruncMemb: number;
  endTruncMemb: number;
}

export function parseMultiXactTruncate(rec: DecodedRecord): MultiXactTruncate {
  const v = rec.view;
  const b = rec.mainDataOffset;
  return {
    oldestMultiDb: v.getUint32(b, true),
    startTruncOff: v.getUint32(b + 4, true),
    endTruncOff: v.getUint32(b + 8, true),
    startTruncMemb: v.getUint32(b + 12, true),
    endTruncMemb: v.getUint32(b + 16, true),
  };
}

const NAMES: Record<number, string> = {
  [XLOG_MULTIXACT_ZERO_OFF_PAGE]: 'ZERO_OFF_PAGE',
  [XLOG_MULTIXACT_ZERO_MEM_PAGE]: 'ZERO_MEM_PAGE',
  [XLOG_MULTIXACT_CREATE_ID]: 'CREATE_ID',
  [XLOG_MULTIXACT_TRUNCATE_ID]: 'TRUNCATE_ID',
};

export const multixactRmgr: RmgrDescriptor = {
  id: 6,
  name: 'MultiXact',
  identify: (info) => NAMES[info & 0xf0],
  // see multixact_desc and out_member (mxactdesc.c)
  describe(rec, ctx) {
    switch (rec.info & 0xf0) {
      case XLOG_MULTIXACT_ZERO_OFF_PAGE:
      case XLOG_MULTIXACT_ZERO_MEM_PAGE:
        return String(readSlruPageNo(rec.view, rec.mainDataOffset, ctx.profile.major));
      case XLOG_MULTIXACT_CREATE_ID: {
        const c = parseMultiXactCreate(rec);
        let s = `${c.mid} offset ${c.moff} nmembers ${c.members.length}: `;
        for (const m of c.members) s += `${m.xid} (${MULTIXACT_STATUS_NAMES[m.status] ?? 'unk'}) `;
        return s;
      }
      case XLOG_MULTIXACT_TRUNCATE_ID: {
        const t = parseMultiXactTruncate(rec);
        return `offsets [${t.startTruncOff}, ${t.endTruncOff}), members [${t.startTruncMemb}, ${t.endTruncMemb})`;
      }
      default:
        return '';
    }
  },
};
