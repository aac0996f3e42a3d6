// Resource bounds of reading: 10,000 segments (sparse files holding one XLOG_SWITCH record each) are read
// through a folder with the number of open file descriptors and the heap flat all the way.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openWal } from '../src/node/wal.js';
import { waitForReadAhead } from '../src/node/readahead.js';
import { WalBuilder } from './support/walbuilder.js';
import { walFileName } from '../src/walfile.js';
import { crc32c } from '../src/xlogreader/crc32c.js';

const SEGMENTS = 10_000;
const SEG = 1024 * 1024;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-10k-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const openFds = (): number => fs.readdirSync('/proc/self/fd').length;

describe('reading 10,000 segments', () => {
  it('keeps open file descriptors and heap flat', () => {
    // One first page, re-addressed per segment: its long header, then an XLOG_SWITCH record (the rest of the
    // segment is skipped) whose xl_prev points at the previous segment's.
    const b = new WalBuilder({ startSegno: 1, segmentSize: SEG });
    b.add({ rmid: 0, info: 0x40 });
    const page = b.raw.slice(0, 8192);
    const v = new DataView(page.buffer);
    for (let segno = 1; segno <= SEGMENTS; segno++) {
      v.setBigUint64(8, BigInt(segno * SEG), true); // xlp_pageaddr
      v.setBigUint64(40 + 8, BigInt(segno === 1 ? 0 : (segno - 1) * SEG + 40), true); // xl_prev
      v.setUint32(40 + 20, crc32c(page.subarray(40, 60)), true);
      const fd = fs.openSync(path.join(dir, walFileName(1, segno, SEG)), 'w');
      fs.writeSync(fd, page);
      fs.ftruncateSync(fd, SEG); // sparse: the rest reads as zeros without taking disk
      fs.closeSync(fd);
    }
    // The read-ahead worker thread holds a few descriptors of its own (its event loop) for the life of the
    // process: start it before counting, so what is counted is what reading holds. Always waiting for it means
    // no window it was asked for is still being read (a file open) when reading ends.
    waitForReadAhead(true);
    for (const _rec of openWal({ path: dir }).recordsSync({ start: SEG, end: 4 * SEG }));
    const fds0 = openFds();
    let maxFds = fds0;
    let heapAt1000 = 0;
    let maxHeap = 0;
    let n = 0;
    const stream = openWal({ path: dir }).recordsSync({ start: SEG });
    for (const rec of stream) {
      expect(rec.rmid).toBe(0);
      n++;
      if (n % 500 === 0) {
        maxFds = Math.max(maxFds, openFds());
        const h = process.memoryUsage().heapUsed;
        if (n === 1000) heapAt1000 = h;
        if (n > 1000) maxHeap = Math.max(maxHeap, h);
      }
    }
    expect(n).toBe(SEGMENTS);
    expect(stream.end?.reason).toBe('no-more-wal');
    expect(maxFds - fds0, 'file descriptors held while reading').toBeLessThanOrEqual(4);
    expect(openFds(), 'none left open at the end').toBeLessThanOrEqual(fds0);
    expect(maxHeap - heapAt1000, 'heap growth over 9,000 more segments').toBeLessThan(64 * 1024 * 1024);
    waitForReadAhead(false);
  }, 300_000);
});
