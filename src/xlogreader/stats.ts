// WAL statistics as pg_get_wal_stats and pg_waldump --stats compute and print them (xlogstats.c).
import { formatLsn, type Lsn } from '../lsn.js';
import type { DecodedRecord } from './record.js';
import { BUILTIN_RMGRS, RM_MIN_CUSTOM_ID, RM_MAX_ID, rmgrById } from './rmgr.js';
import type { VersionProfile } from './profile.js';
import type { VouchedRun } from './reader.js';

const RM_XACT_ID = 1;

/** count, record bytes (without images) and image bytes. */
export interface StatCounts {
  count: number;
  recLen: number;
  fpiLen: number;
}

const zero = (): StatCounts => ({ count: 0, recLen: 0, fpiLen: 0 });

export class WalStats {
  count = 0;
  startLsn: Lsn = 0;
  endLsn: Lsn = 0;
  readonly rmgr: StatCounts[] = Array.from({ length: RM_MAX_ID + 1 }, zero);
  /** [rmid][xl_info >> 4], Transaction records keyed by their 3 opcode bits. */
  readonly record: StatCounts[][] = Array.from({ length: RM_MAX_ID + 1 }, () => Array.from({ length: 16 }, zero));

  // see XLogRecStoreStats (xlogstats.c)
  add(rec: DecodedRecord): void {
    if (this.count === 0 && this.startLsn === 0) this.startLsn = rec.lsn;
    this.count++;
    this.endLsn = rec.endLsn;
    const fpi = rec.fpiLength;
    const recLen = rec.totalLength - fpi;
    const r = this.rmgr[rec.rmid]!;
    r.count++;
    r.recLen += recLen;
    r.fpiLen += fpi;
    let recid = rec.info >> 4;
    if (rec.rmid === RM_XACT_ID) recid &= 0x07;
    const s = this.record[rec.rmid]![recid]!;
    s.count++;
    s.recLen += recLen;
    s.fpiLen += fpi;
  }

  /**
   * A run of records the read-ahead checked (XLogReader.skipVouched) with its statistics; `endLsn` is where the
   * record after its last starts. False when the run has none (add each record instead).
   */
  addRun(run: VouchedRun, endLsn: Lsn): boolean {
    const s = run.stats;
    if (s === undefined) return false;
    this.count += run.count;
    this.endLsn = endLsn;
    for (let i = 0, n = s[0]!; i < n; i++) {
      const key = s[1 + 4 * i]!;
      const rmid = key >> 4;
      let recid = key & 0x0f;
      if (rmid === RM_XACT_ID) recid &= 0x07;
      const count = s[2 + 4 * i]!;
      const recLen = s[3 + 4 * i]!;
      const fpiLen = s[4 + 4 * i]!;
      const r = this.rmgr[rmid]!;
      r.count += count;
      r.recLen += recLen;
      r.fpiLen += fpiLen;
      const c = this.record[rmid]![recid]!;
      c.count += count;
      c.recLen += recLen;
      c.fpiLen += fpiLen;
    }
    return true;
  }

  totals(): StatCounts {
    const t = zero();
    for (const r of this.rmgr) {
      t.count += r.count;
      t.recLen += r.recLen;
      t.fpiLen += r.fpiLen;
    }
    return t;
  }

  /**
   * Rows in output order: every built-in rmgr (and custom ones that occurred), or with `perRecord` every
   * rmgr/record-type combination that occurred, named `Rmgr/TYPE` (rm_identify of the type's bits).
   */
  rows(perRecord: boolean, profile: VersionProfile, includeEmptyCustom = false): { name: string; c: StatCounts }[] {
    const out: { name: string; c: StatCounts }[] = [];
    const ids = [...BUILTIN_RMGRS.map((r) => r.id)];
    for (let id = RM_MIN_CUSTOM_ID; id <= RM_MAX_ID; id++) if (this.rmgr[id]!.count > 0 || includeEmptyCustom) ids.push(id);
    for (const id of ids) {
      const desc = rmgrById(id);
      if (!perRecord) {
        out.push({ name: desc.name, c: this.rmgr[id]! });
        continue;
      }
      for (let rj = 0; rj < 16; rj++) {
        const c = this.record[id]![rj]!;
        if (c.count === 0) continue;
        const type = desc.identify(rj << 4, profile) ?? `UNKNOWN (${(rj << 4).toString(16)})`;
        out.push({ name: `${desc.name}/${type}`, c });
      }
    }
    return out;
  }
}

