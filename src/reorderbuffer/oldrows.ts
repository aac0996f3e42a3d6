// Whole old rows for UPDATE and DELETE (old-rows=full): the old tuple as the kept heap page holds it, with the
// TOAST values it points to when their chunks are kept too — what REPLICA IDENTITY FULL would have logged.
import type { DecodedRecord } from '../xlogreader/record.js';
import { WalError } from '../errors.js';
import type { CatalogView } from './catalog.js';
import { encodeToastValues } from './change.js';
import { deformTupleAt } from './tuple.js';

/** Where UPDATE and DELETE decoding reads old rows and TOAST chunks from (catalog/heap-pages.ts's HeapPages). */
export interface OldRowSource {
  /** Applies one record, in WAL order, before it is decoded. */
  apply(rec: DecodedRecord): void;
  /** The tuple (header included) at (relfilenode, block, offnum) as of the last record applied, when known. */
  tuple(relfilenode: number, block: number, offnum: number): Uint8Array | undefined;
  /** The stored bytes (chunks joined) of TOAST value `valueId` in the TOAST relation `relfilenode`, when all are kept. */
  toastValue(relfilenode: number, valueId: number, extSize: number): Uint8Array | undefined;
}

const HEAP_HASEXTERNAL = 0x0004;
const SIZEOF_HEAP_TUPLE_HEADER = 23;

export interface OldRow {
  /** The tuple with its header (the page's own bytes: copy before the next record): xl_heap_header's fields start at byte 18. */
  tuple: Uint8Array;
  /** CF_OLD_TOAST's bytes, when a TOAST value of the row was found. */
  toast: Uint8Array | undefined;
}

/**
 * The old row of an UPDATE / DELETE of the relation at (tablespace, relfilenode), at (block, offnum), when its page
 * is kept; undefined when not (the caller keeps the key the record logged).
 */
// see ExtractReplicaIdentity (heapam.c): under FULL, toast_flatten_tuple inlines the external values
export function readOldRow(source: OldRowSource, catalog: CatalogView, rec: DecodedRecord, tablespace: number, relfilenode: number, block: number, offnum: number): OldRow | undefined {
  const at = { lsn: rec.lsn, xid: rec.toplevelXid !== 0 ? rec.toplevelXid : rec.xid };
  // Not looked up for what the reorder buffer drops: TOAST chunks (deleted with their row), catalogs, unknown storage.
  const rel = catalog.relationByFilenode(tablespace, relfilenode, at);
  if (rel === undefined || rel.kind === 't') return undefined;
  const tuple = source.tuple(relfilenode, block, offnum);
  if (tuple === undefined || tuple.length < SIZEOF_HEAP_TUPLE_HEADER) return undefined;
  const infomask = tuple[20]! | (tuple[21]! << 8);
  if ((infomask & HEAP_HASEXTERNAL) === 0) return { tuple, toast: undefined };
  const found: { valueId: number; bytes: Uint8Array }[] = [];
  try {
    const values = deformTupleAt(tuple, SIZEOF_HEAP_TUPLE_HEADER, tuple.length - SIZEOF_HEAP_TUPLE_HEADER, tuple[18]! | (tuple[19]! << 8), infomask, tuple[22]!, rel.attributes, rec.lsn);
    for (const v of values) {
      if (v.kind !== 'toast') continue;
      const toastRel = catalog.relationByOid(v.toastRelId, at);
      const bytes = toastRel === undefined ? undefined : source.toastValue(toastRel.relfilenode, v.valueId, v.extSize);
      if (bytes !== undefined) found.push({ valueId: v.valueId, bytes });
    }
  } catch (e) {
    // A tuple the catalog's attributes do not fit: the row without its TOAST values (they stay unchanged-toast).
    if (!(e instanceof WalError)) throw e;
  }
  return { tuple, toast: found.length === 0 ? undefined : encodeToastValues(found) };
}
