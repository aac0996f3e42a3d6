// The local time zone's abbreviation as the C library gives it (strftime's %Z, which pg_waldump prints after a
// commit time): read from the TZif file that TZ names (or /etc/localtime), not from Intl, whose en-US names
// differ outside the US ("GMT+1" where tzdata says "CET").
import fs from 'node:fs';
import path from 'node:path';
import type { LocalZone } from '../xlogreader/timestamp.js';

interface ZoneTable {
  /** Transition times, seconds since 1970, ascending. */
  times: number[];
  /** The local time type index taking effect at each transition. */
  typeOf: number[];
  types: { utoff: number; isdst: boolean; abbr: string }[];
  /** The footer's POSIX TZ rule's names and UTC offsets (seconds east), for times after the last transition. */
  rule: PosixRule | undefined;
}

/** A POSIX TZ rule: names, offsets (seconds east of UTC) and, with daylight time, when it starts and ends. */
interface PosixRule {
  std: string;
  stdOff: number;
  dst?: string;
  dstOff?: number;
  /** Daylight time's start (in standard time) and end (in daylight time), local; glibc's default when not given. */
  start?: RuleDate;
  end?: RuleDate;
}

/** Jn (day 1-365, February 29 never counted), n (day 0-365), or Mm.w.d; `secs` the local time of day. */
type RuleDate = { kind: 'J' | 'n'; day: number; secs: number } | { kind: 'M'; month: number; week: number; weekday: number; secs: number };

/** A POSIX TZ string's zone names and offsets ("CET-1CEST,M3.5.0,M10.5.0/3"; "<+0330>-3:30"); undefined if not one. */
export function parsePosixTz(text: string): PosixRule | undefined {
  let at = 0;
  const name = (): string | undefined => {
    if (text[at] === '<') {
      const end = text.indexOf('>', at);
      if (end < 0) return undefined;
      const n = text.slice(at + 1, end);
      at = end + 1;
      return n;
    }
    const m = /^[A-Za-z]{3,}/.exec(text.slice(at));
    if (m === null) return undefined;
    at += m[0].length;
    return m[0];
  };
  const offset = (): number | undefined => {
    const m = /^([+-]?)(\d{1,3})(?::(\d{1,2}))?(?::(\d{1,2}))?/.exec(text.slice(at));
    if (m === null) return undefined;
    at += m[0].length;
    const secs = Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
    // POSIX offsets are west of UTC: "CET-1" is one hour east.
    return m[1] === '-' ? secs : -secs;
  };
  const std = name();
  if (std === undefined) return undefined;
  // glibc takes a name without an offset ("Europe" when no such file) as that name at UTC.
  const stdOff = offset();
  if (stdOff === undefined) return { std, stdOff: 0 };
  if (at >= text.length || text[at] === ',') return { std, stdOff };
  const dst = name();
  if (dst === undefined) return { std, stdOff };
  const explicit = text[at] !== undefined && text[at] !== ',' ? offset() : undefined;
  const rule: PosixRule = { std, stdOff, dst, dstOff: explicit ?? stdOff + 3600 };
  // ",start[/time],end[/time]"; without it glibc takes the US rules (M3.2.0,M11.1.0).
  const date = (): RuleDate | undefined => {
    const m = /^(?:J(\d{1,3})|(\d{1,3})|M(\d{1,2})\.(\d)\.(\d))/.exec(text.slice(at));
    if (m === null) return undefined;
    at += m[0].length;
    let secs = 7200;
    if (text[at] === '/') {
      at++;
      const t = /^([+-]?)(\d{1,3})(?::(\d{1,2}))?(?::(\d{1,2}))?/.exec(text.slice(at));
      if (t === null) return undefined;
      at += t[0].length;
      secs = (Number(t[2]) * 3600 + Number(t[3] ?? 0) * 60 + Number(t[4] ?? 0)) * (t[1] === '-' ? -1 : 1);
    }
    if (m[1] !== undefined) return { kind: 'J', day: Number(m[1]), secs };
    if (m[2] !== undefined) return { kind: 'n', day: Number(m[2]), secs };
    return { kind: 'M', month: Number(m[3]), week: Number(m[4]), weekday: Number(m[5]), secs };
  };
  if (text[at] === ',') {
    at++;
    const start = date();
    if (start !== undefined && text[at] === ',') {
      at++;
      const end = date();
      if (end !== undefined) return { ...rule, start, end };
    }
    return rule;
  }
  return { ...rule, start: US_START, end: US_END };
}

