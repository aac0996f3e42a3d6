// The local time zone's abbreviation as the C library gives it (strftime's %Z, which pg_waldump prints after a
// commit time): read from the TZif file that TZ names (or /etc/localtime), not from Intl, whose en-US names
// differ outside the US ("GMT+1" where tzdata says "CET").
import fs from 'node:fs';
import path from 'node:path';

interface ZoneTable {
  /** Transition times, seconds since 1970, ascending. */
  times: number[];
  /** The local time type index taking effect at each transition. */
  typeOf: number[];
  types: { utoff: number; isdst: boolean; abbr: string }[];
  /** The footer's POSIX TZ rule's names and UTC offsets (seconds east), for times after the last transition. */
  rule: { std: string; stdOff: number; dst?: string; dstOff?: number } | undefined;
}

/** A POSIX TZ string's zone names and offsets ("CET-1CEST,M3.5.0,M10.5.0/3"; "<+0330>-3:30"); undefined if not one. */
export function parsePosixTz(text: string): ZoneTable['rule'] {
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
  return { std, stdOff, dst, dstOff: explicit ?? stdOff + 3600 };
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

/** The abbreviation in force at `ms` (local UTC offset `offsetSecs` east, as Date gives it) in a zone table. */
export function abbreviationAt(zone: ZoneTable, ms: number, offsetSecs: number): string {
  const t = Math.floor(ms / 1000);
  const { times, typeOf, types, rule } = zone;
  if (times.length > 0 && t >= times[times.length - 1]! && rule !== undefined) {
    // Past the table: the footer's rule. Which of its two zones is in force, Date's offset says.
    return rule.dst !== undefined && offsetSecs === rule.dstOff && offsetSecs !== rule.stdOff ? rule.dst : rule.std;
  }
  if (times.length === 0 || t < times[0]!) {
    if (times.length === 0 && rule !== undefined) return rule.dst !== undefined && offsetSecs === rule.dstOff && offsetSecs !== rule.stdOff ? rule.dst : rule.std;
    return (types.find((x) => !x.isdst) ?? types[0]!).abbr;
  }
  let lo = 0;
  let hi = times.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (times[mid]! <= t) lo = mid;
    else hi = mid - 1;
  }
  return types[typeOf[lo]!]!.abbr;
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
  const rule = parsePosixTz(spec) ?? { std: '', stdOff: 0 };
  return { times: [], typeOf: [], types: [{ utoff: rule.stdOff, isdst: false, abbr: rule.std }], rule };
}

/** `(ms) => abbreviation` for the process's zone, or undefined when it cannot be read. */
export function localZoneAbbreviation(env: NodeJS.ProcessEnv = process.env): ((ms: number, offsetMinutesWest: number) => string) | undefined {
  const zone = localZone(env);
  if (zone === undefined) return undefined;
  return (ms, offsetMinutesWest) => abbreviationAt(zone, ms, -offsetMinutesWest * 60);
}
