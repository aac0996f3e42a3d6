// What the kept pages of -o old-rows=full really hold: the decoder over bench/old-rows.ts's corpus in this process,
// then a full GC, and the heap and array buffers it grew by against HeapPages' own count.
//
//   node --expose-gc --import tsx bench/old-rows-heap.ts BUDGET_MB|none [END_LSN]
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSlotFile, readCatalogPages } from '../src/node/slot.js';
import { HistoricCatalog } from '../src/catalog/historic.js';
import { catalogSnapshotFromJson } from '../src/catalog/snapshot-json.js';
import { LogicalDecoder } from '../src/reorderbuffer/logical.js';
import { TestDecodingPlugin } from '../src/reorderbuffer/testdecoding.js';
import { openWal } from '../src/node/wal.js';
import { parseLsn } from '../src/lsn.js';
import { FileSpillStore } from '../src/node/spill.js';
const W = path.join(path.dirname(fileURLToPath(import.meta.url)), '.work', 'oldrows-1g-wal');
const budget = process.argv[2] === 'none' ? undefined : Number(process.argv[2]) * 1048576;
const endLsn = parseLsn(process.argv[3] ?? '0/4F2BF010');
const slot = openSlotFile(`${W}/bench_td.state`, { peek: true });
const state = slot.state;
const pages = readCatalogPages(state);
const catalog = pages !== undefined ? new HistoricCatalog(catalogSnapshotFromJson(pages), { defaults: state.catalog }) : state.catalog;
const dec = new LogicalDecoder({ catalog, major: state.major, plugin: new TestDecodingPlugin({ includeXids: false, includeTimestamp: false, skipEmptyXacts: false, onlyLocal: false, streamChanges: false }), startAt: slot.confirmedFlush, spill: new FileSpillStore(path.join(W, '..', 'oldrows-heap-spill')), sink: () => {}, timezone: state.timezone, ...(budget !== undefined ? { oldRows: { budget } } : {}) } as never);
const files = openWal({ path: [W], timeline: 'latest', recycleWindows: true });
const g = (globalThis as { gc?: () => void }).gc!;
g();
const m0 = process.memoryUsage();
for (const rec of files.recordsSync({ start: slot.restartLsn, end: endLsn })) dec.process(rec);
g(); g();
const m1 = process.memoryUsage();
const hp = (dec as unknown as { ctx: { oldRows?: { size: number; bytes: number } } }).ctx.oldRows;
const MB = (n: number) => (n / 1048576).toFixed(1);
console.log(JSON.stringify({ budget: process.argv[2], kept: hp?.size, counted: hp ? MB(hp.bytes) : 0, heapUsed: MB(m1.heapUsed - m0.heapUsed), arrayBuffers: MB(m1.arrayBuffers - m0.arrayBuffers), external: MB(m1.external - m0.external), rss: MB(m1.rss) }));
slot.release();