const US_START: RuleDate = { kind: 'M', month: 3, week: 2, weekday: 0, secs: 7200 };
const US_END: RuleDate = { kind: 'M', month: 11, week: 1, weekday: 0, secs: 7200 };

/** Seconds since 1970 (UTC) of `d` in `year`, its time of day being local at `offset` seconds east. */
function ruleInstant(d: RuleDate, year: number, offset: number): number {
  const jan1 = Date.UTC(year, 0, 1) / 1000;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  let day: number;
  if (d.kind !== 'M') day = d.kind === 'J' ? d.day - 1 + (leap && d.day >= 60 ? 1 : 0) : d.day;
  else {
    const first = Date.UTC(year, d.month - 1, 1) / 1000;
    const firstWeekday = new Date(first * 1000).getUTCDay();
    let dom = 1 + ((d.weekday - firstWeekday + 7) % 7) + (d.week - 1) * 7;
    const days = new Date(Date.UTC(year, d.month, 0)).getUTCDate();
    while (dom > days) dom -= 7;
    day = (Date.UTC(year, d.month - 1, dom) / 1000 - jan1) / 86400;
  }
  return jan1 + day * 86400 + d.secs - offset;
}

/** Whether daylight time of `rule` is in force at `t` (seconds since 1970). */
function ruleIsDst(rule: PosixRule, t: number): boolean {
  if (rule.dst === undefined || rule.start === undefined || rule.end === undefined) return false;
  const year = new Date((t + rule.stdOff) * 1000).getUTCFullYear();
  const start = ruleInstant(rule.start, year, rule.stdOff);
  const end = ruleInstant(rule.end, year, rule.dstOff!);
  // Southern zones start daylight time late in the year and end it early in the next.
  return start < end ? t >= start && t < end : !(t >= end && t < start);
}

/** The rule's UTC offset (seconds east) and name at `t`. */
function ruleAt(rule: PosixRule, t: number): { offset: number; abbr: string } {
  return ruleIsDst(rule, t) ? { offset: rule.dstOff!, abbr: rule.dst! } : { offset: rule.stdOff, abbr: rule.std };
}

/** Parses a TZif file (RFC 8536), version 1 data or the 64-bit data of version 2+, and its footer. */
export function parseTzif(bytes: Uint8Array): ZoneTable | undefined {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = (o: number): boolean => bytes.length >= o + 44 && bytes[o] === 0x54 && bytes[o + 1] === 0x5a && bytes[o + 2] === 0x69 && bytes[o + 3] === 0x66;
  if (!magic(0)) return undefined;
  const counts = (o: number) => ({
    isutcnt: dv.getUint32(o + 20),
    isstdcnt: dv.getUint32(o + 24),
    leapcnt: dv.getUint32(o + 28),
    timecnt: dv.getUint32(o + 32),
    typecnt: dv.getUint32(o + 36),
    charcnt: dv.getUint32(o + 40),
  });
  let o = 0;
  let c = counts(0);
  let timeSize = 4;
  if (bytes[4]! >= 0x32) {
    // Skip the version 1 block to the 64-bit one.
    o = 44 + c.timecnt * 5 + c.typecnt * 6 + c.charcnt + c.leapcnt * 8 + c.isstdcnt + c.isutcnt;
    if (!magic(o)) return undefined;
    c = counts(o);
    timeSize = 8;
  }
  let p = o + 44;
  const need = c.timecnt * (timeSize + 1) + c.typecnt * 6 + c.charcnt;
  if (c.typecnt === 0 || p + need > bytes.length) return undefined;
  const times: number[] = [];
  for (let i = 0; i < c.timecnt; i++, p += timeSize) times.push(timeSize === 8 ? Number(dv.getBigInt64(p)) : dv.getInt32(p));
  const typeOf: number[] = [];
  for (let i = 0; i < c.timecnt; i++) typeOf.push(bytes[p++]!);
  const raw: { utoff: number; isdst: boolean; abbrind: number }[] = [];
  for (let i = 0; i < c.typecnt; i++, p += 6) raw.push({ utoff: dv.getInt32(p), isdst: bytes[p + 4] === 1, abbrind: bytes[p + 5]! });
  const chars = bytes.subarray(p, p + c.charcnt);
  const abbr = (i: number): string => {
    const end = chars.indexOf(0, i);
    return new TextDecoder().decode(chars.subarray(i, end < 0 ? chars.length : end));
  };
  const types = raw.map((t) => ({ utoff: t.utoff, isdst: t.isdst, abbr: abbr(t.abbrind) }));
  if (typeOf.some((t) => t >= types.length)) return undefined;
  let rule: ZoneTable['rule'];
  if (timeSize === 8) {
    p += c.charcnt + c.leapcnt * 12 + c.isstdcnt + c.isutcnt;
    if (bytes[p] === 0x0a) {
      const end = bytes.indexOf(0x0a, p + 1);
      if (end > p + 1) rule = parsePosixTz(new TextDecoder().decode(bytes.subarray(p + 1, end)));
    }
  }
  return { times, typeOf, types, rule };
}

