// Timeline history files: parsing as readTimeLineHistory does, and the lookups the server makes with them
// (tliOfPointInHistory, tliSwitchPoint), plus which timeline's file holds a segment (XLogFileReadAnyTLI).
import { WalFormatError, WalSourceError } from '../errors.js';
import { formatLsn, lsnFromParts, type Lsn } from '../lsn.js';
import { historyFileName, walFileName } from '../walfile.js';

/** One timeline of a history: WAL in [begin, end) belongs to it; end is undefined for the newest. */
export interface TimelineEntry {
  tli: number;
  /** 0 (InvalidXLogRecPtr) for the first timeline: from the beginning of WAL. */
  begin: Lsn;
  /** The switch point to the next timeline; undefined while this timeline is the newest. */
  end: Lsn | undefined;
  /** Why the timeline ended, as written in the child's history file (empty for the newest). */
  reason: string;
}

/** A timeline's ancestry, newest first (the order readTimeLineHistory returns). */
export type TimelineHistory = readonly TimelineEntry[];

/** A history file that is not what the server writes. */
export class TimelineHistoryError extends WalFormatError {
  readonly line: number | undefined;

  constructor(message: string, file: string, line?: number) {
    super('invalid-history', line === undefined ? `${message} (${file})` : `${message} (${file}, line ${line})`, { file });
    this.line = line;
  }
}

const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';

/** sscanf("%u\t%X/%X"): how many fields matched, the values, and where the match ended. */
function scanEntry(line: string): { n: number; tli: number; hi: number; lo: number; end: number } {
  let i = 0;
  const skipSpace = (): void => {
    while (i < line.length && isSpace(line[i]!)) i++;
  };
  const num = (re: RegExp): string | undefined => {
    const m = re.exec(line.slice(i));
    if (m === null) return undefined;
    i += m[0].length;
    return m[1];
  };
  skipSpace();
  const tliText = num(/^\+?(\d+)/);
  if (tliText === undefined) return { n: 0, tli: 0, hi: 0, lo: 0, end: i };
  const tli = Number(tliText) % 0x1_0000_0000;
  skipSpace(); // whitespace in a scanf format matches any run of whitespace, or none
  const hiText = num(/^(?:0[xX])?([0-9A-Fa-f]+)/);
  if (hiText === undefined || line[i] !== '/') return { n: 1, tli, hi: 0, lo: 0, end: i };
  i++;
  skipSpace();
  const loText = num(/^(?:0[xX])?([0-9A-Fa-f]+)/);
  if (loText === undefined) return { n: 2, tli, hi: 0, lo: 0, end: i };
  return { n: 3, tli, hi: parseInt(hiText.slice(-8), 16), lo: parseInt(loText.slice(-8), 16), end: i };
}

/**
 * readTimeLineHistory: the history of `targetTli` from the text of its `.history` file. Comments (#) and blank
 * lines are skipped; each entry is `parentTLI<TAB>switchpoint<TAB>reason`. Errors name the file and line, with
 * the server's wording.
 */
// see readTimeLineHistory (timeline.c)
export function parseTimelineHistory(text: string, targetTli: number, file = historyFileName(targetTli)): TimelineHistory {
  const entries: TimelineEntry[] = [];
  let lastTli = 0;
  let prevEnd: Lsn = 0;
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const trimmed = line.replace(/^[ \t\n\r\f\v]+/, '');
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const s = scanEntry(line);
    if (s.n < 1) throw new TimelineHistoryError(`syntax error in history file: ${line}; expected a numeric timeline ID`, file, lineNo);
    if (s.n !== 3) throw new TimelineHistoryError(`syntax error in history file: ${line}; expected a write-ahead log switchpoint location`, file, lineNo);
    if (entries.length > 0 && s.tli <= lastTli) {
      throw new TimelineHistoryError(`invalid data in history file: ${line}; timeline IDs must be in increasing sequence`, file, lineNo);
    }
    lastTli = s.tli;
    const end = lsnFromParts(s.hi, s.lo);
    if (end < 0) throw new TimelineHistoryError(`switch point ${s.hi.toString(16).toUpperCase()}/${s.lo.toString(16).toUpperCase()} is beyond the LSNs pgwal represents`, file, lineNo);
    entries.push({ tli: s.tli, begin: prevEnd, end, reason: line.slice(s.end).replace(/^\t/, '') });
    prevEnd = end;
  });
  entries.reverse(); // newest first; unshift per line made a long history quadratic
  if (entries.length > 0 && targetTli <= lastTli) {
    throw new TimelineHistoryError(`invalid data in history file "${file}": timeline IDs must be less than child timeline's ID (${targetTli})`, file);
  }
  return [{ tli: targetTli, begin: prevEnd, end: undefined, reason: '' }, ...entries];
}

/**
 * The most bytes of a history file pgwal reads: a line per ancestor timeline, so even a million timelines fit.
 * A larger file is refused before it is read (HistoryTooLargeError), not loaded whole.
 */
export const MAX_HISTORY_FILE_SIZE = 64 * 1024 * 1024;

/** A history file larger than MAX_HISTORY_FILE_SIZE. */
export class HistoryTooLargeError extends WalFormatError {
  constructor(file: string, size: number) {
    super('history-too-large', `timeline history file "${file}" has ${size} bytes, more than the ${MAX_HISTORY_FILE_SIZE} bytes a history file may have`, { file });
  }
}

/** The history of timeline 1, or of any timeline whose history file does not exist. */
export function historyWithoutFile(tli: number): TimelineHistory {
  return [{ tli, begin: 0, end: undefined, reason: '' }];
}

