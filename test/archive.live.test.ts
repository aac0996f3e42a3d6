// Live, every major: a server archiving with archive_command is promoted twice (timelines 2 and 3). Reading
// only from the archive, through restore_command 'cp ARCHIVE/%f %p', pgwal follows the newest history across
// both switches and returns exactly pg_get_wal_records_info's rows; it never asks for an older timeline's
// segment past that timeline's end, even though the archive holds such files.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { formatLsn, parseLsn, parseWalFileName, segmentNumberOf, walFileName } from '../src/index.js';
import { ArchiveWal, RestoreCommand } from '../src/node/restore.js';
import { walinspectRow } from '../src/xlogreader/describe.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import { MAJORS, promoteInPlace, Server, withServer } from './support/pg-server.js';
import { walinspectContext } from './support/wal.js';

const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;


async function rowsOf(s: Server, from: number, to: number): Promise<(string | null)[][]> {
  const c = await s.connect();
  try {
    for (let i = 0; i < 200 && parseLsn((await c.query('select pg_current_wal_flush_lsn()::text as l')).rows[0].l) < to; i++) await new Promise((r) => setTimeout(r, 50));
    return (await c.query({ text: 'select * from pg_get_wal_records_info($1, $2)', values: [formatLsn(from), formatLsn(to)], rowMode: 'array', types: asText })).rows;
  } finally {
    await c.end();
  }
}

async function archived(server: Server, name: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const [r] = await server.query<{ w: string | null }>('select last_archived_wal as w from pg_stat_archiver');
    if (r!.w !== null && r!.w >= name) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`${name} was not archived`);
}

describe.each(MAJORS)('PostgreSQL %i: archive with two promotions', (major) => {
  it('reads timelines 1, 2 and 3 from the archive as the server does', async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'", archive_mode: 'on' } }, async (server) => {
      const archive = path.join(server.baseDir, 'archive');
      fs.mkdirSync(archive);
      if (server.owner) fs.chownSync(archive, server.owner.uid, server.owner.gid);
      await server.query(`alter system set archive_command = 'cp %p ${archive}/%f'`);
      await server.query('select pg_reload_conf()');
      await server.query('create extension pg_walinspect');
      await server.query('create table t (id int primary key, tl int, v text)');
      const start = parseLsn((await server.query<{ l: string }>('select pg_current_wal_insert_lsn()::text as l'))[0]!.l);
      for (const tl of [1, 2, 3]) {
        await server.query(`insert into t select g + ${tl * 10000}, ${tl}, repeat(md5(g::text), 10) from generate_series(1, 3000) g`);
        if (tl < 3) await promoteInPlace(server);
      }
      const [row] = await server.query<{ l: string; f: string }>(`select pg_current_wal_insert_lsn()::text as l, pg_walfile_name(pg_current_wal_insert_lsn()) as f`);
      const end = parseLsn(row!.l);
      expect(row!.f.slice(0, 8)).toBe('00000003');
      await server.query('select pg_switch_wal()');
      await archived(server, row!.f);
      const c = await server.connect();
      let theirs: (string | null)[][];
      try {
        theirs = (await c.query({ text: 'select * from pg_get_wal_records_info($1, $2)', values: [formatLsn(start), formatLsn(end)], rowMode: 'array', types: asText })).rows;
      } finally {
        await c.end();
      }

      // The archive holds the old timelines' switch segments as .partial files, and the histories.
      const names = fs.readdirSync(archive);
      expect(names).toContain('00000002.history');
      expect(names).toContain('00000003.history');
      // Everything is read through restore_command alone, and every request is recorded.
      const requested: string[] = [];
      const cp = new RestoreCommand(`cp ${archive}/%f %p`);
      const wal = await ArchiveWal.open({
        fetch: async (name, signal) => {
          requested.push(name);
          return cp.fetch(name, signal);
        },
        segmentSize: 1024 * 1024,
      });
      expect(wal.history.map((e) => e.tli)).toEqual([3, 2, 1]);
      const ctx = walinspectContext(profileForMajor(major)!);
      const ours = [];
      for await (const rec of wal.records({ start, end })) ours.push(rec);
      cp.close();
      wal.close();
      expect(ours.length).toBe(theirs.length);
      ours.forEach((rec, i) => expect(Object.values(walinspectRow(rec, ctx)), formatLsn(rec.lsn)).toEqual(theirs[i]));
      expect(new Set(ours.map((r) => r.timeline))).toEqual(new Set([1, 2, 3]));
      // No segment of a timeline was asked for past the segment where that timeline ended.
      for (const name of requested.filter((n) => !n.endsWith('.history'))) {
        const p = parseWalFileName(name);
        const entry = wal.history.find((e) => e.tli === p.tli)!;
        if (entry.end !== undefined) expect(segmentNumberOf(p, 1024 * 1024), name).toBeLessThanOrEqual(Math.floor((entry.end - 1) / (1024 * 1024)));
      }

      // The demoted-primary trap: timeline 2's first whole segment is missing from the archive, and a timeline-1
      // file of that number stands in its place. pgwal must stop there, not read the old timeline's file.
      const seg = 1024 * 1024;
      const tl1End = wal.history.find((e) => e.tli === 1)!.end!;
      const segno = Math.floor((tl1End - 1) / seg) + 1;
      const tl2Name = walFileName(2, segno, seg);
      expect(fs.existsSync(path.join(archive, tl2Name)), `${tl2Name} archived`).toBe(true);
      {
        const trap = path.join(server.baseDir, 'trap');
        fs.cpSync(archive, trap, { recursive: true });
        fs.renameSync(path.join(trap, tl2Name), path.join(trap, `00000001${tl2Name.slice(8)}`));
        const trapped = await ArchiveWal.open({ dirs: [trap], segmentSize: seg });
        const stream = trapped.records({ start, end });
        let last = 0;
        for await (const rec of stream) last = rec.endLsn;
        expect(last).toBeLessThanOrEqual(segno * seg);
        expect(stream.end?.reason).toBe('no-more-wal');
        expect(stream.end?.message).toContain(tl2Name);
      }
    });
  });
});

