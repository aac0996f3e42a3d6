// ReplicationOrigin rmgr (id 19): origin progress (SET) and removal (DROP).
import type { DecodedRecord } from '../record.js';
import { formatLsn, lsnFromParts, type Lsn } from '../../lsn.js';
import type { RmgrDescriptor } from './types.js';

export const XLOG_REPLORIGIN_SET = 0x00;
export const XLOG_REPLORIGIN_DROP = 0x10;

/** xl_replorigin_set. */
export interface ReplOriginSet {
  remoteLsn: Lsn;
  nodeId: number;
  force: boolean;
}

export function parseReplOriginSet(rec: DecodedRecord): ReplOriginSet {
  const v = rec.view;
  const b = rec.mainDataOffset;
  return { remoteLsn: lsnFromParts(v.getUint32(b + 4, true), v.getUint32(b, true)), nodeId: v.getUint16(b + 8, true), force: v.getUint8(b + 10) !== 0 };
}

/** xl_replorigin_drop: the RepOriginId. */
export function parseReplOriginDrop(rec: DecodedRecord): { nodeId: number } {
  return { nodeId: rec.view.getUint16(rec.mainDataOffset, true) };
}

export const replOriginRmgr: RmgrDescriptor = {
  id: 19,
  name: 'ReplicationOrigin',
  // see replorigin_identify (replorigindesc.c): it compares the whole xl_info, unmasked.
  identify: (info) => (info === XLOG_REPLORIGIN_SET ? 'SET' : info === XLOG_REPLORIGIN_DROP ? 'DROP' : undefined),
  // see replorigin_desc (replorigindesc.c)
  describe(rec) {
    const op = rec.info & 0xf0;
    if (op === XLOG_REPLORIGIN_SET) {
      const s = parseReplOriginSet(rec);
      // `force` is a bool printed with %d.
      return `set ${s.nodeId}; lsn ${formatLsn(s.remoteLsn)}; force: ${rec.view.getUint8(rec.mainDataOffset + 10)}`;
    }
    if (op === XLOG_REPLORIGIN_DROP) return `drop ${parseReplOriginDrop(rec).nodeId}`;
    return '';
  },
};
