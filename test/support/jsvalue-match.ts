// Whether a typed JS value (src/reorderbuffer/jsvalues.ts) is the one the server's text of the same value names.
import { PgDate, PgInterval, PgRange, PgTime, PgTimeTz, PgTimestamp, type JsValue } from '../../src/reorderbuffer/jsvalues.js';
import type { TypeInfo } from '../../src/reorderbuffer/values.js';
import { toHex } from '../../src/xlogreader/hex.js';

/** Whether a JS value is the one the server's text names, for the type's output function. */
export function matchesText(js: JsValue, text: string | null, type: TypeInfo): string | undefined {
  const fail = (): string => `${describeJs(js)} is not ${text === null ? 'NULL' : JSON.stringify(text)} (${type.name})`;
  if (text === null) return js === null ? undefined : fail();
  if (js === null) return fail();
  switch (type.output) {
    case 'boolout':
      return js === (text === 't') ? undefined : fail();
    case 'int2out':
    case 'int4out':
    case 'oidout':
    case 'xidout':
      return typeof js === 'number' && String(js) === text ? undefined : fail();
    case 'int8out':
      return typeof js === 'bigint' && js.toString() === text ? undefined : fail();
    case 'float4out':
      return typeof js === 'number' && Object.is(js, Math.fround(Number(text))) ? undefined : fail();
    case 'float8out':
      return typeof js === 'number' && Object.is(js, Number(text)) ? undefined : fail();
    case 'byteaout':
      return js instanceof Uint8Array && `\\x${toHex(js)}` === text ? undefined : fail();
    case 'date_out':
      return js instanceof PgDate && js.toString() === text ? undefined : fail();
    case 'time_out':
      return js instanceof PgTime && js.toString() === text ? undefined : fail();
    case 'timetz_out':
      return js instanceof PgTimeTz && js.toString() === text ? undefined : fail();
    case 'timestamp_out':
    case 'timestamptz_out':
      return js instanceof PgTimestamp && js.withTimeZone === (type.output === 'timestamptz_out') && js.toString() === text ? undefined : fail();
    case 'interval_out':
      return js instanceof PgInterval && js.toString() === text ? undefined : fail();
    case 'range_out':
      return js instanceof PgRange && js.toString() === text ? undefined : fail();
    case 'array_out':
      return Array.isArray(js) ? undefined : fail();
    default:
      return typeof js === 'string' && js === text ? undefined : fail();
  }
}

export function describeJs(js: JsValue): string {
  if (typeof js === 'bigint') return `${js}n`;
  if (js instanceof Uint8Array) return `bytes ${toHex(js)}`;
  if (typeof js === 'object' && js !== null && !Array.isArray(js)) return `${js.constructor.name}(${JSON.stringify({ ...js }, (_, v) => (typeof v === 'bigint' ? `${v}n` : typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))})`;
  return JSON.stringify(js, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(js);
}

