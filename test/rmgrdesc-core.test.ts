// The core rmgr descriptions (XLOG, Transaction, Storage, … LogicalMessage) print exactly what
// pg_walinspect printed for every committed fixture record of theirs, for every major.
import { describe, expect, it } from 'vitest';
import { formatLsn } from '../src/lsn.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import type { RmgrDescriptor } from '../src/xlogreader/rmgrdesc/types.js';
import { BUILTIN_RMGRS } from '../src/xlogreader/rmgr.js';
import { parseCommit, parsePrepare, parseXactAssignment } from '../src/xlogreader/rmgrdesc/xact.js';
import { parseLogicalMessage } from '../src/xlogreader/rmgrdesc/logicalmsg.js';
import { listFixtures, readTsv, type Fixture } from './support/fixtures.js';
import { fixtureRecords, walinspectContext } from './support/wal.js';

// Every built-in rmgr but the heap and index ones (their own tests cover those).
const CORE_RMGRS: readonly RmgrDescriptor[] = BUILTIN_RMGRS.filter((r) => ![9, 10, 11, 12, 13, 14, 16, 17].includes(r.id));
const byId = new Map(CORE_RMGRS.map((r) => [r.id, r]));

const fixtures = listFixtures();
/** Records compared per major, checked after all fixtures ran. */
const comparedByMajor = new Map<number, number>();
const typesByMajor = new Map<number, Set<string>>();

describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('%s', (_id, f) => {
  it('identifies and describes every core-rmgr record as pg_walinspect did', () => {
    const profile = profileForMajor(f.meta.major)!;
    const ctx = walinspectContext(profile);
    const rows = new Map(readTsv(f, 'records.tsv').map((r) => [r.start_lsn!, r]));
    let compared = 0;
    const mismatches: string[] = [];
    for (const rec of fixtureRecords(f)) {
      const rmgr = byId.get(rec.rmid);
      if (rmgr === undefined) continue;
      const row = rows.get(formatLsn(rec.lsn));
      if (row === undefined) continue;
      compared++;
      const type = rmgr.identify(rec.info, profile);
      typesByMajor.set(profile.major, (typesByMajor.get(profile.major) ?? new Set()).add(`${rmgr.name}/${type}`));
      // pg_walinspect 16+ returns NULL for an empty description; 15 returns ''.
      const desc = rmgr.describe(rec, ctx);
      if (row.resource_manager !== rmgr.name || type !== row.record_type || desc !== (row.description ?? '')) {
        mismatches.push(`${row.start_lsn} ${rmgr.name}/${type}: ${desc.slice(0, 300)}\n  expected ${row.resource_manager}/${row.record_type}: ${row.description?.slice(0, 300)}`);
      }
    }
    expect(mismatches).toEqual([]);
    // Every scenario holds at least a commit or a checkpoint.
    expect(compared).toBeGreaterThanOrEqual(1);
    comparedByMajor.set(profile.major, (comparedByMajor.get(profile.major) ?? 0) + compared);
  });
});

describe('coverage', () => {
  it.each([15, 16, 17, 18])('pg%i: enough records and record types were compared', (major) => {
    expect(comparedByMajor.get(major) ?? 0).toBeGreaterThanOrEqual(150);
    const types = typesByMajor.get(major) ?? new Set();
    for (const t of ['XLOG/CHECKPOINT_ONLINE', 'XLOG/SWITCH', 'XLOG/OVERWRITE_CONTRECORD', 'Transaction/COMMIT', 'Transaction/ABORT', 'Transaction/PREPARE', 'Transaction/COMMIT_PREPARED', 'Transaction/ABORT_PREPARED', 'Transaction/ASSIGNMENT', 'Transaction/INVALIDATION', 'Standby/RUNNING_XACTS', 'Standby/LOCK', 'Storage/CREATE', 'Sequence/LOG', 'LogicalMessage/MESSAGE']) {
      expect(types, t).toContain(t);
    }
  });
});

describe('payload parsers on fixtures', () => {
  const find = (id: string): Fixture => fixtures.find((f) => f.id === id)!;

  it.each([15, 16, 17, 18])('pg%i two-phase: PREPARE and COMMIT PREPARED carry the gid and the prepared xid', (major) => {
    const m = profileForMajor(major)!.major;
    const recs = fixtureRecords(find(`pg${major}/two-phase`));
    const prepares = recs.filter((r) => r.rmid === 1 && (r.info & 0x70) === 0x10).map((r) => parsePrepare(r, m));
    const commits = recs.filter((r) => r.rmid === 1 && (r.info & 0x70) === 0x30).map((r) => parseCommit(r, m));
    expect(prepares.length).toBeGreaterThan(0);
    expect(commits.length).toBeGreaterThan(0);
    expect(prepares[0]!.twophaseGid.length).toBeGreaterThan(0);
    expect(prepares.map((p) => p.twophaseXid)).toContain(commits[0]!.twophaseXid);
  });

  it.each([15, 16, 17, 18])('pg%i subxacts: ASSIGNMENT lists subtransactions of one top-level xid', (major) => {
    const recs = fixtureRecords(find(`pg${major}/subxacts`));
    const assignments = recs.filter((r) => r.rmid === 1 && (r.info & 0x70) === 0x50).map(parseXactAssignment);
    expect(assignments.length).toBeGreaterThan(0);
    for (const a of assignments) {
      expect(a.subxacts.length).toBeGreaterThan(0);
      expect(a.subxacts.every((x) => x > a.xtop)).toBe(true);
    }
  });

  it.each([15, 16, 17, 18])('pg%i messages: the payload is left in the record bytes', (major) => {
    const recs = fixtureRecords(find(`pg${major}/messages`));
    const msgs = recs.filter((r) => r.rmid === 21).map((r) => ({ r, m: parseLogicalMessage(r) }));
    expect(msgs.length).toBeGreaterThan(0);
    for (const { r, m } of msgs) {
      expect(m.messageOffset + m.messageSize).toBe(r.mainDataOffset + r.mainDataLength);
    }
  });
});