/** tliOfPointInHistory: the timeline that owns `lsn`. */
export function timelineOfLsn(lsn: Lsn, history: TimelineHistory): number {
  for (const e of history) {
    if ((e.begin === 0 || e.begin <= lsn) && (e.end === undefined || lsn < e.end)) return e.tli;
  }
  throw new WalFormatError('invalid-history', `timeline history was not contiguous at ${formatLsn(lsn)}`, { lsn });
}

/** tliSwitchPoint: where `tli` ends on this history (undefined for the newest) and the timeline after it. */
export function timelineSwitchPoint(tli: number, history: TimelineHistory): { end: Lsn | undefined; nextTli: number | undefined } {
  for (let i = 0; i < history.length; i++) {
    if (history[i]!.tli === tli) return { end: history[i]!.end, nextTli: i > 0 ? history[i - 1]!.tli : undefined };
  }
  throw new WalFormatError('timeline-not-in-history', `requested timeline ${tli} is not in this server's history`);
}

/**
 * The timelines whose file may hold segment `segno`, best first (XLogFileReadAnyTLI): newest to oldest,
 * skipping timelines that begin after the segment, so the segment holding a switch point comes from the newer
 * timeline. Stricter than the server: an older timeline's file is never used past the segment where that
 * timeline ended, even when the newer timeline's file is missing (a demoted primary's extra segments in an
 * archive are the classic trap).
 */
export function timelinesForSegment(segno: number, history: TimelineHistory, segmentSize: number): number[] {
  const out: number[] = [];
  for (const e of history) {
    if (e.begin !== 0 && segno < Math.floor(e.begin / segmentSize)) continue;
    // The parent's copy of its last segment stops at the switch point; past it only the child's file is right.
    if (e.end !== undefined && segno > Math.floor((e.end - 1) / segmentSize)) continue;
    out.push(e.tli);
  }
  return out;
}

/**
 * Where timeline `tli` ends when that is inside segment `segno` (its copy of the switch segment is WAL of the
 * history only up to there), with the timeline after it; undefined when the whole segment is on `tli`.
 */
export function switchPointInSegment(tli: number, segno: number, history: TimelineHistory, segmentSize: number): { switchPoint: Lsn; nextTli: number } | undefined {
  const { end, nextTli } = timelineSwitchPoint(tli, history);
  if (end === undefined || nextTli === undefined) return undefined;
  if (end <= segno * segmentSize || end >= (segno + 1) * segmentSize) return undefined;
  return { switchPoint: end, nextTli };
}

/** What a page source says when it stops at a switch point: names the point and the missing file. */
export function switchPointMessage(tli: number, switchPoint: Lsn, nextTli: number, segmentSize: number): string {
  return `timeline ${tli} ended at ${formatLsn(switchPoint)} (timeline ${nextTli} follows) and WAL file "${timelineEndSegment(switchPoint, nextTli, segmentSize)}" of timeline ${nextTli} is missing: timeline ${tli}'s WAL past that point is not on the history`;
}

function timelineEndSegment(switchPoint: Lsn, nextTli: number, segmentSize: number): string {
  return walFileName(nextTli, Math.floor(switchPoint / segmentSize), segmentSize);
}

/**
 * Reading stopped at a switch point (the reader's `timeline-end`): the old timeline's WAL ends there and the next
 * timeline's file holding what follows is missing. An early stop, not the end of the WAL: `lsn` is the switch
 * point, `file` (and `segment`) the missing file.
 */
export class TimelineEndError extends WalSourceError {
  readonly segment: string;

  constructor(
    readonly tli: number,
    readonly switchPoint: Lsn,
    readonly nextTli: number,
    segmentSize: number,
  ) {
    const segment = timelineEndSegment(switchPoint, nextTli, segmentSize);
    super('timeline-end', `could not read WAL past ${formatLsn(switchPoint)}: ${switchPointMessage(tli, switchPoint, nextTli, segmentSize)}`, { lsn: switchPoint, file: segment });
    this.segment = segment;
  }

  /** The error for a reader that ended with `timeline-end` at `switchPoint` while following `history`. */
  static at(switchPoint: Lsn, history: TimelineHistory, segmentSize: number): TimelineEndError {
    return new TimelineEndError(timelineOfLsn(switchPoint - 1, history), switchPoint, timelineOfLsn(switchPoint, history), segmentSize);
  }
}

/**
 * Checks that a position reached on timeline `tli` lies on this history: the timeline is an ancestor (or the
 * newest) and the position is not past the point where the history left it. Otherwise throws a typed error
 * saying where the histories diverge (a slot that consumed WAL the new primary never had, say).
 */
export function assertOnHistory(tli: number, lsn: Lsn, history: TimelineHistory): void {
  const entry = history.find((e) => e.tli === tli);
  const newest = history[0]!.tli;
  if (entry === undefined) {
    throw new WalFormatError(
      'timeline-diverged',
      `timeline ${tli} is not in the history of timeline ${newest} (${history.map((e) => e.tli).join(' <- ')}): position ${formatLsn(lsn)} on timeline ${tli} is not on this history`,
      { lsn },
    );
  }
  if (entry.end !== undefined && lsn > entry.end) {
    throw new WalFormatError(
      'timeline-diverged',
      `position ${formatLsn(lsn)} on timeline ${tli} is past the point where timeline ${newest}'s history left timeline ${tli}: the histories diverge at ${formatLsn(entry.end)}`,
      { lsn },
    );
  }
}
