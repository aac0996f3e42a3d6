// The CLI's byte output buffer (pgoutput's `\x` hex lines) against Node's own hex encoder: every line length, at
// even and odd offsets, with text and prefixes between, and across the buffer's growth.
import { describe, expect, it } from 'vitest';
import { OutputBuffer } from '../src/cli/output-buffer.js';

describe('OutputBuffer', () => {
  it('prints bytes as psql prints a bytea, wherever the line starts', () => {
    const o = new OutputBuffer();
    let expected = '';
    let seed = 7;
    const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    // Past 4096 lines the 32-bit stores take over: both ways are checked.
    for (let t = 0; t < 10000; t++) {
      const n = t < 70 ? t : rand(300);
      const bytes = new Uint8Array(n + 5);
      for (let i = 0; i < bytes.length; i++) bytes[i] = rand(256);
      const prefix = rand(3) === 0 ? `0/${t.toString(16).toUpperCase()}\t${t}\t` : undefined;
      o.hexLine(prefix, bytes, n);
      expected += `${prefix ?? ''}\\x${Buffer.from(bytes.subarray(0, n)).toString('hex')}\n`;
      if (rand(5) === 0) {
        o.text('BEGIN 7ä\n');
        expected += 'BEGIN 7ä\n';
      }
    }
    // More than the first buffer (256 KiB): it grew on the way.
    expect(o.length).toBeGreaterThan(1 << 18);
    expect(o.take()).toBe(expected);
    expect(o.length).toBe(0);
  });

  it('hands its output over whole and goes on in the buffer given back', () => {
    const o = new OutputBuffer();
    const bytes = new Uint8Array(200).map((_, i) => (i * 37) & 0xff);
    const lines: string[] = [];
    let got = '';
    let back: Uint8Array | undefined;
    for (let t = 0; t < 5000; t++) {
      const n = t % 200;
      o.hexLine(t % 3 === 0 ? `${t}\t` : undefined, bytes, n);
      lines.push(`${t % 3 === 0 ? `${t}\t` : ''}\\x${Buffer.from(bytes.subarray(0, n)).toString('hex')}\n`);
      if (o.length >= 1 << 18) {
        const { buf, length } = o.handOff(back);
        got += Buffer.from(buf.buffer, 0, length).toString('latin1');
        // What the decoding thread gives back: the same memory as a plain Uint8Array.
        back = new Uint8Array(buf.buffer);
      }
    }
    got += o.take();
    expect(got).toBe(lines.join(''));
  });
});
