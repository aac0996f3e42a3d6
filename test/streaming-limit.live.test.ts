// Live, 15–18: streaming at a memory limit. At logical_decoding_work_mem = 64kB (the least the server takes) the
// server streams the largest transaction each time its changes pass the limit, counted as ReorderBufferChangeSize
// counts them; `pgwal decode --memory-limit 64kB` must count and choose the same, or its Stream Start/Stop fall at
// other changes. Large transactions interleaved, with savepoints, TOAST values and a catalog change in one of them
// (whose commit hands a new snapshot to the others), through test_decoding's stream-changes and pgoutput's
// streaming=on, byte for byte.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { withServer, type Server } from './support/pg-server.js';
import { dsnOf, runCli } from './support/cli.js';

const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

async function workload(server: Server): Promise<void> {
  const [a, b, c] = [await server.connect(), await server.connect(), await server.connect()];
  const rows = (from: number, n: number, width: number): string =>
    `select g, repeat(md5(g::text), ${width}) from generate_series(${from}, ${from + n - 1}) g`;
  try {
    await a.query('begin');
    await b.query('begin');
    await c.query('begin');
    await a.query(`insert into t ${rows(1, 150, 3)}`);
    await b.query(`insert into t ${rows(1000, 40, 1)}`);
    await b.query('savepoint s1');
    await b.query(`insert into t ${rows(2000, 200, 2)}`);
    await c.query(`insert into u values (1, 'x')`);
    // A TOAST value: its chunks are a partial change until the row that uses them.
    await a.query(`insert into t values (-1, (select string_agg(md5(g::text), '') from generate_series(1, 400) g))`);
    await b.query('release savepoint s1');
    await c.query('alter table u add column extra int');
    await c.query(`insert into u select g, md5(g::text), g from generate_series(2, 300) g`);
    await a.query('savepoint s2');
    await a.query(`update t set pad = pad || 'x' where id between 1 and 120`);
    await b.query(`insert into t ${rows(3000, 100, 4)}`);
    await c.query('commit');
    await a.query(`select pg_logical_emit_message(true, 'big', repeat('m', 3000))`);
    await a.query(`insert into t ${rows(4000, 200, 1)}`);
    await b.query(`delete from t where id between 1000 and 1030`);
    await b.query('commit');
    await a.query(`insert into t values (-2, (select string_agg(md5((g * 7)::text), '') from generate_series(1, 300) g))`);
    await a.query('commit');
    await a.query(`insert into t ${rows(5000, 600, 1)}`);
  } finally {
    await a.end();
    await b.end();
    await c.end();
  }
}

describe.each([15, 16, 17, 18] as const)('PostgreSQL %i', (major) => {
  it('streamed blocks at logical_decoding_work_mem = 64kB equal the server, test_decoding and pgoutput', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-stream-limit-'));
    try {
      await withServer({ major, gucs: { wal_keep_size: "'1GB'", logical_decoding_work_mem: "'64kB'" } }, async (server) => {
        const c = await server.connect();
        try {
          await c.query('create table t (id int, pad text)');
          await c.query('alter table t replica identity full');
          await c.query('alter table t alter column pad set storage external');
          await c.query('create table u (id int primary key, note text)');
          await c.query('create publication p for all tables');
          const td = path.join(work, 'td.state');
          const po = path.join(work, 'po.state');
          expect((await runCli(['slot', 'create', '--dsn', dsnOf(server), '--slot', 'td', '--state', td])).code).toBe(0);
          expect((await runCli(['slot', 'create', '--dsn', dsnOf(server), '--slot', 'po', '--plugin', 'pgoutput', '--state', po])).code).toBe(0);
          await workload(server);
          const end = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
          await c.query('checkpoint');
          const cases: { slot: string; state: string; fn: string; opts: [string, string][] }[] = [
            { slot: 'td', state: td, fn: 'pg_logical_slot_peek_changes', opts: [['stream-changes', '1'], ['include-xids', '1'], ['skip-empty-xacts', '0']] },
            { slot: 'po', state: po, fn: 'pg_logical_slot_peek_binary_changes', opts: [['proto_version', '2'], ['publication_names', 'p'], ['streaming', 'on'], ['messages', 'on']] },
          ];
          for (const k of cases) {
            const args = k.opts.flat();
            const theirs = (
              await c.query({
                text: `select lsn, xid, data from ${k.fn}($1, $2, null${args.map((_, i) => `, $${i + 3}`).join('')})`,
                values: [k.slot, end, ...args],
                rowMode: 'array',
                types: asText,
              })
            ).rows.map((r) => r.join('\t'));
            const ours = await runCli(['decode', '--state', k.state, '-p', server.pgWalDir, '--end', end, '--memory-limit', '64kB', '--with-lsn', ...k.opts.flatMap(([n, v]) => ['-o', `${n}=${v}`])]);
            expect(ours.stderr).toBe('');
            // Several streamed blocks, and not everything streamed: the limit decides.
            const starts = theirs.filter((r) => (k.slot === 'td' ? /\topening a streamed block/.test(r) : /\t\\x53/.test(r))).length;
            expect(starts, k.slot).toBeGreaterThan(3);
            if (process.env.PGWAL_DUMP) { fs.writeFileSync(`/tmp/cs-${major}-${k.slot}-theirs`, theirs.join('\n') + '\n'); fs.writeFileSync(`/tmp/cs-${major}-${k.slot}-ours`, ours.stdout); }
            expect(ours.stdout.replace(/\n$/, '').split('\n'), `${major} ${k.slot}`).toEqual(theirs);
          }
        } finally {
          await c.end();
        }
      });
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