describe.each(MAJORS)('PostgreSQL %i: point-in-time recovery from the archive, then a promotion', (major) => {
  it('follows timeline 1 to the recovery target, then timelines 2 and 3, ignoring timeline 1\'s later segments', async () => {
    const os = await import('node:os');
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-pitr-'));
    fs.chmodSync(base, 0o755);
    const archive = path.join(base, 'archive');
    fs.mkdirSync(archive);
    const primary = await Server.create({ major, gucs: { wal_keep_size: "'1GB'", archive_mode: 'on', archive_command: `'cp %p ${archive}/%f'` } });
    if (primary.owner) fs.chownSync(archive, primary.owner.uid, primary.owner.gid);
    let restored: Server | undefined;
    try {
      await primary.start();
      await primary.query('create extension pg_walinspect');
      await primary.query('create table t (id int primary key, v text)');
      // A cold base backup.
      await primary.stop('fast');
      fs.cpSync(primary.dataDir, path.join(base, 'backup'), { recursive: true });
      await primary.start();
      const start = parseLsn((await primary.query<{ l: string }>('select pg_current_wal_insert_lsn()::text as l'))[0]!.l);
      await primary.query(`insert into t select g, repeat('a', 300) from generate_series(1, 3000) g`);
      const target = (await primary.query<{ l: string }>('select pg_current_wal_insert_lsn()::text as l'))[0]!.l;
      // Work after the target: archived on timeline 1, and never part of the recovered history.
      await primary.query(`insert into t select g, repeat('b', 300) from generate_series(3001, 9000) g`);
      const [{ f: lastTl1, l: primaryEnd }] = (await primary.query<{ f: string; l: string }>('select pg_walfile_name(pg_current_wal_insert_lsn()) as f, pg_current_wal_insert_lsn()::text as l')) as [{ f: string; l: string }];
      await primary.query('select pg_switch_wal()');
      await archived(primary, lastTl1);
      const primaryRows = await rowsOf(primary, start, parseLsn(primaryEnd));
      await primary.destroy();

      // Restore the backup with an emptied pg_wal, recover from the archive to the target, promote: timeline 2.
      const data = path.join(base, 'backup');
      for (const n of fs.readdirSync(path.join(data, 'pg_wal'))) if (/^[0-9A-F]{24}$/.test(n)) fs.rmSync(path.join(data, 'pg_wal', n));
      restored = await Server.create({
        major,
        dataDir: data,
        gucs: {
          wal_keep_size: "'1GB'",
          archive_mode: 'on',
          archive_command: `'cp %p ${archive}/%f'`,
          restore_command: `'cp ${archive}/%f %p'`,
          recovery_target_lsn: `'${target}'`,
          recovery_target_action: "'promote'",
        },
      });
      fs.writeFileSync(path.join(data, 'recovery.signal'), '');
      if (restored.owner) fs.chownSync(path.join(data, 'recovery.signal'), restored.owner.uid, restored.owner.gid);
      await restored.start(60_000);
      for (let i = 0; i < 400 && (await restored.query<{ r: boolean }>('select pg_is_in_recovery() as r'))[0]!.r; i++) await new Promise((r) => setTimeout(r, 50));
      await restored.query(`insert into t select g, repeat('c', 300) from generate_series(20001, 23000) g`);
      // The recovery target has been reached; the second promotion must not aim at it again.
      await restored.query('alter system reset recovery_target_lsn');
      await restored.query('alter system reset recovery_target_action');
      await promoteInPlace(restored);
      await restored.query(`insert into t select g, repeat('d', 300) from generate_series(30001, 33000) g`);
      const [{ l: endText, f: lastFile }] = (await restored.query<{ l: string; f: string }>(`select pg_current_wal_insert_lsn()::text as l, pg_walfile_name(pg_current_wal_insert_lsn()) as f`)) as [{ l: string; f: string }];
      expect(lastFile.slice(0, 8)).toBe('00000003');
      const end = parseLsn(endText);
      await restored.query('select pg_switch_wal()');
      await archived(restored, lastFile);
      const wal = await ArchiveWal.open({ restoreCommand: `cp ${archive}/%f %p`, segmentSize: 1024 * 1024 });
      expect(wal.history.map((e) => e.tli)).toEqual([3, 2, 1]);
      const tl1End = wal.history.find((e) => e.tli === 1)!.end!;
      // The archive holds timeline 1 well past the point where the recovered history left it.
      const tl1Files = fs.readdirSync(archive).filter((n) => /^00000001[0-9A-F]{16}$/.test(n));
      expect(tl1Files.some((n) => segmentNumberOf(parseWalFileName(n), 1024 * 1024) > Math.floor(tl1End / (1024 * 1024)))).toBe(true);
      const ctx = walinspectContext(profileForMajor(major)!);
      const ours = [];
      for await (const rec of wal.records({ start, end })) ours.push(rec);
      wal.close();
      expect(new Set(ours.map((r) => r.timeline))).toEqual(new Set([1, 2, 3]));
      // Records follow each other without a gap: every prev-link points at the record before.
      for (let i = 1; i < ours.length; i++) expect(ours[i]!.prevLsn).toBe(ours[i - 1]!.lsn);
      // No record of timeline 1 lies past its end; nothing the primary wrote after the target was read.
      expect(ours.filter((r) => r.timeline === 1).every((r) => r.endLsn <= tl1End + 8192)).toBe(true);
      // Timeline 1 as the primary wrote it, up to where the recovered history left it.
      const tl1 = ours.filter((r) => r.timeline === 1).map((r) => Object.values(walinspectRow(r, ctx)));
      expect(tl1.length).toBeGreaterThan(100);
      expect(tl1).toEqual(primaryRows.slice(0, tl1.length));
      expect(primaryRows.length).toBeGreaterThan(tl1.length); // the primary wrote on past the target
      // Timelines 2 and 3 as the recovered server wrote them.
      const from = wal.history.find((e) => e.tli === 2)!.begin;
      const rows = await rowsOf(restored, from, end);
      expect(ours.filter((r) => r.lsn >= from).map((r) => Object.values(walinspectRow(r, ctx)))).toEqual(rows);
    } finally {
      await restored?.destroy();
      await primary.destroy();
      fs.rmSync(base, { recursive: true, force: true });
    }
  });
});
