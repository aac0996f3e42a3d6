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
import { MAJORS, withServer, type Server } from './support/pg-server.js';
import { walinspectContext } from './support/wal.js';

const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

async function promote(server: Server): Promise<void> {
  await server.stop('fast');
  const signal = path.join(server.dataDir, 'standby.signal');
  fs.writeFileSync(signal, '');
  if (server.owner) fs.chownSync(signal, server.owner.uid, server.owner.gid);
  await server.start();
  await server.query('select pg_promote(true, 60)');
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
        if (tl < 3) await promote(server);
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
