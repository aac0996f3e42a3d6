// RelMap rmgr (id 7): relation mapper file updates.
import type { DecodedRecord } from '../record.js';
import type { RmgrDescriptor } from './types.js';

export const XLOG_RELMAP_UPDATE = 0x00;

/** xl_relmap_update; the new map file (nbytes) follows at `dataOffset` in `rec.bytes`. */
export interface RelmapUpdate {
  dbId: number;
  tsId: number;
  nbytes: number;
  dataOffset: number;
}

export function parseRelmapUpdate(rec: DecodedRecord): RelmapUpdate {
  const v = rec.view;
  const b = rec.mainDataOffset;
  return { dbId: v.getUint32(b, true), tsId: v.getUint32(b + 4, true), nbytes: v.getInt32(b + 8, true), dataOffset: b + 12 };
}

export const relmapRmgr: RmgrDescriptor = {
  id: 7,
  name: 'RelMap',
  identify: (info) => ((info & 0xf0) === XLOG_RELMAP_UPDATE ? 'UPDATE' : undefined),
  // see relmap_desc (relmapdesc.c)
  describe(rec) {
    if ((rec.info & 0xf0) !== XLOG_RELMAP_UPDATE) return '';
    const u = parseRelmapUpdate(rec);
    return `database ${u.dbId} tablespace ${u.tsId} size ${u.nbytes}`;
  },
};
