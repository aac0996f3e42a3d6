// Live, every major: a server promoted from standby mode starts timeline 2; pgwal, following the history
// file the server wrote, reads from timeline 1 across the switch into timeline 2 and returns exactly the
// records pg_get_wal_records_info returns on the promoted server, each with the timeline that holds it.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { formatLsn, parseLsn } from '../src/index.js';
import { openWal } from '../src/node/wal.js';
import { walinspectRow } from '../src/xlogreader/describe.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import { timelineOfLsn } from '../src/timeline/index.js';
import { MAJORS, promoteInPlace, Server, withServer } from './support/pg-server.js';
import { walinspectContext } from './support/wal.js';

const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;


describe.each(MAJORS)('PostgreSQL %i promoted to timeline 2', (major) => {
  it('reads across the switch as the server does', async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
      await server.query('create extension pg_walinspect');
      await server.query('create table t (id int primary key, v text)');
      const start = parseLsn((await server.query<{ l: string }>('select pg_current_wal_insert_lsn()::text as l'))[0]!.l);
      await server.query(`insert into t select g, md5(g::text) from generate_series(1, 2000) g`);
      await promoteInPlace(server);
      await server.query(`insert into t select g, 'tl2' from generate_series(2001, 3000) g`);
      await server.query(`update t set v = 'both' where id % 100 = 0`);
      const [row] = await server.query<{ l: string; tli: number }>(
        `select pg_current_wal_insert_lsn()::text as l, ('x' || substr(pg_walfile_name(pg_current_wal_insert_lsn()), 1, 8))::bit(32)::int as tli`,
      );
      const end = parseLsn(row!.l);
      expect(row!.tli).toBe(2);
      const c = await server.connect();
      let theirs: (string | null)[][];
      try {
        for (let i = 0; i < 200 && parseLsn((await c.query('select pg_current_wal_flush_lsn()::text as l')).rows[0].l) < end; i++) await new Promise((r) => setTimeout(r, 50));
        theirs = (await c.query({ text: 'select * from pg_get_wal_records_info($1, $2)', values: [formatLsn(start), formatLsn(end)], rowMode: 'array', types: asText })).rows;
      } finally {
        await c.end();
      }
      const history = fs.readFileSync(path.join(server.pgWalDir, '00000002.history'), 'utf8');
      const switchPoint = parseLsn(/^1\t(\S+)\t/.exec(history)![1]!);

      const wal = openWal({ path: server.pgWalDir, timeline: 'latest' });
      expect(wal.history?.map((e) => e.tli)).toEqual([2, 1]);
      const ctx = walinspectContext(profileForMajor(major)!);
      const ours = [];
      for await (const rec of wal.records({ start, end })) ours.push(rec);
      expect(ours.length).toBe(theirs.length);
      ours.forEach((rec, i) => expect(Object.values(walinspectRow(rec, ctx)), formatLsn(rec.lsn)).toEqual(theirs[i]));
      // Each record carries the timeline of the file it came from; the switch segment is read from timeline 2.
      const segSize = wal.segmentSize;
      for (const rec of ours) {
        const expected = Math.floor(rec.lsn / segSize) >= Math.floor(switchPoint / segSize) ? 2 : 1;
        expect(rec.timeline, formatLsn(rec.lsn)).toBe(expected);
        expect(timelineOfLsn(rec.lsn, wal.history!)).toBe(rec.lsn < switchPoint ? 1 : 2);
      }
      expect(ours.some((r) => r.lsn < switchPoint)).toBe(true);
      expect(ours.some((r) => r.lsn >= switchPoint)).toBe(true);
      // The first record of timeline 2 is the server's END_OF_RECOVERY (or a checkpoint) at the switch point.
      expect(ours.find((r) => r.lsn >= switchPoint)!.lsn).toBe(switchPoint);
    });
  });
});

