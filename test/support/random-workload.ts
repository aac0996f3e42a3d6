// The seeded random workload of the live decoding tests (test_decoding, pgoutput): many types, NULLs, TOAST,
// savepoints, aborts, concurrent sessions, two-phase commit, COPY, ON CONFLICT, messages, a replication origin,
// TRUNCATE at the end. Expects tables v (COLUMNS), f (id, note, x), big (id, payload, n), sequence sq and the
// replication origin 'elsewhere'.
import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import type { Server } from './pg-server.js';
import { randomRow, rng } from './random-rows.js';

/** One more kind of step, drawn as often as each built-in one. */
export type WorkloadStep = (ctx: { q: (sql: string) => Promise<unknown>; int: (lo: number, hi: number) => number; r: () => number; step: number; nextId: () => number; others: pg.Client[] }) => Promise<void>;

export interface WorkloadOptions {
  /** Number of steps (60). */
  steps?: number;
  /** More kinds of steps. */
  extra?: WorkloadStep[];
  /** TRUNCATE the tables at the end (true). */
  truncate?: boolean;
  /** The next id and prepared-transaction number, shared by workloads on the same tables. */
  ids?: { id: number; gid: number };
}

export async function workload(server: Server, c: pg.Client, seed: number, copyDir: string, opts: WorkloadOptions = {}): Promise<void> {
  const r = rng(seed);
  const int = (lo: number, hi: number): number => Math.floor(lo + r() * (hi - lo + 1));
  const ids = opts.ids ?? { id: 1, gid: 0 };
  const extra = opts.extra ?? [];
  const q = (s: string): Promise<unknown> => c.query(s);
  const others = [await server.connect(), await server.connect()];
  const big = (): string => (r() < 0.5 ? `repeat(md5('${int(0, 1e6)}'), ${int(100, 300)})` : `(select string_agg(md5(g::text || '${int(0, 1e6)}'), '') from generate_series(1, ${int(100, 400)}) g)`);
  try {
    for (let step = 0; step < (opts.steps ?? 60); step++) {
      const kind = int(0, 11 + extra.length);
      if (kind > 11) {
        await extra[kind - 12]!({ q, int, r, step, nextId: () => ids.id++, others });
        continue;
      }
      switch (kind) {
        case 0:
          for (let i = int(1, 5); i > 0; i--) await q(`insert into v values ${randomRow(r, ids.id++)}`);
          break;
        case 1:
          await q(`update v set t = ${r() < 0.5 ? `'u${step}'` : 'null'}, i4 = i4 + 1 where id % ${int(2, 5)} = ${int(0, 1)}`);
          break;
        case 2:
          await q(`delete from v where id % ${int(3, 9)} = 0`);
          break;
        case 3: {
          // Savepoints, some rolled back, and sometimes the whole transaction.
          await q('begin');
          await q(`insert into f values (${ids.id++}, 'top ${step}', ${r()})`);
          for (let s = int(1, 4); s > 0; s--) {
            await q(`savepoint s${s}`);
            await q(`insert into f values (${ids.id++}, 'sub ${s}', ${r()})`);
            if (r() < 0.3) await q(`update f set note = 'in sub' where id = ${ids.id - 1}`);
            if (r() < 0.4) await q(`rollback to savepoint s${s}`);
            else if (r() < 0.5) await q(`release savepoint s${s}`);
          }
          await q(r() < 0.2 ? 'rollback' : 'commit');
          break;
        }
        case 4: {
          // Concurrent sessions, interleaved, committing in a random order; one may abort.
          const [a, b] = others as [pg.Client, pg.Client];
          await a.query('begin');
          await b.query('begin');
          await a.query(`insert into f values (${ids.id++}, 'a', 1)`);
          await b.query(`insert into f values (${ids.id++}, 'b', 2)`);
          await a.query(`update f set x = x + 1 where id = ${ids.id - 2}`);
          await b.query(`insert into big values (${ids.id++}, ${big()}, 0)`);
          const order = r() < 0.5 ? [a, b] : [b, a];
          await order[0]!.query('commit');
          await order[1]!.query(r() < 0.2 ? 'rollback' : 'commit');
          break;
        }
        case 5: {
          // Two-phase commit: prepared, then committed, sometimes after other work.
          const g = `g${seed}_${ids.gid++}`;
          const s = others[0]!;
          await s.query('begin');
          await s.query(`insert into f values (${ids.id++}, 'prepared', 0)`);
          if (r() < 0.5) {
            await s.query('savepoint p');
            await s.query(`insert into f values (${ids.id++}, 'prepared sub', 0)`);
          }
          await s.query(`prepare transaction '${g}'`);
          if (r() < 0.5) await q(`insert into f values (${ids.id++}, 'between', 0)`);
          // Only COMMIT PREPARED: a transaction already rolled back when the server decodes its PREPARE is cut short
          // there or not depending on the server's catalog cache (its concurrent-abort check), which no WAL shows.
          // ROLLBACK PREPARED is covered by the two-phase fixture.
          await q(`commit prepared '${g}'`);
          break;
        }
        case 6: {
          // COPY writes heap multi-insert records, TOAST included.
          const file = path.join(copyDir, `copy-${step}.csv`);
          const lines: string[] = [];
          for (let i = int(2, 30); i > 0; i--) lines.push(`${ids.id++},"copied ""${i}""",${r() < 0.2 ? '' : r()}`);
          fs.writeFileSync(file, lines.join('\n') + '\n', { mode: 0o644 });
          await q(`copy f (id, note, x) from '${file}' with (format csv)`);
          if (r() < 0.5) {
            const tfile = path.join(copyDir, `copy-big-${step}.csv`);
            const rows: string[] = [];
            for (let i = int(2, 6); i > 0; i--) rows.push(`${ids.id++},${'y'.repeat(int(3000, 9000))}${i},${i}`);
            fs.writeFileSync(tfile, rows.join('\n') + '\n', { mode: 0o644 });
            await q(`copy big from '${tfile}' with (format csv)`);
          }
          break;
        }
        case 7:
          await q(`insert into big values (${ids.id++}, ${big()}, 1)`);
          if (r() < 0.5) await q(`update big set n = n + 1 where id % 2 = 0`);
          if (r() < 0.3) await q(`update big set payload = payload || 'z' where id % 3 = 0`);
          break;
        case 8:
          // INSERT … ON CONFLICT: speculative insertions, confirmed or turned into updates.
          await q(`insert into f values (${-int(1, 12)}, 'upsert', 9) on conflict (id) do update set note = excluded.note`);
          await q(`insert into f values (${-int(1, 12)}, 'maybe', 8) on conflict do nothing`);
          break;
        case 9:
          await q(`select pg_logical_emit_message(${r() < 0.5}, 'p${step}', 'content ${step}')`);
          if (r() < 0.5) {
            await q('begin');
            await q(`select pg_logical_emit_message(true, 'in', 'tx ${step}')`);
            await q(`insert into f values (${ids.id++}, 'with message', 0)`);
            await q('commit');
          }
          break;
        case 10:
          await q('begin');
          await q(`insert into v values ${randomRow(r, ids.id++)}`);
          await q('rollback');
          break;
        case 11:
          // A transaction that changes nothing decodable (only a sequence): skipped in every mode.
          await q(`select nextval('sq')`);
          // A transaction replayed from elsewhere (a replication origin): only-local skips it.
          await q(`select pg_replication_origin_session_setup('elsewhere')`);
          await q(`insert into f values (${ids.id++}, 'from an origin', 0)`);
          await q(`select pg_replication_origin_session_reset()`);
          break;
      }
    }
    // TRUNCATE gives the tables new relfilenodes: changes after it need the historic catalog, so it comes last.
    if (opts.truncate ?? true) {
      await q('truncate big');
      await q('truncate f, v restart identity cascade');
    }
  } finally {
    for (const o of others) await o.end();
  }
}

