// History files as the server parses them (readTimeLineHistory) and the lookups made with them.
import { describe, expect, it } from 'vitest';
import { parseLsn } from '../src/index.js';
import {
  parseTimelineHistory,
  timelineOfLsn,
  timelineSwitchPoint,
  timelinesForSegment,
  TimelineHistoryError,
} from '../src/timeline/index.js';

// The file the server wrote for timeline 3 (format of writeTimeLineHistory: parent's lines, a blank line, new line).
const TL3 = '1\t0/D00788\tno recovery target specified\n\n2\t0/1A0000A0\tbefore 2026-11-21 10:00:00+00\n';

describe('parseTimelineHistory', () => {
  it('reads entries newest first, with begin/end and reasons', () => {
    const h = parseTimelineHistory(TL3, 3);
    expect(h).toEqual([
      { tli: 3, begin: parseLsn('0/1A0000A0'), end: undefined, reason: '' },
      { tli: 2, begin: parseLsn('0/D00788'), end: parseLsn('0/1A0000A0'), reason: 'before 2026-11-21 10:00:00+00' },
      { tli: 1, begin: 0, end: parseLsn('0/D00788'), reason: 'no recovery target specified' },
    ]);
  });

  it('skips comments, blank lines and leading whitespace as the server does', () => {
    const h = parseTimelineHistory('# comment\n   \n  1\t0/300000\tx\n', 2);
    expect(h.map((e) => e.tli)).toEqual([2, 1]);
  });

  it('refuses malformed files with errors naming file and line', () => {
    const cases: [string, number, RegExp][] = [
      ['x\t0/1\n', 2, /expected a numeric timeline ID \(00000002\.history, line 1\)/],
      ['1\tzz\n', 2, /expected a write-ahead log switchpoint location \(00000002\.history, line 1\)/],
      ['2\t0/1\tx\n1\t0/2\ty\n', 3, /timeline IDs must be in increasing sequence \(00000003\.history, line 2\)/],
      ['1\t0/1\tx\n3\t0/2\ty\n', 3, /must be less than child timeline's ID/],
    ];
    for (const [text, tli, message] of cases) {
      expect(() => parseTimelineHistory(text, tli)).toThrow(TimelineHistoryError);
      expect(() => parseTimelineHistory(text, tli)).toThrow(message);
    }
  });
});

describe('lookups', () => {
  const h = parseTimelineHistory(TL3, 3);
  it('finds the timeline owning an LSN and where a timeline switched', () => {
    expect(timelineOfLsn(parseLsn('0/D00787'), h)).toBe(1);
    expect(timelineOfLsn(parseLsn('0/D00788'), h)).toBe(2);
    expect(timelineOfLsn(parseLsn('1/0'), h)).toBe(3);
    expect(timelineSwitchPoint(1, h)).toEqual({ end: parseLsn('0/D00788'), nextTli: 2 });
    expect(timelineSwitchPoint(3, h)).toEqual({ end: undefined, nextTli: undefined });
    expect(() => timelineSwitchPoint(7, h)).toThrow(/requested timeline 7 is not in this server's history/);
  });

  it('reads the switch segment from the newer timeline and never an old timeline past its end', () => {
    const mb = 1024 * 1024;
    expect(timelinesForSegment(0xc, h, mb)).toEqual([1]);
    expect(timelinesForSegment(0xd, h, mb)).toEqual([2, 1]);
    expect(timelinesForSegment(0xe, h, mb)).toEqual([2]);
    expect(timelinesForSegment(0x1a0, h, mb)).toEqual([3, 2]);
    expect(timelinesForSegment(0x1a1, h, mb)).toEqual([3]);
  });
});
