// For fixtures with lz4/zstd full-page images, records the restored pages as liblz4 and libzstd (through
// Debian's python3-lz4 and python3-zstandard) produce them: `fpi-pages.tsv` (start_lsn, block_id, sha256).
// The npm servers cannot make such images and pg_walinspect 15 cannot show them, so this is the independent
// answer pgwal's own decompressors are tested against. Run: tsx scripts/fpi-ground-truth.ts [fixture dirs…]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { formatLsn } from '../src/lsn.js';
import { toHex } from '../src/xlogreader/hex.js';
import { listFixtures, type Fixture } from '../test/support/fixtures.js';
import { fixtureRead } from '../test/support/wal.js';

const PYTHON = `
import sys, hashlib, lz4.block, zstandard
out = []
for line in sys.stdin:
    lsn, bid, method, hole_off, hole_len, img = line.split()
    hole_off, hole_len = int(hole_off), int(hole_len)
    raw = bytes.fromhex(img)
    size = 8192 - hole_len
    if method == 'lz4':
        data = lz4.block.decompress(raw, uncompressed_size=size)
    elif method == 'zstd':
        data = zstandard.ZstdDecompressor().decompress(raw, max_output_size=size)
    else:
        raise SystemExit('unexpected method ' + method)
    assert len(data) == size, (lsn, bid, len(data))
    page = data[:hole_off] + bytes(hole_len) + data[hole_off:]
    out.append('%s\\t%s\\t%s' % (lsn, bid, hashlib.sha256(page).hexdigest()))
print('start_lsn\\tblock_id\\tsha256')
print('\\n'.join(out))
`;

export function writeFpiGroundTruth(f: Fixture): number {
  const lines: string[] = [];
  for (const rec of fixtureRead(f).records) {
    for (const b of rec.blocks) {
      if (b === undefined || !b.hasImage) continue;
      const method = b.bimgInfo & 0x08 ? 'lz4' : b.bimgInfo & 0x10 ? 'zstd' : undefined;
      if (method === undefined) continue;
      const image = rec.bytes.subarray(b.imageOffset, b.imageOffset + b.imageLength);
      lines.push([formatLsn(rec.lsn), b.id, method, b.holeOffset, b.holeLength, toHex(image)].join(' '));
    }
  }
  if (lines.length === 0) return 0;
  const r = spawnSync('/usr/bin/python3', ['-c', PYTHON], { input: lines.join('\n') + '\n', encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`python3 with lz4/zstandard failed (apt-get install -y python3-lz4 python3-zstandard): ${r.stderr}`);
  fs.writeFileSync(path.join(f.dir, 'fpi-pages.tsv'), r.stdout);
  return lines.length;
}

if (process.argv[1]?.endsWith('fpi-ground-truth.ts')) {
  const wanted = process.argv.slice(2);
  for (const f of listFixtures()) {
    if (wanted.length > 0 && !wanted.some((w) => f.dir.endsWith(w))) continue;
    const n = writeFpiGroundTruth(f);
    if (n > 0) console.log(`${f.id}: ${n} compressed images`);
  }
}