describe.each(MAJORS)('PostgreSQL %i: a streaming standby promoted while the old primary goes on', (major) => {
  it('reads the old timeline as the primary wrote it and the new one as the standby did, never the primary\'s extra WAL', async () => {
    const os = await import('node:os');
    const primary = await Server.create({ major, gucs: { wal_keep_size: "'1GB'" } });
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-standby-'));
    fs.chmodSync(copy, 0o755);
    let standby: Server | undefined;
    try {
      await primary.start();
      await primary.query('create extension pg_walinspect');
      await primary.query('create table t (id int primary key, who text)');
      // A cold copy of the primary becomes a standby streaming from it over the unix socket.
      await primary.stop('fast');
      fs.cpSync(primary.dataDir, path.join(copy, 'data'), { recursive: true });
      standby = await Server.create({ major, dataDir: path.join(copy, 'data'), gucs: { primary_conninfo: `'host=${primary.socketDir} port=${primary.port} user=postgres'`, wal_keep_size: "'1GB'" } });
      fs.writeFileSync(path.join(standby.dataDir, 'standby.signal'), '');
      if (standby.owner) fs.chownSync(path.join(standby.dataDir, 'standby.signal'), standby.owner.uid, standby.owner.gid);
      await primary.start();
      await standby.start();
      const start = parseLsn((await primary.query<{ l: string }>('select pg_current_wal_insert_lsn()::text as l'))[0]!.l);
      await primary.query(`insert into t select g, 'primary, streamed' from generate_series(1, 3000) g`);
      const sent = parseLsn((await primary.query<{ l: string }>('select pg_current_wal_insert_lsn()::text as l'))[0]!.l);
      for (let i = 0; i < 400; i++) {
        const [r] = await standby.query<{ l: string | null }>('select pg_last_wal_replay_lsn()::text as l');
        if (r!.l !== null && parseLsn(r!.l) >= sent) break;
        await new Promise((res) => setTimeout(res, 25));
      }
      await standby.query('select pg_promote(true, 60)');
      await standby.query(`insert into t select g, 'standby, timeline 2' from generate_series(3001, 6000) g`);
      // The old primary does not know and writes on: timeline 1 WAL the new timeline never had.
      await primary.query(`insert into t select g, 'old primary, lost' from generate_series(6001, 9000) g`);
      const end = parseLsn((await standby.query<{ l: string }>('select pg_current_wal_insert_lsn()::text as l'))[0]!.l);
      const historyText = fs.readFileSync(path.join(standby.pgWalDir, '00000002.history'), 'utf8');
      const switchPoint = parseLsn(/^1\t(\S+)\t/.exec(historyText)![1]!);

      const rowsOf = async (s: Server, from: number, to: number): Promise<(string | null)[][]> => {
        const c = await s.connect();
        try {
          return (await c.query({ text: 'select * from pg_get_wal_records_info($1, $2)', values: [formatLsn(from), formatLsn(to)], rowMode: 'array', types: asText })).rows;
        } finally {
          await c.end();
        }
      };
      const oldTimeline = await rowsOf(primary, start, switchPoint);
      const newTimeline = await rowsOf(standby, switchPoint, end);

      // Both nodes' pg_wal as sources: the primary's timeline-1 files past the switch point must stay unread.
      const wal = openWal({ path: [standby.pgWalDir, primary.pgWalDir], timeline: 'latest' });
      const ctx = walinspectContext(profileForMajor(major)!);
      const ours = [];
      for await (const rec of wal.records({ start, end })) ours.push(rec);
      const rows = ours.map((r) => Object.values(walinspectRow(r, ctx)));
      expect(rows.length).toBe(oldTimeline.length + newTimeline.length);
      expect(rows.slice(0, oldTimeline.length)).toEqual(oldTimeline);
      expect(rows.slice(oldTimeline.length)).toEqual(newTimeline);
      expect(ours.filter((r) => r.lsn >= switchPoint).every((r) => r.timeline === 2)).toBe(true);

      // Only the old primary's files and the new history (timeline 2's segments not archived yet): reading stops
      // at the switch point with a typed error, never going on into the primary's lost WAL.
      const onlyOld = path.join(copy, 'only-old');
      fs.mkdirSync(onlyOld);
      for (const n of fs.readdirSync(primary.pgWalDir)) if (/^00000001[0-9A-F]{16}$/.test(n)) fs.copyFileSync(path.join(primary.pgWalDir, n), path.join(onlyOld, n));
      fs.writeFileSync(path.join(onlyOld, '00000002.history'), historyText);
      const stopped = [];
      let err: unknown;
      try {
        for await (const rec of openWal({ path: onlyOld, timeline: 'latest' }).records({ start })) stopped.push(rec);
      } catch (e) {
        err = e;
      }
      const stoppedRows = stopped.map((r) => Object.values(walinspectRow(r, ctx)));
      expect(stoppedRows).toEqual(oldTimeline);
      if (switchPoint % wal.segmentSize !== 0) {
        const { TimelineEndError } = await import('../src/timeline/index.js');
        expect(err).toBeInstanceOf(TimelineEndError);
        expect((err as InstanceType<typeof TimelineEndError>).lsn).toBe(switchPoint);
      }
    } finally {
      await standby?.destroy();
      await primary.destroy();
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });
});
