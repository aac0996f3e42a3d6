// The timed pgwal decoding loop, run in a child `node` (plain JS, no tsx) against the built package in dist/.
//
//   node bench/decode-worker.mjs WALDIR STATEFILE END WARMUPS RUNS [test_decoding|json]
//
// Per pass: the slot state file's catalog and position, openWal({ recycleWindows: true }).recordsSync() from
// restart_lsn to END, every record through TestDecodingDecoder (test_decoding defaults, file spill store, 64 MB
// limit) and every output row's text into a sink that counts rows and characters. The first warm-up pass also
// hashes the rows (SHA-256 of each row + "\n", as `psql -At` prints them) to compare with the server's output.
// With `json`, the same through LogicalDecoder and the wal2json format-version 2 plugin instead (no server output
// to compare with: its rows are counted).
// Prints one JSON line: seconds per timed run (in-process wall time) and CPU seconds (user + system, all threads),
// rows, characters, sha256, memory.
import crypto from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { parseLsn } from '../dist/index.js';
import { FileSpillStore, openWal, readSlotStateFile } from '../dist/node.js';
import { LogicalDecoder, parseWal2JsonOptions, TestDecodingDecoder, Wal2JsonPlugin } from '../dist/reorderbuffer.js';

const [dir, stateFile, endText, warmupText, runsText, pluginName = 'test_decoding'] = process.argv.slice(2);
if (runsText === undefined) throw new Error('usage: decode-worker.mjs WALDIR STATEFILE END WARMUPS RUNS');
const state = readSlotStateFile(stateFile);
const end = parseLsn(endText);

function once(hash) {
  // The decoder copies what it keeps out of each record before the next is read: windows are recycled.
  const wal = openWal({ path: dir, recycleWindows: true });
  let rows = 0;
  let chars = 0;
  const spill = new FileSpillStore(path.join(os.tmpdir(), `pgwal-bench-spill-${process.pid}`));
  const sink =
    hash === undefined
      ? (row) => {
          rows++;
          chars += row.data.length;
        }
      : (row) => {
          rows++;
          chars += row.data.length;
          hash.update(row.data);
          hash.update('\n');
        };
  const decoder =
    pluginName === 'json'
      ? new LogicalDecoder({
          catalog: state.catalog,
          major: state.major,
          plugin: new Wal2JsonPlugin(parseWal2JsonOptions([['format-version', '2']])),
          startAt: parseLsn(state.confirmedFlush),
          spill,
          sink,
        })
      : new TestDecodingDecoder(state.catalog, state.major, {}, parseLsn(state.confirmedFlush), { spill, sink });
  const records = wal.recordsSync({ start: parseLsn(state.restartLsn), end });
  try {
    for (const rec of records) decoder.process(rec);
  } finally {
    decoder.close();
  }
  if (records.end.reason !== 'end-lsn') throw new Error(`WAL ended early: ${JSON.stringify(records.end)}`);
  return { rows, chars, spills: decoder.spills };
}

const warmups = Number(warmupText);
const runs = Number(runsText);
let sha256;
let result;
for (let i = 0; i < warmups; i++) {
  const hash = i === 0 ? crypto.createHash('sha256') : undefined;
  result = once(hash);
  if (hash !== undefined) sha256 = hash.digest('hex');
}
const seconds = [];
const cpuSeconds = [];
for (let i = 0; i < runs; i++) {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  result = once(undefined);
  seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
  const c = process.cpuUsage(c0);
  cpuSeconds.push((c.user + c.system) / 1e6);
}
const mem = process.memoryUsage();
process.stdout.write(JSON.stringify({ seconds, cpuSeconds, ...result, sha256, rss: mem.rss, heapUsed: mem.heapUsed }) + '\n');
