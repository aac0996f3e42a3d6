// What every resource manager offers: its name, rm_identify and rm_desc as pg_waldump/pg_walinspect print them.
import type { DecodedRecord } from '../record.js';
import type { VersionProfile } from '../profile.js';

export interface DescribeContext {
  profile: VersionProfile;
  /**
   * timestamptz_to_str: pg_walinspect (backend) prints `2026-11-21 22:38:17.842359+00` in the session time zone;
   * pg_waldump (frontend, compat.c) prints `2026-11-21 22:38:25.018203 UTC` in local time.
   */
  formatTimestamp(usecSince2000: bigint): string;
}

export interface RmgrDescriptor {
  id: number;
  /** RmgrNames, e.g. `Heap2`, `Transaction`. */
  name: string;
  /** rm_identify: gets the whole xl_info, returns undefined for an unknown opcode. */
  identify(info: number, profile: VersionProfile): string | undefined;
  /** rm_desc: the description text, without block references. */
  describe(record: DecodedRecord, ctx: DescribeContext): string;
}