/** float8out with extra_float_digits = 1: shortest round-trip digits, exponent form below 1e-4 or from 1e15. */
export function formatFloat8(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const [mant, expText] = x.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  if (exp < -4 || exp >= 15) {
    const e = Math.abs(exp);
    return `${mant}e${exp < 0 ? '-' : '+'}${e < 10 ? '0' : ''}${e}`;
  }
  // Plain notation from the same shortest digits.
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  let s: string;
  if (exp >= 0) {
    s = digits.length <= exp + 1 ? digits + '0'.repeat(exp + 1 - digits.length) : `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  } else {
    s = `0.${'0'.repeat(-exp - 1)}${digits}`;
  }
  return neg ? `-${s}` : s;
}

/** One pg_get_wal_stats row as text. */
export function walinspectStatsRows(stats: WalStats, perRecord: boolean, profile: VersionProfile): string[][] {
  const t = stats.totals();
  const total = t.recLen + t.fpiLen;
  const pct = (n: number, of: number): string => formatFloat8(of === 0 ? 0 : (100 * n) / of);
  return stats.rows(perRecord, profile).map(({ name, c }) => [
    name,
    String(c.count),
    pct(c.count, t.count),
    String(c.recLen),
    pct(c.recLen, t.recLen),
    String(c.fpiLen),
    pct(c.fpiLen, t.fpiLen),
    String(c.recLen + c.fpiLen),
    pct(c.recLen + c.fpiLen, total),
  ]);
}

/**
 * C's %6.02f / %.02f of a non-negative value. An exact tie (x = k/8 with 5 in the third decimal, e.g. 3.125) is
 * rounded to even by glibc's printf and up by toFixed.
 */
const fixed2 = (x: number): string => {
  if (x >= 0 && Number.isInteger(x * 8) && (x * 1000) % 10 === 5) {
    const down = Math.floor(x * 100);
    if (down % 2 === 0) return (down / 100).toFixed(2);
  }
  return x.toFixed(2);
};

// see XLogDumpDisplayStats (pg_waldump.c)
export function waldumpStatsText(stats: WalStats, perRecord: boolean, profile: VersionProfile): string {
  if (stats.count === 0) return '';
  const t = stats.totals();
  const total = t.recLen + t.fpiLen;
  const pct = (n: number, of: number): string => fixed2(of === 0 ? 0 : (100 * n) / of).padStart(6);
  const col = (s: string | number): string => String(s).padStart(20);
  let out = `WAL statistics between ${formatLsn(stats.startLsn)} and ${formatLsn(stats.endLsn)}:\n`;
  const head = (a: string[]): string =>
    `${a[0]!.padEnd(27)} ${a[1]!.padStart(20)} ${a[2]!.padStart(8)} ${a[3]!.padStart(20)} ${a[4]!.padStart(8)} ${a[5]!.padStart(20)} ${a[6]!.padStart(8)} ${a[7]!.padStart(20)} ${a[8]!.padStart(8)}\n`;
  out += head(['Type', 'N', '(%)', 'Record size', '(%)', 'FPI size', '(%)', 'Combined size', '(%)']);
  out += head(['----', '-', '---', '-----------', '---', '--------', '---', '-------------', '---']);
  for (const { name, c } of stats.rows(perRecord, profile)) {
    const tot = c.recLen + c.fpiLen;
    out +=
      `${name.padEnd(27)} ${col(c.count)} (${pct(c.count, t.count)}) ${col(c.recLen)} (${pct(c.recLen, t.recLen)}) ` +
      `${col(c.fpiLen)} (${pct(c.fpiLen, t.fpiLen)}) ${col(tot)} (${pct(tot, total)})\n`;
  }
  out += `${''.padEnd(27)} ${'--------'.padStart(20)} ${''.padStart(8)} ${'--------'.padStart(20)} ${''.padStart(8)} ${'--------'.padStart(20)} ${''.padStart(8)} ${'--------'.padStart(20)}\n`;
  const recPct = `[${fixed2(total === 0 ? 0 : (100 * t.recLen) / total)}%]`;
  const fpiPct = `[${fixed2(total === 0 ? 0 : (100 * t.fpiLen) / total)}%]`;
  out += `${'Total'.padEnd(27)} ${col(stats.count)} ${''.padEnd(9)}${col(t.recLen)} ${recPct.padEnd(9)}${col(t.fpiLen)} ${fpiPct.padEnd(9)}${col(total)} ${'[100%]'.padEnd(6)}\n`;
  return out;
}
