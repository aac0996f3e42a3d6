// The soak: a real server runs a steady mixed workload for N minutes and archives its WAL; pgwal follows the
// archive through restore_command, decodes, confirms to its slot state every 2 s, and restarts from that
// state half way through. At the end pgwal's rows equal the server slot's own over the whole range, and the
// process's RSS did not grow. `npx tsx scripts/soak.ts --minutes 60 [--major 17] [--seed N]`; the test suite
// runs it for 2 minutes (test/soak.live.test.ts). SOAK_DEBUG=1 prints progress.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { formatLsn, parseLsn, type Lsn } from '../src/lsn.js';
import { ArchiveWal } from '../src/node/restore.js';
import { createSlot, readSlotStateFile, writeSlotStateFile } from '../src/node/slot.js';
import { FileSpillStore } from '../src/node/spill.js';
import { TestDecodingDecoder } from '../src/reorderbuffer/logical.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import { withServer, type Major, type Server } from '../test/support/pg-server.js';
import { rng } from '../test/support/random-rows.js';

export interface SoakOptions {
  minutes: number;
  major: Major;
  seed: number;
  log: (line: string) => void;
}

export interface SoakResult {
  seed: number;
  transactions: number;
  rows: number;
  restarts: number;
  confirms: number;
  /** pgwal's rows equal the server slot's, in order. */
  equal: boolean;
  firstDifference?: string;
  rssMiB: { early: number; end: number; max: number };
  walBytes: number;
}

const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A steady mixed workload on a few sessions until `stop` says so: DML, savepoints, aborts, TOAST, messages. */
async function workload(server: Server, seed: number, stop: () => boolean): Promise<number> {
  const r = rng(seed);
  const int = (lo: number, hi: number): number => Math.floor(lo + r() * (hi - lo + 1));
  const sessions = [await server.connect(), await server.connect(), await server.connect()];
  let id = 0;
  let n = 0;
  try {
    while (!stop()) {
      const c = sessions[int(0, sessions.length - 1)]!;
      const kind = int(0, 9);
      await c.query('begin');
      if (kind <= 4) {
        for (let i = int(1, 20); i > 0; i--) await c.query(`insert into soak values ($1, $2, $3)`, [++id, `row ${id} ${'x'.repeat(int(0, 200))}`, r() * 1000]);
      } else if (kind === 5) {
        // Steady: updates touch recent rows only, and old rows are deleted, so transactions do not grow with time.
        await c.query(`update soak set n = n + 1, note = note || '!' where id > $3 and id % $1 = $2`, [int(5, 40), int(0, 4), id - 400]);
      } else if (kind === 6) {
        await c.query(`delete from soak where id < $1`, [id - 2000]);
      } else if (kind === 7) {
        await c.query(`insert into soak values ($1, $2, 0)`, [++id, 'sp']);
        await c.query('savepoint s');
        await c.query(`insert into soak values ($1, $2, 0)`, [++id, 'rolled back']);
        await c.query('rollback to savepoint s');
      } else if (kind === 8) {
        await c.query(`insert into soak values ($1, (select string_agg(md5(g::text || $2), '') from generate_series(1, 200) g), 0)`, [++id, String(id)]);
        await c.query(`select pg_logical_emit_message(true, 'soak', $1)`, [`tx ${id}`]);
      } else {
        await c.query(`insert into soak values ($1, 'aborted', 0)`, [++id]);
        await c.query('rollback');
        n++;
        continue;
      }
      await c.query('commit');
      n++;
      if (n % 50 === 0) await sleep(5);
    }
  } finally {
    for (const s of sessions) await s.end();
  }
  return n;
}

