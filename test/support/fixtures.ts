// Loads the committed fixtures (see fixtures/README.md): WAL segments and the server's answers.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

export const FIXTURES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures');

export interface FixtureSlot {
  name: string;
  plugin: string;
  restartLsn: string;
  confirmedFlushLsn: string;
  catalogXmin: string;
  twoPhase: boolean;
}

export interface FixtureMeta {
  scenario: string;
  description: string;
  major: number;
  version: string;
  server: string;
  flavor: 'npm' | 'debian';
  systemIdentifier: string;
  walSegmentSize: number;
  blockSize: number;
  timeline: number;
  startLsn: string;
  endLsn: string;
  segments: string[];
  slots: FixtureSlot[];
  files: Record<string, string>;
  gucs: Record<string, string>;
  /** wal2json answers: file name (without .tsv) → the options passed to pg_logical_slot_peek_changes. */
  wal2jsonOptions?: Record<string, string[]>;
  /** pgoutput answers: file name (without .tsv) → the options passed to pg_logical_slot_peek_binary_changes. */
  pgoutputOptions?: Record<string, string[]>;
}

export interface Fixture {
  dir: string;
  id: string;
  meta: FixtureMeta;
}

export function listFixtures(): Fixture[] {
  const out: Fixture[] = [];
  if (!fs.existsSync(FIXTURES_DIR)) return out;
  for (const major of fs.readdirSync(FIXTURES_DIR).filter((d) => /^pg\d+$/.test(d)).sort()) {
    for (const name of fs.readdirSync(path.join(FIXTURES_DIR, major)).sort()) {
      const dir = path.join(FIXTURES_DIR, major, name);
      if (!fs.existsSync(path.join(dir, 'meta.json'))) continue;
      out.push({ dir, id: `${major}/${name}`, meta: JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) });
    }
  }
  return out;
}

/** A file as stored (plain or gzipped), by its logical name (e.g. `records.tsv`). */
export function readFixtureFile(f: Fixture, name: string): Buffer {
  const plain = path.join(f.dir, name);
  if (fs.existsSync(plain)) return fs.readFileSync(plain);
  return zlib.gunzipSync(fs.readFileSync(`${plain}.gz`));
}

export function hasFixtureFile(f: Fixture, name: string): boolean {
  return fs.existsSync(path.join(f.dir, name)) || fs.existsSync(path.join(f.dir, `${name}.gz`));
}

/** One segment's bytes. */
export function readSegment(f: Fixture, name: string): Uint8Array {
  return zlib.gunzipSync(fs.readFileSync(path.join(f.dir, `${name}.gz`)));
}

/** COPY text format → rows keyed by the header's column names; \N → null. */
export function readTsv(f: Fixture, name: string): Record<string, string | null>[] {
  const lines = readFixtureFile(f, name).toString('utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const header = lines.shift()!.split('\t');
  return lines.map((line) => {
    const cells = line.split('\t');
    if (cells.length !== header.length) throw new Error(`${f.id}/${name}: ${cells.length} cells, header has ${header.length}`);
    const row: Record<string, string | null> = {};
    header.forEach((h, i) => (row[h] = unescapeCopy(cells[i]!)));
    return row;
  });
}

function unescapeCopy(cell: string): string | null {
  if (cell === '\\N') return null;
  return cell.replace(/\\(.)/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : c));
}
