// Live, every major: timestamptz values (and include-timestamp's commit times) print in the slot's TimeZone, as
// the server's session prints them — daylight saving, half-hour zones, and local mean time before 1900.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { parseSlotState, serializeSlotState } from '../src/slot/state.js';
import { MAJORS, withServer } from './support/pg-server.js';
import { dsnOf, runCli } from './support/cli.js';

const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;
const ZONES = ['Europe/Berlin', 'America/St_Johns', 'Asia/Kolkata', 'America/New_York', 'Australia/Lord_Howe', 'UTC'];

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it('timestamptz in the slot TimeZone equals the server session in the same TimeZone', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-tz-'));
    try {
      await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
        const c = await server.connect();
        try {
          await c.query('create table t (id int primary key, at timestamptz, ats timestamptz[], r tstzrange)');
          const state = path.join(work, 'slot.state');
          expect((await runCli(['slot', 'create', '--dsn', dsnOf(server), '--slot', 's', '--state', state])).code).toBe(0);
          const values = [
            `'2026-03-29 00:59:59.5+00'`, `'2026-03-29 01:00:00+00'`, `'2026-10-25 00:30:00+00'`, `'2026-10-25 01:30:00+00'`,
            `'1850-06-01 12:00:00+00'`, `'1900-01-01 00:00:00+00'`, `'0044-03-15 12:00:00+00 BC'`, `'1970-01-01 00:00:00+00'`,
            `'2100-07-01 12:34:56.789+00'`, `'infinity'`, `'-infinity'`, `'2026-11-22 01:02:03.000004+00'`,
          ];
          let id = 0;
          for (const v of values) await c.query(`insert into t values (${++id}, ${v}, array[${v}::timestamptz, null], tstzrange(${v}, null))`);
          await c.query(`update t set at = at + interval '1 hour' where id % 3 = 0`);
          const end = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
          await c.query('checkpoint');
          const base = parseSlotState(fs.readFileSync(state), state);
          for (const zone of ZONES) {
            await c.query(`set timezone = '${zone}'`);
            const theirs = (
              await c.query({ text: `select data from pg_logical_slot_peek_changes('s', $1, null, 'include-timestamp', '1', 'include-xids', '0')`, values: [end], rowMode: 'array', types: asText })
            ).rows.map(([d]) => `${d}\n`);
            const zoned = path.join(work, `${zone.replace('/', '_')}.state`);
            fs.writeFileSync(zoned, serializeSlotState({ ...base, timezone: zone }));
            const ours = await runCli(['decode', '--state', zoned, '-p', server.pgWalDir, '--end', end, '-o', 'include-timestamp=1', '-o', 'include-xids=0']);
            expect(ours.stderr).toBe('');
            expect(theirs.length).toBeGreaterThan(20);
            expect(ours.stdout.split('\n'), zone).toEqual(theirs.join('').split('\n'));
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
