// The pgoutput parser on malformed input: typed errors naming what is wrong, never a wrong object or a crash.
// (Its agreement with the server's bytes is in pgoutput.live.test.ts.)
import { describe, expect, it } from 'vitest';
import { WalFormatError } from '../src/errors.js';
import { PgOutputParser, encodePgOutputMessage } from '../src/reorderbuffer/pgoutput-parse.js';

const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));

function parseError(h: string): WalFormatError {
  try {
    new PgOutputParser().parse(hex(h));
  } catch (e) {
    expect(e).toBeInstanceOf(WalFormatError);
    return e as WalFormatError;
  }
  throw new Error(`${h} parsed`);
}

describe('pgoutput parser', () => {
  it('refuses truncated, unknown and over-long messages with a typed error', () => {
    // A Begin one byte short.
    expect(parseError('42000000000070397800030502414a822e000003').message).toMatch(/too short: xid at byte 17 needs 4 bytes, 3 left/);
    expect(parseError('5a').message).toMatch(/invalid logical replication message type 'Z'/);
    expect(parseError('45ff').message).toMatch(/1 bytes after its end/);
    // An insert whose column claims more bytes than are there.
    expect(parseError('49000040174e00017400000010414243').message).toMatch(/column 1 at byte 13 needs 16 bytes, 3 left/);
    expect(parseError('49000040174e000178').message).toMatch(/unrecognized data representation type 'x'/);
    // A relation name without its NUL.
    expect(parseError('52000040177075626c6963006964').message).toMatch(/no terminating NUL/);
    // A truncate claiming more relations than it holds.
    expect(parseError('54ffffffff00').message).toMatch(/claims 4294967295 relations/);
  });

  it('reads the xid of data messages inside a streamed block only', () => {
    const p = new PgOutputParser();
    expect(p.parse(hex('530000032601'))).toEqual({ tag: 'streamStart', xid: 806, firstSegment: true });
    const ins = p.parse(hex('49000003260000400a4e0001740000000131'));
    expect(ins).toEqual({ tag: 'insert', xid: 806, relid: 0x400a, newTuple: [{ kind: 'text', value: '1' }] });
    expect(p.parse(hex('45'))).toEqual({ tag: 'streamStop' });
    expect(p.parse(hex('490000400a4e0001740000000131'))).toEqual({ tag: 'insert', relid: 0x400a, newTuple: [{ kind: 'text', value: '1' }] });
    expect(Buffer.from(encodePgOutputMessage(ins)).toString('hex')).toBe('49000003260000400a4e0001740000000131');
  });
});
