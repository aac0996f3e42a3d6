// A starting snapshot as JSON (pages in base64), for state files and fixtures.
import { CatalogError } from './errors.js';
import type { CatalogSnapshot } from './historic.js';
import type { Major } from '../xlogreader/profile.js';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_INDEX[B64.charCodeAt(i)] = i;

export function toBase64(b: Uint8Array): string {
  let s = '';
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    s += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!;
  }
  if (i < b.length) {
    const n = (b[i]! << 16) | ((b[i + 1] ?? 0) << 8);
    s += B64[n >> 18]! + B64[(n >> 12) & 63]! + (i + 1 < b.length ? B64[(n >> 6) & 63]! : '=') + '=';
  }
  return s;
}

export function fromBase64(s: string): Uint8Array {
  const clean = s.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < clean.length; i++) {
    const c = clean.charCodeAt(i);
    const v = c < 128 ? B64_INDEX[c]! : -1;
    if (v < 0) throw new CatalogError('invalid-snapshot', `catalog snapshot: bad base64 character at ${i}`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out.subarray(0, o);
}

export interface CatalogSnapshotJson {
  major: number;
  databaseOid: number;
  relmap: Record<string, number>;
  filenodes: Record<string, number>;
  committedXids: number[];
  nblocks?: Record<string, number>;
  defaults?: Record<string, string>;
  pages: { relfilenode: number; block: number; page: string }[];
}

export function catalogSnapshotToJson(s: CatalogSnapshot): CatalogSnapshotJson {
  return {
    major: s.major,
    databaseOid: s.databaseOid,
    relmap: s.relmap,
    filenodes: s.filenodes,
    committedXids: s.committedXids,
    ...(s.nblocks !== undefined ? { nblocks: s.nblocks } : {}),
    ...(s.defaults !== undefined ? { defaults: s.defaults } : {}),
    pages: s.pages.map((p) => ({ relfilenode: p.relfilenode, block: p.block, page: toBase64(p.page) })),
  };
}

export function catalogSnapshotFromJson(j: CatalogSnapshotJson): CatalogSnapshot {
  if (typeof j !== 'object' || j === null || !Array.isArray(j.pages) || !Array.isArray(j.committedXids)) {
    throw new CatalogError('invalid-snapshot', 'catalog snapshot: not an object with pages and committedXids');
  }
  const num = (r: Record<string, number>): Record<number, number> => Object.fromEntries(Object.entries(r).map(([k, v]) => [Number(k), v]));
  return {
    major: j.major as Major,
    databaseOid: j.databaseOid,
    relmap: num(j.relmap),
    filenodes: num(j.filenodes),
    committedXids: j.committedXids,
    ...(j.nblocks !== undefined ? { nblocks: num(j.nblocks) } : {}),
    ...(j.defaults !== undefined ? { defaults: Object.fromEntries(Object.entries(j.defaults).map(([k, v]) => [Number(k), v])) } : {}),
    pages: j.pages.map((p) => {
      const page = fromBase64(p.page);
      if (page.length !== 8192) throw new CatalogError('invalid-snapshot', `catalog snapshot: page ${p.relfilenode}/${p.block} has ${page.length} bytes, not 8192`);
      return { relfilenode: p.relfilenode, block: p.block, page };
    }),
  };
}
