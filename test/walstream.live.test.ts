// Live, every major: the streaming client's duties towards the server.
//  - Keepalives asking for a reply are answered: with no periodic status updates, the walsender's
//    wal_sender_timeout (1 s here) would otherwise end the connection.
//  - Hot standby feedback carries a catalog_xmin that the server's physical slot then shows.
//  - Status updates move the physical slot's restart_lsn to the flush position reported.
//  - ReconnectingWalStream: the walsender killed 10 times during a workload; the bytes delivered are
//    contiguous, and equal to the server's segments in pg_wal.
//  - Failover through a host list: the primary dies, its standby is promoted, target_session_attrs=primary
//    leads the stream there; it ends timeline 1 and goes on on timeline 2, equal to the promoted server's files.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { walFileName } from '../src/walfile.js';
import { formatLsn, parseLsn } from '../src/lsn.js';
import { ReplicationConnection } from '../src/node/replication.js';
import { ReconnectingWalStream, WalStream, type WalStreamEvent } from '../src/node/walreceiver.js';
import { MAJORS, Server } from './support/pg-server.js';
import { waitForReplay } from './support/slot.js';

const dsn = (s: Server): string => `host=${s.socketDir} port=${s.port} user=postgres`;

async function currentLsn(s: Server): Promise<number> {
  const [{ lsn }] = (await s.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')) as [{ lsn: string }];
  return parseLsn(lsn);
}

async function until(what: string, test: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Consumes a stream in the background; `received()` is the end of what arrived. */
function consume(stream: WalStream): { events: WalStreamEvent[]; done: Promise<unknown>; received(): number } {
  const events: WalStreamEvent[] = [];
  let end = 0;
  const done = (async () => {
    for await (const ev of stream) {
      events.push(ev.type === 'data' ? { ...ev, data: ev.data.slice(0, 0) } : ev);
      if (ev.type === 'data') {
        end = ev.dataStart + ev.data.length;
        stream.report({ write: end, flush: end, apply: end });
      }
    }
  })().then(
    () => undefined,
    (e: unknown) => e,
  );
  return { events, done, received: () => end };
}

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it('answers keepalives, sends hot standby feedback with a catalog_xmin, moves the slot by its flush position', async () => {
    const server = await Server.create({ major, gucs: { wal_sender_timeout: "'1s'" } });
    try {
      await server.start();
      await server.query(`select pg_create_physical_replication_slot('fb', true)`);
      await server.query('create table t (id int)');
      const [{ x }] = (await server.query<{ x: string }>('select txid_current()::text as x')) as [{ x: string }];
      const full = BigInt(x);
      const catalogXmin = Number(full & 0xffffffffn);
      const catalogXminEpoch = Number(full >> 32n);
      const conn = await ReplicationConnection.connect({ connectionString: dsn(server), env: {} });
      const id = await conn.identifySystem();
      const seg = await conn.walSegmentSize();
      const start = id.xlogpos - (id.xlogpos % seg);
      let feedback = false;
      const stream = new WalStream(conn, {
        slot: 'fb',
        startLsn: start,
        timeline: id.timeline,
        // No periodic updates for the first part: only replies to keepalives keep the connection.
        statusIntervalMs: 0,
        hotStandbyFeedback: () => (feedback ? { xmin: 0, xminEpoch: 0, catalogXmin, catalogXminEpoch } : undefined),
      });
      const c = consume(stream);
      try {
        // Three wal_sender_timeouts without traffic of our own.
        await new Promise((r) => setTimeout(r, 3500));
        await server.query('insert into t values (1)');
        await server.query('select pg_switch_wal()');
        const target = await currentLsn(server);
        await until(`WAL up to ${formatLsn(target)}`, async () => c.received() >= target);
        const [state] = await server.query<{ active: boolean }>(`select active from pg_replication_slots where slot_name = 'fb'`);
        expect(state!.active).toBe(true);

        // Feedback: the slot holds the catalog rows from catalog_xmin on.
        feedback = true;
        stream.report({}, true);
        await until('catalog_xmin on the slot', async () => {
          const [r] = await server.query<{ catalog_xmin: string | null }>(`select catalog_xmin::text from pg_replication_slots where slot_name = 'fb'`);
          return r!.catalog_xmin === String(catalogXmin);
        });
        // The flush position reported is the slot's restart_lsn.
        const [r] = await server.query<{ restart_lsn: string }>(`select restart_lsn::text from pg_replication_slots where slot_name = 'fb'`);
        expect(parseLsn(r!.restart_lsn)).toBe(c.received());
      } finally {
        stream.stop();
        expect(await c.done).toBeUndefined();
        conn.close();
      }
      expect(c.events.at(-1)?.type).toBe('end');
    } finally {
      await server.destroy();
    }
  });

  it('reconnects with backoff after the walsender is killed, resuming at the next byte: nothing lost, nothing twice', async () => {
    const server = await Server.create({ major, gucs: { wal_keep_size: "'1GB'" } });
    try {
      await server.start();
      await server.query(`select pg_create_physical_replication_slot('rc', true)`);
      await server.query('create table t (id int, v text)');
      const first = await ReplicationConnection.connect({ connectionString: dsn(server), env: {} });
      const id = await first.identifySystem();
      const seg = await first.walSegmentSize();
      first.close();
      const start = id.xlogpos - (id.xlogpos % seg);
      const reconnects: number[] = [];
      const stream = new ReconnectingWalStream({
        connect: () => ReplicationConnection.connect({ connectionString: dsn(server), env: {} }),
        slot: 'rc',
        startLsn: start,
        timeline: id.timeline,
        statusIntervalMs: 100,
        initialDelayMs: 10,
        onReconnect: (r) => reconnects.push(r.resumeAt),
      });
      const chunks: { at: number; data: Uint8Array }[] = [];
      let end = start;
      const done = (async () => {
        for await (const ev of stream) {
          if (ev.type !== 'data') continue;
          // Contiguous across reconnections: each chunk starts where the last one ended.
          if (ev.dataStart !== end) throw new Error(`chunk at ${formatLsn(ev.dataStart)}, expected ${formatLsn(end)}`);
          chunks.push({ at: ev.dataStart, data: ev.data.slice() });
          end = ev.dataStart + ev.data.length;
          stream.report({ write: end, flush: end });
        }
      })();
      let failed: unknown;
      done.catch((e: unknown) => (failed = e));
      const check = (): void => {
        if (failed !== undefined) throw failed;
      };
      let kills = 0;
      for (let i = 0; i < 10; i++) {
        await server.query(`insert into t select g, repeat('x', 200) from generate_series(1, 3000) g`);
        await until('a walsender to kill', async () => (check(), (await server.query(`select 1 from pg_stat_replication`)).length > 0));
        const killed = await server.query<{ ok: boolean }>(`select pg_terminate_backend(pid) as ok from pg_stat_replication`);
        kills += killed.filter((k) => k.ok).length;
      }
      await server.query('select pg_switch_wal()');
      const target = await currentLsn(server);
      await until(`WAL up to ${formatLsn(target)}`, async () => (check(), end >= target - (target % seg)));
      stream.stop();
      await done;
      expect(kills).toBe(10);
      expect(reconnects.length).toBeGreaterThanOrEqual(10);
      // Every whole segment received equals the server's file.
      const all = new Uint8Array(end - start);
      for (const c of chunks) all.set(c.data, c.at - start);
      let compared = 0;
      for (let s0 = start; s0 + seg <= end; s0 += seg) {
        const name = walFileName(id.timeline, s0 / seg, seg);
        const theirs = fs.readFileSync(path.join(server.pgWalDir, name));
        expect(Buffer.compare(Buffer.from(all.subarray(s0 - start, s0 - start + seg)), theirs), name).toBe(0);
        compared++;
      }
      expect(compared).toBeGreaterThanOrEqual(3);
    } finally {
      await server.destroy();
    }
  });

  it('failover through a host list: the stream follows the promoted standby onto timeline 2', async () => {
    const base = fs.mkdtempSync(path.join((await import('node:os')).tmpdir(), 'pgwal-failover-stream-'));
    fs.chmodSync(base, 0o755);
    const primary = await Server.create({ major, gucs: { wal_keep_size: "'1GB'" } });
    let standby: Server | undefined;
    try {
      await primary.start();
      await primary.query('create table t (id int, v text)');
      await primary.stop('fast');
      fs.cpSync(primary.dataDir, path.join(base, 'standby'), { recursive: true });
      standby = await Server.create({
        major,
        dataDir: path.join(base, 'standby'),
        gucs: { primary_conninfo: `'host=${primary.socketDir} port=${primary.port} user=postgres'`, wal_keep_size: "'1GB'" },
      });
      fs.writeFileSync(path.join(standby.dataDir, 'standby.signal'), '');
      if (standby.owner) fs.chownSync(path.join(standby.dataDir, 'standby.signal'), standby.owner.uid, standby.owner.gid);
      await primary.start();
      await standby.start();
      const hosts = `host=${primary.socketDir},${standby.socketDir} port=${primary.port},${standby.port} user=postgres target_session_attrs=primary`;
      const first = await ReplicationConnection.connect({ connectionString: hosts, env: {} });
      expect(first.address.port).toBe(primary.port);
      const id = await first.identifySystem();
      first.close();
      const seg = 1024 * 1024;
      const start = id.xlogpos - (id.xlogpos % seg);
      const ports: number[] = [];
      const stream = new ReconnectingWalStream({
        connect: async () => {
          const c = await ReplicationConnection.connect({ connectionString: hosts, env: {} });
          ports.push(c.address.port);
          return c;
        },
        startLsn: start,
        timeline: id.timeline,
        statusIntervalMs: 100,
        initialDelayMs: 50,
        maxDelayMs: 500,
      });
      const bytes = new Map<number, Uint8Array>(); // timeline 2 data by LSN
      let end = start;
      let timeline = 1;
      const switches: WalStreamEvent[] = [];
      const done = (async () => {
        for await (const ev of stream) {
          if (ev.type === 'timeline-switch') {
            switches.push(ev);
            timeline = ev.nextTimeline;
            end = ev.restartLsn;
          } else if (ev.type === 'data') {
            if (ev.dataStart !== end) throw new Error(`chunk at ${formatLsn(ev.dataStart)}, expected ${formatLsn(end)}`);
            if (ev.timeline === 2) bytes.set(ev.dataStart, ev.data.slice());
            end = ev.dataStart + ev.data.length;
          }
        }
      })();
      let failed: unknown;
      done.catch((e: unknown) => (failed = e));
      await primary.query(`insert into t select g, repeat('z', 100) from generate_series(1, 5000) g`);
      const sent = formatLsn(await currentLsn(primary));
      await waitForReplay(standby, sent);
      await until('the stream to catch up', async () => (failed === undefined ? end >= parseLsn(sent) : Promise.reject(failed)));
      await primary.stop('immediate');
      await standby.query('select pg_promote(true, 60)');
      await standby.query(`insert into t select g, repeat('w', 100) from generate_series(1, 5000) g`);
      await standby.query('select pg_switch_wal()');
      const target = await currentLsn(standby);
      await until(`timeline 2 up to ${formatLsn(target)}`, async () => (failed === undefined ? timeline === 2 && end >= target - (target % seg) : Promise.reject(failed)));
      stream.stop();
      await done;
      expect(ports[0]).toBe(primary.port);
      expect(ports.at(-1)).toBe(standby.port);
      expect(switches).toHaveLength(1);
      expect(switches[0]).toMatchObject({ timeline: 1, nextTimeline: 2 });
      // Every timeline-2 byte received equals the promoted server's file at that place.
      const first2 = (switches[0] as { restartLsn: number }).restartLsn;
      const all = new Uint8Array(end - first2);
      for (const [at, d] of bytes) all.set(d, at - first2);
      let compared = 0;
      for (let s0 = first2 - (first2 % seg); s0 < end; s0 += seg) {
        const name = walFileName(2, s0 / seg, seg);
        const from = Math.max(s0, first2);
        const to = Math.min(s0 + seg, end);
        const theirs = fs.readFileSync(path.join(standby.pgWalDir, name)).subarray(from - s0, to - s0);
        expect(Buffer.compare(Buffer.from(all.subarray(from - first2, to - first2)), theirs), name).toBe(0);
        compared += to - from;
      }
      expect(end).toBeGreaterThanOrEqual(target - (target % seg));
      expect(compared).toBeGreaterThan(500_000);
    } finally {
      await standby?.destroy();
      await primary.destroy();
      fs.rmSync(base, { recursive: true, force: true });
    }
  });
});