/** The UTC offset (seconds east) and abbreviation in force at `ms` in a zone table, as localtime gives them. */
export function zoneAt(zone: ZoneTable, ms: number): { offset: number; abbr: string } {
  const t = Math.floor(ms / 1000);
  const { times, typeOf, types, rule } = zone;
  // Past the table (or without one): the footer's rule.
  if (rule !== undefined && (times.length === 0 || t >= times[times.length - 1]!)) {
    if (times.length === 0 || rule.dst !== undefined) return ruleAt(rule, t);
  }
  if (times.length === 0 || t < times[0]!) {
    const first = types.find((x) => !x.isdst) ?? types[0]!;
    return { offset: first.utoff, abbr: first.abbr };
  }
  let lo = 0;
  let hi = times.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (times[mid]! <= t) lo = mid;
    else hi = mid - 1;
  }
  const type = types[typeOf[lo]!]!;
  return { offset: type.utoff, abbr: type.abbr };
}

/**
 * The C library's zone for this process, as glibc's tzset finds it: TZ unset or `:` → /etc/localtime; TZ empty →
 * UTC; `:file` or a name → that file under TZDIR (/usr/share/zoneinfo); a string that names no file → a POSIX TZ
 * rule (a bare name is that name at UTC; no name of 3+ letters, an empty one). Undefined only when
 * /etc/localtime cannot be read (the caller keeps its own way).
 */
export function localZone(env: NodeJS.ProcessEnv = process.env): ZoneTable | undefined {
  const tz = env.TZ;
  if (tz === '') return { times: [], typeOf: [], types: [{ utoff: 0, isdst: false, abbr: 'UTC' }], rule: undefined };
  const named = tz?.startsWith(':') === true ? tz.slice(1) : tz;
  const spec = named === undefined || named === '' ? '/etc/localtime' : named;
  const file = path.isAbsolute(spec) ? spec : path.join(env.TZDIR ?? '/usr/share/zoneinfo', spec);
  if (!spec.includes('..')) {
    try {
      const zone = parseTzif(fs.readFileSync(file));
      if (zone !== undefined) return zone;
    } catch {
      // not a file: maybe a POSIX rule
    }
  }
  if (spec === '/etc/localtime') return undefined;
  // Neither a zone file nor a rule with a name of 3+ letters: glibc goes on at UTC with an empty name.
  const rule: PosixRule = parsePosixTz(spec) ?? { std: '', stdOff: 0 };
  return { times: [], typeOf: [], types: [{ utoff: rule.stdOff, isdst: false, abbr: rule.std }], rule };
}

/**
 * The process's zone as the C library applies it (TZif tables, POSIX rules with their daylight time), for
 * pg_waldump's local times: `(ms) => abbreviation` with `offsetAt(ms)`, seconds east of UTC; undefined when it
 * cannot be read (Date's local time is used then).
 */
export function localZoneAbbreviation(env: NodeJS.ProcessEnv = process.env): LocalZone | undefined {
  const zone = localZone(env);
  if (zone === undefined) return undefined;
  return Object.assign((ms: number) => zoneAt(zone, ms).abbr, { offsetAt: (ms: number) => zoneAt(zone, ms).offset });
}
