// Database rmgr (id 4): CREATE DATABASE (file copy or WAL-logged strategy) and DROP DATABASE.
import type { DecodedRecord } from '../record.js';
import type { RmgrDescriptor } from './types.js';

export const XLOG_DBASE_CREATE_FILE_COPY = 0x00;
export const XLOG_DBASE_CREATE_WAL_LOG = 0x10;
export const XLOG_DBASE_DROP = 0x20;

/** xl_dbase_create_file_copy_rec. */
export interface DbaseCreateFileCopy {
  dbId: number;
  tablespaceId: number;
  srcDbId: number;
  srcTablespaceId: number;
}

export function parseDbaseCreateFileCopy(rec: DecodedRecord): DbaseCreateFileCopy {
  const v = rec.view;
  const b = rec.mainDataOffset;
  return {
    dbId: v.getUint32(b, true),
    tablespaceId: v.getUint32(b + 4, true),
    srcDbId: v.getUint32(b + 8, true),
    srcTablespaceId: v.getUint32(b + 12, true),
  };
}

/** xl_dbase_create_wal_log_rec. */
export interface DbaseCreateWalLog {
  dbId: number;
  tablespaceId: number;
}

export function parseDbaseCreateWalLog(rec: DecodedRecord): DbaseCreateWalLog {
  const b = rec.mainDataOffset;
  return { dbId: rec.view.getUint32(b, true), tablespaceId: rec.view.getUint32(b + 4, true) };
}

/** xl_dbase_drop_rec. */
export interface DbaseDrop {
  dbId: number;
  tablespaceIds: number[];
}

export function parseDbaseDrop(rec: DecodedRecord): DbaseDrop {
  const v = rec.view;
  const b = rec.mainDataOffset;
  const n = v.getInt32(b + 4, true);
  const tablespaceIds: number[] = [];
  for (let i = 0; i < n; i++) tablespaceIds.push(v.getUint32(b + 8 + 4 * i, true));
  return { dbId: v.getUint32(b, true), tablespaceIds };
}

const NAMES: Record<number, string> = {
  [XLOG_DBASE_CREATE_FILE_COPY]: 'CREATE_FILE_COPY',
  [XLOG_DBASE_CREATE_WAL_LOG]: 'CREATE_WAL_LOG',
  [XLOG_DBASE_DROP]: 'DROP',
};

export const dbaseRmgr: RmgrDescriptor = {
  id: 4,
  name: 'Database',
  identify: (info) => NAMES[info & 0xf0],
  // see dbase_desc (dbasedesc.c)
  describe(rec) {
    switch (rec.info & 0xf0) {
      case XLOG_DBASE_CREATE_FILE_COPY: {
        const c = parseDbaseCreateFileCopy(rec);
        return `copy dir ${c.srcTablespaceId}/${c.srcDbId} to ${c.tablespaceId}/${c.dbId}`;
      }
      case XLOG_DBASE_CREATE_WAL_LOG: {
        const c = parseDbaseCreateWalLog(rec);
        return `create dir ${c.tablespaceId}/${c.dbId}`;
      }
      case XLOG_DBASE_DROP: {
        const d = parseDbaseDrop(rec);
        return 'dir' + d.tablespaceIds.map((ts) => ` ${ts}/${d.dbId}`).join('');
      }
      default:
        return '';
    }
  },
};
