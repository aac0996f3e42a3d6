// timestamptz_to_str as the two PostgreSQL tools print it: pg_walinspect (backend) and pg_waldump (frontend).
import type { DescribeContext } from './rmgrdesc/types.js';
import type { VersionProfile } from './profile.js';

/** Microseconds between 1970-01-01 and 2000-01-01 (POSTGRES_EPOCH_JDATE − UNIX_EPOCH_JDATE days). */
const EPOCH_OFFSET_US = 946_684_800_000_000n;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

function civil(usecSince2000: bigint): { y: number; mo: number; d: number; h: number; mi: number; s: number; us: number } {
  const unixUs = usecSince2000 + EPOCH_OFFSET_US;
  let secs = unixUs / 1_000_000n;
  let us = Number(unixUs % 1_000_000n);
  if (us < 0) {
    us += 1_000_000;
    secs -= 1n;
  }
  let days = secs / 86_400n;
  let sod = Number(secs % 86_400n);
  if (sod < 0) {
    sod += 86_400;
    days -= 1n;
  }
  // Days since 1970-01-01 → proleptic Gregorian date (Howard Hinnant's civil_from_days).
  const z = Number(days) + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const mo = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (mo <= 2 ? 1 : 0);
  return { y, mo, d, h: Math.floor(sod / 3600), mi: Math.floor((sod % 3600) / 60), s: sod % 60, us };
}

/**
 * Backend timestamptz_to_str with TimeZone = UTC and ISO dates (what pg_walinspect prints with the
 * harness's settings): `2026-11-21 22:38:17.842359+00`, fraction without trailing zeros, ` BC` for years ≤ 0.
 */
export function formatTimestampBackend(usecSince2000: bigint): string {
  if (usecSince2000 === INT64_MIN) return '-infinity';
  if (usecSince2000 === INT64_MAX) return 'infinity';
  const t = civil(usecSince2000);
  const bc = t.y <= 0;
  const year = bc ? 1 - t.y : t.y;
  let text = `${pad(year, 4)}-${pad(t.mo)}-${pad(t.d)} ${pad(t.h)}:${pad(t.mi)}:${pad(t.s)}`;
  if (t.us !== 0) text += `.${pad(t.us, 6).replace(/0+$/, '')}`;
  text += '+00';
  return bc ? `${text} BC` : text;
}

/** The minute (ms / 60000) whose zone abbreviation is cached, the UTC offset it was asked under, and the text. */
let zoneMinute = NaN;
let zoneOffset = NaN;
let zoneText = '';

/** A new formatter each time: one made earlier keeps the zone of its making, and TZ may have changed since. */
function zoneAt(ms: number): string {
  return new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName')?.value ?? 'UTC';
}

/**
 * The local zone's abbreviation at `ms` (whose local UTC offset is `offset`), cached per minute: asking Intl was
 * ~70 µs a commit record and most of `dump`'s text time. A minute is cached only when its first and last
 * millisecond agree (a zone change inside it is asked for each time), and only under the same offset.
 */
function zoneAbbreviation(ms: number, offset: number): string {
  const minute = Math.floor(ms / 60_000);
  if (minute === zoneMinute && offset === zoneOffset) return zoneText;
  const first = zoneAt(minute * 60_000);
  if (first !== zoneAt(minute * 60_000 + 59_999)) return zoneAt(ms);
  zoneMinute = minute;
  zoneOffset = offset;
  zoneText = first;
  return first;
}

/**
 * pg_waldump's timestamptz_to_str (compat.c): strftime("%Y-%m-%d %H:%M:%S") in local time, `.%06d`, and the
 * zone abbreviation (`UTC` under TZ=UTC).
 */
export function formatTimestampFrontend(usecSince2000: bigint, zoneOf?: ZoneAbbreviation): string {
  const unixUs = usecSince2000 + EPOCH_OFFSET_US;
  const ms = Number(unixUs / 1000n);
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) {
    // Beyond what Date (and localtime) can hold: print the UTC calendar fields, as the backend would.
    const t = civil(usecSince2000);
    return `${pad(t.y, 4)}-${pad(t.mo)}-${pad(t.d)} ${pad(t.h)}:${pad(t.mi)}:${pad(t.s)}.${pad(Number(usecSince2000 % 1_000_000n) < 0 ? -Number(usecSince2000 % 1_000_000n) : Number(usecSince2000 % 1_000_000n), 6)} UTC`;
  }
  // C's `dt % USECS_PER_SEC` keeps the sign of dt.
  const frac = Number(usecSince2000 % 1_000_000n);
  const offset = (zoneOf as LocalZone | undefined)?.offsetAt?.(ms);
  let body: string;
  let zone: string;
  if (offset !== undefined) {
    // The zone's own offset (a POSIX rule Date does not apply): local fields as the UTC fields of the shifted instant.
    const local = new Date(ms + offset * 1000);
    body = `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())} ${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`;
    zone = zoneOf!(ms, -offset / 60);
  } else {
    zone = zoneOf !== undefined ? zoneOf(ms, date.getTimezoneOffset()) : zoneAbbreviation(ms, date.getTimezoneOffset());
    body = `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  }
  return `${body}.${frac < 0 ? '-' + pad(-frac, 6) : pad(frac, 6)} ${zone}`;
}

/** The DescribeContext for text as pg_walinspect prints it. */
export function walinspectContext(profile: VersionProfile): DescribeContext {
  return { profile, formatTimestamp: formatTimestampBackend };
}

/**
 * The local zone's abbreviation at `ms` (Date's getTimezoneOffset() there given too) as the C library's strftime
 * %Z gives it; pgwal/node's localZoneAbbreviation reads it from the TZif file.
 */
export type ZoneAbbreviation = (ms: number, offsetMinutesWest: number) => string;

/** A ZoneAbbreviation that also gives the zone's UTC offset (seconds east) at `ms`: local times then follow it. */
export type LocalZone = ZoneAbbreviation & { offsetAt?(ms: number): number };

/**
 * The DescribeContext for text as pg_waldump prints it. Without `zoneOf` the zone's name is Intl's, which equals
 * the C library's for UTC and the US zones only.
 */
export function waldumpContext(profile: VersionProfile, zoneOf?: ZoneAbbreviation): DescribeContext {
  return { profile, formatTimestamp: zoneOf === undefined ? formatTimestampFrontend : (t) => formatTimestampFrontend(t, zoneOf) };
}
