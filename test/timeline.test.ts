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

describe('positions on a history', () => {
  const h = parseTimelineHistory(TL3, 3);
  it('accepts positions on the history and refuses diverged ones, naming the fork point', async () => {
    const { assertOnHistory } = await import('../src/timeline/index.js');
    expect(() => assertOnHistory(1, parseLsn('0/D00788'), h)).not.toThrow();
    expect(() => assertOnHistory(2, parseLsn('0/1000000'), h)).not.toThrow();
    expect(() => assertOnHistory(3, parseLsn('5/0'), h)).not.toThrow();
    expect(() => assertOnHistory(1, parseLsn('0/E00000'), h)).toThrow(/the histories diverge at 0\/D00788/);
    expect(() => assertOnHistory(4, parseLsn('0/1'), h)).toThrow(/timeline 4 is not in the history of timeline 3/);
  });
});

describe('pgwal timeline', () => {
  const run = async (argv: string[]): Promise<{ code: number; out: string; err: string }> => {
    const { timeline } = await import('../src/cli/timeline.js');
    let out = '';
    let err = '';
    const code = await timeline(argv, { out: (t) => (out += t), err: (t) => (err += t), errIsTty: false, env: {}, cwd: process.cwd(), sleep: async () => undefined });
    return { code, out, err };
  };
  it('prints the newest history from a folder or through restore_command, and names a bad file and line', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-tl-'));
    try {
      fs.writeFileSync(path.join(dir, '00000002.history'), '1\t0/D00788\tno recovery target specified\n');
      fs.writeFileSync(path.join(dir, '00000003.history'), TL3);
      for (const argv of [['-p', dir, '--json'], ['--restore-command', `cp ${dir}/%f %p`, '--json']]) {
        const r = await run(argv);
        expect(r.code).toBe(0);
        expect(JSON.parse(r.out).map((e: { timeline: number; switched_at: string | null }) => [e.timeline, e.switched_at])).toEqual([
          [1, '0/D00788'],
          [2, '0/1A0000A0'],
          [3, null],
        ]);
      }
      fs.writeFileSync(path.join(dir, '00000004.history'), '1\t0/D00788\tx\nnonsense\n');
      const bad = await run(['-p', dir]);
      expect(bad.code).toBe(1);
      expect(bad.err).toMatch(/syntax error in history file: nonsense; expected a numeric timeline ID \(.*00000004\.history, line 2\)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
