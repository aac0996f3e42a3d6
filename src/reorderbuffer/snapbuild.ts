// The snapshot builder's state machine, from WAL alone: where decoding becomes consistent (SnapBuildFindSnapshot).
//
//   START ──running_xacts──▶ BUILDING ──all xacts < next_phase_at ended──▶ FULL ──same again──▶ CONSISTENT
//     │                                                                                         ▲
//     └────────────── a running_xacts with no running transaction ───────────────────────────────┘
//
// Only data changes are decoded, with a catalog fixed at the start point, so no catalog snapshot is kept:
// what matters is which transactions may be emitted. Serialized snapshots (pg_logical/snapshots) are not read.
import type { Lsn } from '../lsn.js';
import type { DecodedRecord } from '../xlogreader/record.js';
import { parseRunningXacts } from '../xlogreader/rmgrdesc/standby.js';

export const SNAPBUILD_START = -1;
export const SNAPBUILD_BUILDING_SNAPSHOT = 0;
export const SNAPBUILD_FULL_SNAPSHOT = 1;
export const SNAPBUILD_CONSISTENT = 2;

const RM_STANDBY_ID = 8;
const XLOG_RUNNING_XACTS = 0x10;

/** TransactionIdPrecedesOrEquals for normal xids: modulo-2^32 comparison. */
function xidPrecedesOrEquals(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

export class SnapshotBuilder {
  state = SNAPBUILD_START;
  /** The xid every transaction of the next phase is at or after. */
  nextPhaseAt = 0;
  /** Where the builder became consistent: the end of that running_xacts record (a new slot's confirmed_flush). */
  consistentAt: Lsn | undefined;

  // see SnapBuildFindSnapshot (snapbuild.c)
  process(rec: DecodedRecord): void {
    if (this.state === SNAPBUILD_CONSISTENT || rec.rmid !== RM_STANDBY_ID || (rec.info & 0xf0) !== XLOG_RUNNING_XACTS) return;
    const running = parseRunningXacts(rec);
    if (running.oldestRunningXid === running.nextXid) {
      this.becomeConsistent(rec);
    } else if (this.state === SNAPBUILD_START) {
      this.state = SNAPBUILD_BUILDING_SNAPSHOT;
      this.nextPhaseAt = running.nextXid;
    } else if (this.state === SNAPBUILD_BUILDING_SNAPSHOT && xidPrecedesOrEquals(this.nextPhaseAt, running.oldestRunningXid)) {
      this.state = SNAPBUILD_FULL_SNAPSHOT;
      this.nextPhaseAt = running.nextXid;
    } else if (this.state === SNAPBUILD_FULL_SNAPSHOT && xidPrecedesOrEquals(this.nextPhaseAt, running.oldestRunningXid)) {
      this.becomeConsistent(rec);
    }
  }

  private becomeConsistent(rec: DecodedRecord): void {
    this.state = SNAPBUILD_CONSISTENT;
    this.nextPhaseAt = 0;
    this.consistentAt = rec.endLsn;
  }

  /**
   * SnapBuildProcessChange: whether a change of `xid` may be queued. Before FULL nothing is; before
   * CONSISTENT only transactions that began in the FULL phase (their start is known to be in the WAL read).
   */
  decodesChangesOf(xid: number): boolean {
    if (this.state < SNAPBUILD_FULL_SNAPSHOT) return false;
    return this.state === SNAPBUILD_CONSISTENT || ((xid - this.nextPhaseAt) | 0) >= 0;
  }
}
