// Live: one transaction of more than 200 MB of WAL, decoded with a 16 MB memory limit through spill files —
// the output equals pg_logical_slot_peek_changes line for line (compared by SHA-256 and count, streamed), the
// queued changes (with the spilled chunks kept for reuse) never exceed the limit, and no spill file is left. Every major.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { formatLsn, parseLsn } from '../src/index.js';
import { loadCatalog } from '../src/node/catalog.js';
import { FileSpillStore } from '../src/node/spill.js';
import { openWal } from '../src/node/wal.js';
import { TestDecodingDecoder } from '../src/reorderbuffer/logical.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import { MAJORS, withServer } from './support/pg-server.js';

const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;
const LIMIT = 16 * 1024 * 1024;

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it('a transaction of more than 200 MB decodes through spill files with a 16 MB limit, identical to the server', async () => {
    const spillDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-spill-'));
    try {
      await withServer({ major, gucs: { wal_keep_size: "'4GB'", max_wal_size: "'4GB'" } }, async (server) => {
        const c = await server.connect();
        try {
          await c.query('create table wide (id int primary key, payload text, n int)');
          const catalog = await loadCatalog(c);
          const databaseOid = Number((await c.query(`select oid from pg_database where datname = current_database()`)).rows[0].oid);
          await c.query(`select pg_create_logical_replication_slot('s', 'test_decoding')`);
          const slot = (await c.query(`select restart_lsn::text, confirmed_flush_lsn::text from pg_replication_slots where slot_name = 's'`)).rows[0];
          const start = parseLsn((await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l);
          // 960-character rows stay inline and uncompressed: ~1 KB of WAL each. An update and a delete at the end.
          await c.query('begin');
          await c.query(`insert into wide select g, repeat(md5(g::text), 30), g from generate_series(1, 210000) g`);
          await c.query(`update wide set n = -n where id % 50000 = 0`);
          await c.query(`delete from wide where id % 70000 = 0`);
          await c.query('commit');
          await c.query(`insert into wide values (0, 'after', 0)`);
          const end = parseLsn((await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l);
          await c.query('checkpoint');
          expect(end - start, 'the transaction wrote more than 200 MB of WAL').toBeGreaterThan(200 * 1024 * 1024);

          const theirs = crypto.createHash('sha256');
          let theirLines = 0;
          await c.query('begin');
          await c.query({ text: `declare cur cursor for select data from pg_logical_slot_peek_changes('s', $1, null, 'include-xids', '1')`, values: [formatLsn(end)] });
          for (;;) {
            const rows = (await c.query({ text: 'fetch 20000 from cur', rowMode: 'array', types: asText })).rows;
            if (rows.length === 0) break;
            for (const [d] of rows) theirs.update(`${d}\n`);
            theirLines += rows.length;
          }
          await c.query('commit');

          const ours = crypto.createHash('sha256');
          let ourLines = 0;
          const spill = new FileSpillStore(spillDir);
          const decoder = new TestDecodingDecoder({ databaseOid, ...catalog }, profileForMajor(major)!.major, { includeXids: true }, parseLsn(slot.confirmed_flush_lsn), {
            memoryLimit: LIMIT,
            spill,
            sink: (row) => {
              ours.update(`${row.data}\n`);
              ourLines++;
            },
          });
          let maxQueued = 0;
          let maxHeld = 0;
          let maxPooled = 0;
          let maxSpilled = 0;
          for await (const rec of openWal({ path: server.pgWalDir }).records({ start: parseLsn(slot.restart_lsn), end })) {
            decoder.process(rec);
            maxQueued = Math.max(maxQueued, decoder.memoryUsed);
            maxHeld = Math.max(maxHeld, decoder.memoryUsed + decoder.memoryPooled);
            maxPooled = Math.max(maxPooled, decoder.memoryPooled);
            maxSpilled = Math.max(maxSpilled, spill.bytes);
          }
          decoder.close();
          expect(ourLines).toBe(theirLines);
          expect(ourLines).toBeGreaterThan(210000);
          expect(ours.digest('hex')).toBe(theirs.digest('hex'));
          expect(decoder.spills, 'the transaction was spilled').toBeGreaterThan(5);
          expect(maxSpilled).toBeGreaterThan(150 * 1024 * 1024);
          expect(maxQueued, 'queued changes stay under the limit').toBeLessThan(LIMIT);
          expect(maxPooled, 'spilled chunks are kept for reuse').toBeGreaterThan(0);
          expect(maxHeld, 'queued changes with the chunks kept for reuse stay under the limit').toBeLessThan(LIMIT);
          expect(fs.readdirSync(spillDir), 'spill files are removed at commit').toEqual([]);
        } finally {
          await c.end();
        }
      });
    } finally {
      fs.rmSync(spillDir, { recursive: true, force: true });
    }
  }, 600_000);
});
