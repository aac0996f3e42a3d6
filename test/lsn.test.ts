import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  addLsn,
  formatLsn,
  InvalidArgumentError,
  isValidWalSegmentSize,
  lsnFromParts,
  MAX_LSN,
  maxAlign,
  pageOffset,
  pageStart,
  parseLsn,
  segmentOf,
  segmentOfEnd,
  segmentOffset,
  segmentStart,
  WalError,
} from '../src/index.js';

describe('Lsn text form', () => {
  it('formats as PostgreSQL 15–18 do: upper-case hex halves, no padding', () => {
    // Examples as printed by servers (pg_current_wal_lsn, pg_waldump headers).
    expect(formatLsn(0x627b58)).toBe('0/627B58');
    expect(formatLsn(0)).toBe('0/0');
    expect(formatLsn(0x16_b374d848)).toBe('16/B374D848');
  });

  it('parses what pg_lsn_in accepts and nothing else', () => {
    expect(parseLsn('0/627B58')).toBe(0x627b58);
    expect(parseLsn('16/b374d848')).toBe(0x16_b374d848);
    expect(parseLsn('00000000/00000001')).toBe(1);
    for (const bad of ['zz', '', '0/', '/0', '0/0/0', ' 0/1', '0/1 ', '123456789/0', '0/123456789', '-1/0', '0x1/0']) {
      expect(() => parseLsn(bad), bad).toThrow(InvalidArgumentError);
    }
  });

  it('names the bad input in a typed error', () => {
    try {
      parseLsn('zz');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(WalError);
      expect((e as WalError).code).toBe('invalid-argument');
      expect((e as Error).message).toBe('invalid input syntax for type pg_lsn: "zz"');
    }
  });

  it('refuses LSNs it cannot hold exactly instead of rounding them', () => {
    expect(() => parseLsn('FFFFFFFF/FFFFFFFF')).toThrow(/largest LSN/);
    expect(parseLsn('1FFFFF/FFFFFFFF')).toBe(MAX_LSN);
    expect(lsnFromParts(0x200000, 0)).toBe(-1);
    expect(() => addLsn(MAX_LSN, 1)).toThrow(InvalidArgumentError);
  });

  it('round-trips every representable LSN', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x1fffff }), fc.integer({ min: 0, max: 0xffffffff }), (hi, lo) => {
        const lsn = lsnFromParts(hi, lo);
        const text = formatLsn(lsn);
        expect(text).toBe(`${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`);
        expect(parseLsn(text)).toBe(lsn);
        expect(BigInt(lsn)).toBe((BigInt(hi) << 32n) | BigInt(lo));
      }),
    );
  });
});

describe('segment and page arithmetic', () => {
  it('accepts exactly the powers of two from 1 MB to 1 GB as wal_segment_size', () => {
    for (let mb = 1; mb <= 1024; mb *= 2) expect(isValidWalSegmentSize(mb * 1024 * 1024)).toBe(true);
    for (const bad of [0, 512 * 1024, 3 * 1024 * 1024, 2048 * 1024 * 1024, 1024 * 1024 + 1]) expect(isValidWalSegmentSize(bad)).toBe(false);
  });

  it('maps LSNs to segments, offsets and pages', () => {
    const mb = 1024 * 1024;
    // 0/627B58 with 1 MB segments lies in segment 6 (see pg-wal-format.md §1.5, verified on PG15).
    expect(segmentOf(0x627b58, mb)).toBe(6);
    expect(segmentOffset(0x627b58, mb)).toBe(0x27b58);
    expect(segmentStart(6, mb)).toBe(0x600000);
    expect(pageStart(0x627fd0)).toBe(0x626000);
    expect(pageOffset(0x627fd0)).toBe(0x1fd0);
    // An end position on a boundary belongs to the segment before it (XLByteToPrevSeg).
    expect(segmentOfEnd(0x700000, mb)).toBe(6);
    expect(segmentOf(0x700000, mb)).toBe(7);
    expect(maxAlign(0x627b59)).toBe(0x627b60);
    expect(maxAlign(0x627b58)).toBe(0x627b58);
  });
});
