// Sequence rmgr (id 15): sequence tuple logging (nextval, setval, creation).
import type { DecodedRecord, RelFileLocator } from '../record.js';
import type { RmgrDescriptor } from './types.js';
import { readRelFileLocator } from './utils.js';

export const XLOG_SEQ_LOG = 0x00;

/** xl_seq_rec: the sequence's locator; the tuple follows as block 0's data. */
export function parseSeqRecord(rec: DecodedRecord): { locator: RelFileLocator } {
  return { locator: readRelFileLocator(rec.view, rec.mainDataOffset) };
}

export const seqRmgr: RmgrDescriptor = {
  id: 15,
  name: 'Sequence',
  identify: (info) => ((info & 0xf0) === XLOG_SEQ_LOG ? 'LOG' : undefined),
  // see seq_desc (seqdesc.c)
  describe(rec) {
    if ((rec.info & 0xf0) !== XLOG_SEQ_LOG) return '';
    const { locator: l } = parseSeqRecord(rec);
    return `rel ${l.spcOid}/${l.dbOid}/${l.relNumber}`;
  },
};
