// Storage rmgr (id 2): relation file creation and truncation.
import type { DecodedRecord, RelFileLocator } from '../record.js';
import type { RmgrDescriptor } from './types.js';
import { readRelFileLocator, relPathPerm } from './utils.js';

export const XLOG_SMGR_CREATE = 0x10;
export const XLOG_SMGR_TRUNCATE = 0x20;

/** xl_smgr_create. */
export interface SmgrCreate {
  locator: RelFileLocator;
  forkNumber: number;
}

export function parseSmgrCreate(rec: DecodedRecord): SmgrCreate {
  const b = rec.mainDataOffset;
  return { locator: readRelFileLocator(rec.view, b), forkNumber: rec.view.getInt32(b + 12, true) };
}

/** xl_smgr_truncate; `flags` holds SMGR_TRUNCATE_HEAP/VM/FSM. */
export interface SmgrTruncate {
  blockNumber: number;
  locator: RelFileLocator;
  flags: number;
}

export function parseSmgrTruncate(rec: DecodedRecord): SmgrTruncate {
  const b = rec.mainDataOffset;
  return {
    blockNumber: rec.view.getUint32(b, true),
    locator: readRelFileLocator(rec.view, b + 4),
    flags: rec.view.getInt32(b + 16, true),
  };
}

export const smgrRmgr: RmgrDescriptor = {
  id: 2,
  name: 'Storage',
  identify(info) {
    const op = info & 0xf0;
    return op === XLOG_SMGR_CREATE ? 'CREATE' : op === XLOG_SMGR_TRUNCATE ? 'TRUNCATE' : undefined;
  },
  // see smgr_desc (smgrdesc.c)
  describe(rec, ctx) {
    const op = rec.info & 0xf0;
    const major = ctx.profile.major;
    if (op === XLOG_SMGR_CREATE) {
      const c = parseSmgrCreate(rec);
      return relPathPerm(c.locator, c.forkNumber, major);
    }
    if (op === XLOG_SMGR_TRUNCATE) {
      const t = parseSmgrTruncate(rec);
      return `${relPathPerm(t.locator, 0, major)} to ${t.blockNumber} blocks flags ${t.flags}`;
    }
    return '';
  },
};
