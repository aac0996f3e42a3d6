// Generic rmgr (id 20): generic WAL (extensions such as bloom). Its page deltas live in block data;
// the description walks the main data the same way (offset, length, bytes) as PostgreSQL does.
import type { RmgrDescriptor } from './types.js';

export const genericRmgr: RmgrDescriptor = {
  id: 20,
  name: 'Generic',
  // see generic_identify (genericdesc.c): one name for every record.
  identify: () => 'Generic',
  // see generic_desc (genericdesc.c)
  describe(rec) {
    const v = rec.view;
    const end = rec.mainDataOffset + rec.mainDataLength;
    const parts: string[] = [];
    for (let at = rec.mainDataOffset; at < end; ) {
      const offset = v.getUint16(at, true);
      const length = v.getUint16(at + 2, true);
      at += 4 + length;
      parts.push(`offset ${offset}, length ${length}`);
    }
    return parts.join('; ');
  },
};
