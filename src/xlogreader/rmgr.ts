// The resource manager table, in on-disk id order (rmgrlist.h), plus pg_waldump's stand-in for custom ids.
import type { RmgrDescriptor } from './rmgrdesc/types.js';
import { xlogRmgr } from './rmgrdesc/xlog.js';
import { xactRmgr } from './rmgrdesc/xact.js';
import { smgrRmgr } from './rmgrdesc/smgr.js';
import { clogRmgr } from './rmgrdesc/clog.js';
import { dbaseRmgr } from './rmgrdesc/dbase.js';
import { tblspcRmgr } from './rmgrdesc/tblspc.js';
import { multixactRmgr } from './rmgrdesc/mxact.js';
import { relmapRmgr } from './rmgrdesc/relmap.js';
import { standbyRmgr } from './rmgrdesc/standby.js';
import { heap2Rmgr, heapRmgr } from './rmgrdesc/heap.js';
import { btreeRmgr } from './rmgrdesc/nbtree.js';
import { hashRmgr } from './rmgrdesc/hash.js';
import { ginRmgr } from './rmgrdesc/gin.js';
import { gistRmgr } from './rmgrdesc/gist.js';
import { seqRmgr } from './rmgrdesc/seq.js';
import { spgistRmgr } from './rmgrdesc/spgist.js';
import { brinRmgr } from './rmgrdesc/brin.js';
import { commitTsRmgr } from './rmgrdesc/committs.js';
import { replOriginRmgr } from './rmgrdesc/replorigin.js';
import { genericRmgr } from './rmgrdesc/generic.js';
import { logicalMsgRmgr } from './rmgrdesc/logicalmsg.js';

export const BUILTIN_RMGRS: readonly RmgrDescriptor[] = [
  xlogRmgr,
  xactRmgr,
  smgrRmgr,
  clogRmgr,
  dbaseRmgr,
  tblspcRmgr,
  multixactRmgr,
  relmapRmgr,
  standbyRmgr,
  heap2Rmgr,
  heapRmgr,
  btreeRmgr,
  hashRmgr,
  ginRmgr,
  gistRmgr,
  seqRmgr,
  spgistRmgr,
  brinRmgr,
  commitTsRmgr,
  replOriginRmgr,
  genericRmgr,
  logicalMsgRmgr,
];

export const RM_MAX_BUILTIN_ID = BUILTIN_RMGRS.length - 1;
export const RM_MIN_CUSTOM_ID = 128;
export const RM_MAX_ID = 255;

for (const [i, r] of BUILTIN_RMGRS.entries()) {
  if (r.id !== i) throw new Error(`rmgr table out of order: ${r.name} has id ${r.id} at ${i}`);
}

const custom: RmgrDescriptor[] = [];

/** RmgrIdIsValid: built-in 0–21 or custom 128–255. */
export function rmgrIdIsValid(id: number): boolean {
  return (id >= 0 && id <= RM_MAX_BUILTIN_ID) || (id >= RM_MIN_CUSTOM_ID && id <= RM_MAX_ID);
}

/** GetRmgrDesc: the descriptor of an id; custom ids get pg_waldump's `custom###` stand-in. */
export function rmgrById(id: number): RmgrDescriptor {
  const builtin = BUILTIN_RMGRS[id];
  if (builtin !== undefined) return builtin;
  let c = custom[id];
  if (c === undefined) {
    c = {
      id,
      name: `custom${String(id).padStart(3, '0')}`,
      identify: () => undefined,
      describe: (rec) => `rmid: ${rec.rmid}`,
    };
    custom[id] = c;
  }
  return c;
}

/** pg_waldump -r NAME: built-in names case-insensitively, or `custom###`. */
export function rmgrByName(name: string): RmgrDescriptor | undefined {
  const lower = name.toLowerCase();
  const b = BUILTIN_RMGRS.find((r) => r.name.toLowerCase() === lower);
  if (b !== undefined) return b;
  const m = /^custom(\d{3})$/i.exec(name);
  if (m !== null) {
    const id = Number(m[1]);
    if (id >= RM_MIN_CUSTOM_ID && id <= RM_MAX_ID) return rmgrById(id);
  }
  return undefined;
}
