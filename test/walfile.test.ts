import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  backupHistoryFileName,
  historyFileName,
  InvalidArgumentError,
  parseSegmentFileName,
  parseWalFileName,
  walFileName,
} from '../src/index.js';

const MB = 1024 * 1024;

describe('WAL file names', () => {
  it('names segments as XLogFileName does for any segment size', () => {
    expect(walFileName(1, 6, MB)).toBe('000000010000000000000006');
    // 16 MB segments: 256 per "log" number; 1 MB: 4096.
    expect(walFileName(1, 0x100, 16 * MB)).toBe('000000010000000100000000');
    expect(walFileName(1, 0x1000, MB)).toBe('000000010000000100000000');
    expect(walFileName(0x1a, 0xfff, MB)).toBe('0000001A0000000000000FFF');
    expect(walFileName(2, 9, 1024 * MB)).toBe('000000020000000200000001');
  });

  it('names history and backup history files', () => {
    expect(historyFileName(2)).toBe('00000002.history');
    expect(historyFileName(0xabc)).toBe('00000ABC.history');
    expect(backupHistoryFileName(1, 3, 0x28, 16 * MB)).toBe('000000010000000000000003.00000028.backup');
  });

  it('parses every kind of file and round-trips segment names', () => {
    expect(parseWalFileName('00000002.history')).toMatchObject({ kind: 'history', tli: 2 });
    expect(parseWalFileName('00000001000000000000000D.partial')).toMatchObject({ kind: 'partial', tli: 1, log: 0, seg: 13 });
    expect(parseWalFileName('000000010000000000000003.00000028.backup')).toMatchObject({ kind: 'backup', seg: 3, backupOffset: 0x28 });
    expect(parseWalFileName('000000010000000000000003.gz')).toMatchObject({ kind: 'segment', compression: 'gz' });
    expect(parseWalFileName('000000010000000000000003.lz4.partial')).toMatchObject({ kind: 'partial', compression: 'lz4' });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 0xffffffff }),
        fc.integer({ min: 0, max: 10 }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        (tli, shift, n) => {
          const segSize = MB << shift;
          const segno = n % (2 ** 44 / 2 ** shift);
          const name = walFileName(tli, segno, segSize);
          expect(name).toMatch(/^[0-9A-F]{24}$/);
          expect(parseSegmentFileName(name, segSize)).toEqual({ tli, segno, partial: false, compression: undefined });
        },
      ),
    );
  });

  it('refuses names of the wrong shape with a typed error naming the input', () => {
    for (const bad of [
      '',
      '00000001000000000000000',
      '0000000100000000000000001',
      '00000001000000000000000g',
      '00000001000000000000000d',
      '00000000000000000000000D',
      '00000001.history.partial',
      '000000010000000000000003.history',
      '000000010000000000000003.partial.partial',
      '000000010000000000000003.0000002.backup',
      'RECOVERYXLOG',
      '../000000010000000000000003',
    ]) {
      let error: unknown;
      try {
        parseWalFileName(bad);
      } catch (e) {
        error = e;
      }
      expect(error, bad).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).file).toBe(bad);
      expect((error as Error).message).toContain(`"${bad}"`);
    }
    // The low part must fit the segment size: 1000 segments per log id only exist for 1 MB segments.
    expect(() => parseSegmentFileName('000000010000000000000FFF', 16 * MB)).toThrow(/below 00000100/);
    expect(() => parseSegmentFileName('00000002.history', MB)).toThrow(/history file, not a WAL segment/);
    expect(() => walFileName(0, 1, MB)).toThrow(InvalidArgumentError);
    expect(() => walFileName(1, 1, 3 * MB)).toThrow(/invalid WAL segment size/);
  });
});