export async function soak(o: SoakOptions): Promise<SoakResult> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-soak-'));
  fs.chmodSync(work, 0o755);
  const archive = path.join(work, 'archive');
  fs.mkdirSync(archive, { mode: 0o777 });
  fs.chmodSync(archive, 0o777); // the server may run as another user
  const stateFile = path.join(work, 'soak.state');
  try {
    return await withServer(
      { major: o.major, gucs: { archive_mode: 'on', archive_command: `'cp %p ${archive}/%f'`, archive_timeout: "'1s'", autovacuum: 'off', wal_keep_size: "'4GB'" } },
      async (server) => {
        const c = await server.connect();
        try {
          await c.query('create table soak (id int primary key, note text, n float8)');
          const dsn = `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(server.socketDir)}&port=${server.port}`;
          writeSlotStateFile(stateFile, await createSlot({ connection: dsn, slotName: 'soak' }));
          const startState = readSlotStateFile(stateFile);
          o.log(`soak: PostgreSQL ${o.major}, ${o.minutes} min, seed ${o.seed}; slot at ${startState.restartLsn}`);

          const deadline = Date.now() + o.minutes * 60_000;
          let stopWorkload = false;
          const work$ = workload(server, o.seed, () => stopWorkload || Date.now() > deadline);

          // The decoder: follows the archive, writes rows, confirms every 2 s; restarted from its state half way.
          // Confirmed rows go to a file and a running hash: the soak's own memory must not grow with the output.
          const rowsFile = path.join(work, 'rows.txt');
          const ourHash = crypto.createHash('sha256');
          let ourRows = 0;
          const keep = (rows: string[]): void => {
            if (rows.length === 0) return;
            const text = rows.map((r) => `${r}\n`).join('');
            ourHash.update(text);
            fs.appendFileSync(rowsFile, text);
            ourRows += rows.length;
          };
          let restarts = 0;
          let confirms = 0;
          let finalEnd: Lsn | undefined;
          const rss: { t: number; mib: number }[] = [];
          const t0 = Date.now();
          const decodeOnce = async (until: () => boolean): Promise<void> => {
            const state = readSlotStateFile(stateFile);
            const spill = new FileSpillStore(`${stateFile}.spill`);
            // Rows of a run count only once confirmed: a restart replays what was printed after the last confirm.
            const pending: string[] = [];
            const decoder = new TestDecodingDecoder(state.catalog, profileForMajor(o.major)!.major, { includeXids: true, skipEmptyXacts: true }, parseLsn(state.confirmedFlush), {
              spill,
              sink: (row) => pending.push(`${formatLsn(row.lsn)}\t${row.xid}\t${row.data}`),
            });
            const wal = await ArchiveWal.open({ restoreCommand: `cp ${archive}/%f %p`, segmentSize: 1024 * 1024 });
            const abort = new AbortController();
            let readTo = parseLsn(state.restartLsn);
            let lastConfirm = Date.now();
            const confirm = (): void => {
              if (decoder.lastCommitEnd <= parseLsn(readSlotStateFile(stateFile).confirmedFlush)) return;
              const restart = Math.max(parseLsn(state.restartLsn), Math.min(decoder.restartPoint(readTo), decoder.lastCommitEnd));
              writeSlotStateFile(stateFile, { ...readSlotStateFile(stateFile), confirmedFlush: formatLsn(decoder.lastCommitEnd), restartLsn: formatLsn(restart) });
              keep(pending.splice(0));
              confirms++;
            };
            const watcher = setInterval(() => {
              rss.push({ t: Date.now() - t0, mib: process.memoryUsage().rss / 1048576 });
              if (process.env.SOAK_DEBUG && rss.length % 8 === 0) o.log(`  read to ${formatLsn(readTo)}, ${pending.length} pending, ${ourRows} confirmed rows, archive ${fs.readdirSync(archive).length} files`);
              if (until()) abort.abort();
            }, 250);
            try {
              for await (const rec of wal.records({ start: parseLsn(state.restartLsn), startTimeline: state.timeline, follow: { pollMs: 200 }, signal: abort.signal })) {
                decoder.process(rec);
                readTo = rec.endLsn;
                if (Date.now() - lastConfirm > 2000) {
                  confirm();
                  lastConfirm = Date.now();
                }
                if (finalEnd !== undefined && readTo >= finalEnd) break;
              }
            } catch (e) {
              if (!abort.signal.aborted) throw e;
            } finally {
              clearInterval(watcher);
              confirm();
              decoder.close();
              wal.close();
            }
          };
          const half = Date.now() + (o.minutes * 60_000) / 2;
          await decodeOnce(() => Date.now() > half);
          restarts++;
          o.log(`soak: restarting the decoder from its state (confirmed ${readSlotStateFile(stateFile).confirmedFlush})`);
          const second = decodeOnce(() => false);
          // Awaited below, after the workload: a failure before then must not be an unhandled rejection.
          second.catch(() => undefined);
          const transactions = await work$;
          stopWorkload = true;
          const end = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
          // A record past `end` for the decoder to stop at: when an archive_timeout switch has just left the insert
          // position at a segment's start, pg_switch_wal() writes nothing and nothing else would come (the
          // workload is over), so the decoder would wait for ever. A checkpoint's records decode to no rows.
          await c.query('checkpoint');
          await c.query('select pg_switch_wal()');
          finalEnd = parseLsn(end);
          await second;

          // The server slot's rows over the same range, fetched in batches through a cursor.
          const theirHash = crypto.createHash('sha256');
          let theirRows = 0;
          let firstDifference: string | undefined;
          const ours = fs.existsSync(rowsFile) ? fs.readFileSync(rowsFile, 'utf8').split('\n') : [];
          await c.query('begin');
          await c.query({ text: `declare cur cursor for select lsn, xid, data from pg_logical_slot_peek_changes('soak', $1, null, 'include-xids', '1', 'skip-empty-xacts', '1')`, values: [end] });
          for (;;) {
            const batch = (await c.query({ text: 'fetch 10000 from cur', rowMode: 'array', types: asText })).rows;
            if (batch.length === 0) break;
            for (const row of batch) {
              const line = row.join('\t');
              theirHash.update(`${line}\n`);
              if (firstDifference === undefined && ours[theirRows] !== line) {
                firstDifference = `row ${theirRows}: pgwal ${JSON.stringify(ours[theirRows]?.slice(0, 200))}, server ${JSON.stringify(line.slice(0, 200))}`;
              }
              theirRows++;
            }
          }
          await c.query('commit');
          if (firstDifference === undefined && (ourRows !== theirRows || ourHash.digest('hex') !== theirHash.digest('hex'))) {
            firstDifference = `pgwal has ${ourRows} rows, the server ${theirRows}`;
          }
          const early = rss.filter((s) => s.t > 10_000).slice(0, 20);
          const result: SoakResult = {
            seed: o.seed,
            transactions,
            rows: ourRows,
            restarts,
            confirms,
            equal: firstDifference === undefined,
            ...(firstDifference !== undefined ? { firstDifference } : {}),
            rssMiB: {
              early: Math.max(...early.map((s) => s.mib), 0),
              end: rss[rss.length - 1]?.mib ?? 0,
              max: Math.max(...rss.map((s) => s.mib)),
            },
            walBytes: parseLsn(end) - parseLsn(startState.restartLsn),
          };
          o.log(`soak: ${JSON.stringify(result)}`);
          return result;
        } finally {
          await c.end();
        }
      },
    );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string, d: string): string => {
    const i = process.argv.indexOf(`--${name}`);
    return i < 0 ? d : process.argv[i + 1]!;
  };
  const result = await soak({ minutes: Number(arg('minutes', '2')), major: Number(arg('major', '17')) as Major, seed: Number(arg('seed', String(Date.now() % 100000))), log: console.log });
  const grew = result.rssMiB.end - result.rssMiB.early;
  console.log(result.equal ? 'equal to the server slot' : `DIFFERENT: ${result.firstDifference}`);
  console.log(`RSS: ${result.rssMiB.early.toFixed(0)} MiB early, ${result.rssMiB.end.toFixed(0)} MiB at the end (max ${result.rssMiB.max.toFixed(0)})`);
  process.exit(result.equal && grew < 64 ? 0 : 1);
}
