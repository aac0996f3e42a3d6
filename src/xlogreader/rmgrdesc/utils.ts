// Pieces several rmgr descriptions share: array_desc (rmgrdesc_utils.c, 16+) and relpath (common/relpath.c).
import { FORK_NAMES, type RelFileLocator } from '../record.js';
import type { Major } from '../profile.js';

/** array_desc: ` [a, b, c]`, or ` []` for none. Note the leading space. */
export function arrayDesc(items: readonly (string | number)[]): string {
  return items.length === 0 ? ' []' : ` [${items.join(', ')}]`;
}

const GLOBALTABLESPACE_OID = 1664;
const DEFAULTTABLESPACE_OID = 1663;

// TABLESPACE_VERSION_DIRECTORY is "PG_<major>_<CATALOG_VERSION_NO>" (catversion.h of each major).
const CATALOG_VERSION: Record<Major, string> = { 15: '202209061', 16: '202307071', 17: '202406281', 18: '202506291' };

/** relpathperm: `base/5/16384`, `global/1262`, `pg_tblspc/16385/PG_17_202406281/5/16386`, with `_fsm` etc. for other forks. */
export function relPathPerm(loc: RelFileLocator, forkNumber: number, major: Major): string {
  const fork = forkNumber === 0 ? '' : `_${FORK_NAMES[forkNumber] ?? forkNumber}`;
  if (loc.spcOid === GLOBALTABLESPACE_OID) return `global/${loc.relNumber}${fork}`;
  if (loc.spcOid === DEFAULTTABLESPACE_OID) return `base/${loc.dbOid}/${loc.relNumber}${fork}`;
  return `pg_tblspc/${loc.spcOid}/PG_${major}_${CATALOG_VERSION[major]}/${loc.dbOid}/${loc.relNumber}${fork}`;
}

/** Reads a RelFileLocator (12 bytes) at `offset`. */
export function readRelFileLocator(view: DataView, offset: number): RelFileLocator {
  return {
    spcOid: view.getUint32(offset, true),
    dbOid: view.getUint32(offset + 4, true),
    relNumber: view.getUint32(offset + 8, true),
  };
}

/** A DataView over a piece of a record (main data or block data), for offset-relative reads. */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
