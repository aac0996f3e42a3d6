// The timed pgwal loops, run in a child `node` (plain JS, no tsx) against the built package in dist/.
//
//   node bench/worker.mjs read|read1|readr|stats DIR START END WARMUPS RUNS
//
// read:  every record through the library (openWal().recordsSync): page validation, framing, CRC-32C,
//        block-header decode; nothing printed (pg_waldump -q). The default read-ahead: a worker thread reads
//        the next windows and checks their CRCs while this thread frames.
// read1: the same on one thread (openWal({ readAhead: 0 })).
// readr: the same through openWal({ recycleWindows: true }).recordsSync() (what `pgwal dump` does): windows are
//        read into slots of memory shared with the worker and reused once left; no record is kept.
// stats: the same plus WalStats.add per record and the pg_waldump --stats text at the end
//        (PGWAL_BENCH_PRINT=1 writes it to stderr).
// Prints one JSON line: seconds per timed run (in-process wall time of the loop), records, last record end.
import { parseLsn } from '../dist/index.js';
import { openWal } from '../dist/node.js';
import { readRecordsSync, WalStats, waldumpStatsText } from '../dist/xlogreader.js';

const [mode, dir, startText, endText, warmupText, runsText] = process.argv.slice(2);
if (mode !== 'read' && mode !== 'read1' && mode !== 'readr' && mode !== 'stats') throw new Error('usage: worker.mjs read|read1|readr|stats DIR START END WARMUPS RUNS');
const start = parseLsn(startText);
const end = parseLsn(endText);

function once() {
  if (mode === 'readr') {
    const records = openWal({ path: dir, recycleWindows: true }).recordsSync({ start, end });
    let n = 0;
    let lastEnd = 0;
    for (const rec of records) {
      n++;
      lastEnd = rec.endLsn;
    }
    if (records.end.reason !== 'end-lsn') throw new Error(`WAL ended early: ${JSON.stringify(records.end)}`);
    return { records: n, lastEnd, text: '' };
  }
  // What openWal().recordsSync() does, keeping the reader to hand for its profile (the stats text needs it).
  const wal = openWal({ path: dir, readAhead: mode === 'read1' ? 0 : undefined });
  const reader = wal.reader({ start, end });
  const it = readRecordsSync(reader, wal.source());
  let records = 0;
  let lastEnd = 0;
  let text = '';
  let r;
  if (mode !== 'stats') {
    while (!(r = it.next()).done) {
      records++;
      lastEnd = r.value.endLsn;
    }
  } else {
    const stats = new WalStats();
    while (!(r = it.next()).done) {
      records++;
      lastEnd = r.value.endLsn;
      stats.add(r.value);
    }
    text = waldumpStatsText(stats, false, reader.profile);
  }
  if (r.value.reason !== 'end-lsn') throw new Error(`WAL ended early: ${JSON.stringify(r.value)}`);
  return { records, lastEnd, text };
}

const warmups = Number(warmupText);
const runs = Number(runsText);
for (let i = 0; i < warmups; i++) once();
const seconds = [];
let result;
for (let i = 0; i < runs; i++) {
  const t0 = process.hrtime.bigint();
  result = once();
  seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
}
const mem = process.memoryUsage();
process.stdout.write(JSON.stringify({ mode, seconds, records: result.records, lastEnd: result.lastEnd, rss: mem.rss, heapUsed: mem.heapUsed }) + '\n');
if (process.env.PGWAL_BENCH_PRINT === '1') process.stderr.write(result.text);
