// Tablespace rmgr (id 5): CREATE and DROP TABLESPACE.
import type { DecodedRecord } from '../record.js';
import type { RmgrDescriptor } from './types.js';

export const XLOG_TBLSPC_CREATE = 0x00;
export const XLOG_TBLSPC_DROP = 0x10;

/** xl_tblspc_create_rec: the oid and the NUL-terminated location. */
export interface TblspcCreate {
  tablespaceId: number;
  path: string;
}

const decoder = new TextDecoder();

export function parseTblspcCreate(rec: DecodedRecord): TblspcCreate {
  const b = rec.mainDataOffset;
  const end = b + rec.mainDataLength;
  let nul = b + 4;
  while (nul < end && rec.bytes[nul] !== 0) nul++;
  return { tablespaceId: rec.view.getUint32(b, true), path: decoder.decode(rec.bytes.subarray(b + 4, nul)) };
}

export const tblspcRmgr: RmgrDescriptor = {
  id: 5,
  name: 'Tablespace',
  identify(info) {
    const op = info & 0xf0;
    return op === XLOG_TBLSPC_CREATE ? 'CREATE' : op === XLOG_TBLSPC_DROP ? 'DROP' : undefined;
  },
  // see tblspc_desc (tblspcdesc.c)
  describe(rec) {
    const op = rec.info & 0xf0;
    if (op === XLOG_TBLSPC_CREATE) {
      const c = parseTblspcCreate(rec);
      return `${c.tablespaceId} "${c.path}"`;
    }
    if (op === XLOG_TBLSPC_DROP) return String(rec.view.getUint32(rec.mainDataOffset, true));
    return '';
  },
};
