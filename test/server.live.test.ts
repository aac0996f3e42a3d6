// Live: every supported major starts from the npm packages, answers SQL and stops; two run side by side;
// our LSN and file-name arithmetic agrees with the server's own functions.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatLsn, lsnFromParts, parseLsn, segmentOf, walFileName } from '../src/index.js';
import { MAJORS, Server, withServer } from './support/pg-server.js';

describe.each(MAJORS)('PostgreSQL %i from npm', (major) => {
  it('starts as an unprivileged user, runs SQL with the decoding modules, and stops', async () => {
    const t0 = Date.now();
    let server: Server | undefined;
    await withServer({ major }, async (s) => {
      server = s;
      console.log(`PostgreSQL ${major}: initdb + start in ${Date.now() - t0} ms`);
      const [row] = await s.query<{ v: string; uid: string; seg: string; wal_level: string }>(
        `select current_setting('server_version_num') as v, current_setting('wal_segment_size') as seg, current_setting('wal_level') as wal_level`,
      );
      expect(Math.floor(Number(row!.v) / 10000)).toBe(major);
      expect(row!.seg).toBe('1MB');
      expect(row!.wal_level).toBe('logical');
      await s.query('create extension pg_walinspect');
      await s.query('create extension pageinspect');
      const [slot] = await s.query<{ lsn: string }>(`select lsn::text from pg_create_logical_replication_slot('probe', 'test_decoding')`);
      await s.query(`select pg_logical_emit_message(true, 'p', 'hello')`);
      const changes = await s.query<{ data: string }>(`select data from pg_logical_slot_get_changes('probe', null, null, 'include-xids', '0')`);
      expect(changes.map((c) => c.data)).toEqual(['BEGIN', 'message: transactional: 1 prefix: p, sz: 5 content:hello', 'COMMIT']);
      expect(parseLsn(slot!.lsn)).toBeGreaterThan(0);
      await s.query(`select * from pg_create_logical_replication_slot('probe_pgoutput', 'pgoutput')`);
      expect(s.running).toBe(true);
    });
    expect(server!.running).toBe(false);
  });
});

describe('the harness', () => {
  it('runs two servers at once and stops both', async () => {
    await withServer({ major: 17 }, async (primary) => {
      await withServer({ major: 18 }, async (second) => {
        const [a] = await primary.query<{ v: string }>(`select current_setting('server_version_num') as v`);
        const [b] = await second.query<{ v: string }>(`select current_setting('server_version_num') as v`);
        expect(a!.v.slice(0, 2)).toBe('17');
        expect(b!.v.slice(0, 2)).toBe('18');
        expect(primary.socketDir).not.toBe(second.socketDir);
      });
      // The first keeps running after the second is gone.
      expect((await primary.query('select 1 as one'))[0]).toEqual({ one: 1 });
    });
  });

  it('stops the server when the callback throws', async () => {
    let server: Server | undefined;
    await expect(
      withServer({ major: 16 }, async (s) => {
        server = s;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(server!.running).toBe(false);
  });
});

describe.each([1, 64])('file names and LSNs agree with a server using %i MB segments', (mb) => {
  it('walFileName equals pg_walfile_name, and formatLsn equals pg_lsn output', async () => {
    await withServer({ major: 18, initdbArgs: [`--wal-segsize=${mb}`] }, async (s) => {
      const segSize = mb * 1024 * 1024;
      const lsns = fc.sample(
        fc.tuple(fc.integer({ min: 0, max: 0x1fffff }), fc.integer({ min: 1, max: 0xffffffff })).map(([hi, lo]) => lsnFromParts(hi, lo)),
        { numRuns: 200, seed: 42 },
      );
      // Not on a segment boundary: 14–16 map a boundary to the previous segment, 17+ to the next.
      const inside = lsns.filter((l) => l % segSize !== 0);
      const rows = await s.query<{ lsn: string; f: string }>(
        `select l::text as lsn, pg_walfile_name(l) as f from unnest($1::pg_lsn[]) l`,
        [inside.map(formatLsn)],
      );
      expect(rows.length).toBe(inside.length);
      rows.forEach((r, i) => {
        expect(r.lsn).toBe(formatLsn(inside[i]!));
        expect(walFileName(1, segmentOf(inside[i]!, segSize), segSize)).toBe(r.f);
      });
    });
  });
});

it('accepts and refuses the same LSN text as the server', async () => {
  await withServer({ major: 15 }, async (s) => {
    const inputs = ['0/0', '0/1', '16/b374d848', 'zz', '', '0/', '/0', ' 0/1', '0/1 ', '123456789/0', '0/0/0', '00000001/00000000', 'G/0'];
    for (const text of inputs) {
      let server: string | null;
      try {
        server = (await s.query<{ t: string }>('select $1::pg_lsn::text as t', [text]))[0]!.t;
      } catch {
        server = null;
      }
      let ours: string | null;
      try {
        ours = formatLsn(parseLsn(text));
      } catch {
        ours = null;
      }
      expect(ours, JSON.stringify(text)).toBe(server);
    }
  });
});
