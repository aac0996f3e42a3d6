// Read-ahead through a slow archive: 100 segments behind a restore_command that sleeps 50 ms per file, read
// with no read-ahead (one fetch after another) and with the default read-ahead; prints both and the ratio.
// Target (timelines issue): at most 0.3x the one-after-another time. Run: tsx bench/prefetch.ts
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ArchiveWal } from '../src/node/restore.js';
import { WalBuilder, filler } from '../test/support/walbuilder.js';

const SEGMENTS = 100;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-prefetch-'));
try {
  // 100 segments of real-shaped WAL (1 MB each): records that span pages and segments, correct CRCs.
  const b = new WalBuilder();
  while (b.pos < b.startLsn + SEGMENTS * b.segmentSize - 3 * 8192) b.add(filler(3000 + (b.lsns.length % 5000), b.lsns.length));
  const segs = [...b.segments()].slice(0, SEGMENTS);
  for (const [name, bytes] of segs) fs.writeFileSync(path.join(dir, name), bytes);
  const cmd = `sleep 0.05; cp ${dir}/%f %p`;

  const time = async (prefetch: number): Promise<{ s: number; records: number }> => {
    const wal = await ArchiveWal.open({ restoreCommand: cmd, segmentSize: b.segmentSize, prefetch, timeline: 1 });
    const t0 = performance.now();
    let records = 0;
    for await (const _ of wal.records({ start: b.startLsn })) records++;
    wal.close();
    return { s: (performance.now() - t0) / 1000, records };
  };
  const serial = await time(0);
  const ahead4 = await time(4);
  const ahead8 = await time(8);
  console.log(`# read-ahead through a restore_command that sleeps 50 ms per file (${SEGMENTS} segments of 1 MB)\n`);
  console.log('| read-ahead | seconds | records | ÷ one after another |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const [label, r] of [['none (one after another)', serial], ['4 (default)', ahead4], ['8', ahead8]] as const) {
    console.log(`| ${label} | ${r.s.toFixed(2)} | ${r.records} | ${(r.s / serial.s).toFixed(2)}× |`);
  }
  const ratio = ahead4.s / serial.s;
  console.log(`\ndefault read-ahead: ${ratio.toFixed(2)}× the serial time — target ≤ 0.30×: ${ratio <= 0.3 ? 'met' : 'NOT MET'}`);
  if (ahead4.records !== serial.records || ahead8.records !== serial.records) throw new Error('read-ahead changed the records read');
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
