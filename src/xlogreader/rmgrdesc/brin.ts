// BRIN resource manager (id 17): rm_identify and rm_desc of brin_xlog.h records. The text is the same in 15–18.
import type { DecodedRecord } from '../record.js';
import type { RmgrDescriptor } from './types.js';
import { viewOf } from './utils.js';

export const RM_BRIN_ID = 17;

export const XLOG_BRIN_CREATE_INDEX = 0x00;
export const XLOG_BRIN_INSERT = 0x10;
export const XLOG_BRIN_UPDATE = 0x20;
export const XLOG_BRIN_SAMEPAGE_UPDATE = 0x30;
export const XLOG_BRIN_REVMAP_EXTEND = 0x40;
export const XLOG_BRIN_DESUMMARIZE = 0x50;
export const XLOG_BRIN_OPMASK = 0x70;
/** Set on INSERT and UPDATE when the target page is (re)initialized. */
export const XLOG_BRIN_INIT_PAGE = 0x80;

// brin_identify names the INIT_PAGE variants only for INSERT and UPDATE; any other combination is unknown.
const NAMES: Record<number, string> = {
  [XLOG_BRIN_CREATE_INDEX]: 'CREATE_INDEX',
  [XLOG_BRIN_INSERT]: 'INSERT',
  [XLOG_BRIN_INSERT | XLOG_BRIN_INIT_PAGE]: 'INSERT+INIT',
  [XLOG_BRIN_UPDATE]: 'UPDATE',
  [XLOG_BRIN_UPDATE | XLOG_BRIN_INIT_PAGE]: 'UPDATE+INIT',
  [XLOG_BRIN_SAMEPAGE_UPDATE]: 'SAMEPAGE_UPDATE',
  [XLOG_BRIN_REVMAP_EXTEND]: 'REVMAP_EXTEND',
  [XLOG_BRIN_DESUMMARIZE]: 'DESUMMARIZE',
};

// see brin_desc (brindesc.c): the INIT_PAGE bit is masked off before choosing the text.
function describeBrin(rec: DecodedRecord): string {
  const v = viewOf(rec.mainData());
  const u32 = (at: number): number => v.getUint32(at, true);
  const u16 = (at: number): number => v.getUint16(at, true);
  switch (rec.rmgrInfo & XLOG_BRIN_OPMASK) {
    case XLOG_BRIN_CREATE_INDEX:
      // xl_brin_createidx: pagesPerRange @0, version u16 @4
      return `v${u16(4)} pagesPerRange ${u32(0)}`;
    case XLOG_BRIN_INSERT:
      // xl_brin_insert: heapBlk @0, pagesPerRange @4, offnum @8
      return `heapBlk ${u32(0)} pagesPerRange ${u32(4)} offnum ${u16(8)}`;
    case XLOG_BRIN_UPDATE:
      // xl_brin_update: oldOffnum @0, then an xl_brin_insert @4
      return `heapBlk ${u32(4)} pagesPerRange ${u32(8)} old offnum ${u16(0)}, new offnum ${u16(12)}`;
    case XLOG_BRIN_SAMEPAGE_UPDATE:
      return `offnum ${u16(0)}`;
    case XLOG_BRIN_REVMAP_EXTEND:
      return `targetBlk ${u32(0)}`;
    case XLOG_BRIN_DESUMMARIZE:
      // xl_brin_desummarize: pagesPerRange @0, heapBlk @4, regOffset @8
      return `pagesPerRange ${u32(0)}, heapBlk ${u32(4)}, page offset ${u16(8)}`;
    default:
      return '';
  }
}

export const brinRmgr: RmgrDescriptor = {
  id: RM_BRIN_ID,
  name: 'BRIN',
  identify: (info) => NAMES[info & 0xf0],
  describe: (rec) => describeBrin(rec),
};
