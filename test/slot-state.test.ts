// The slot state file and the Slot's rules, without a server: every cut of a file is refused with a typed
// error (never read as a fresh slot), a flipped byte is caught, a version-1 file is read and upgraded, and
// confirm/advance move as the server's slots do.
import { describe, expect, it } from 'vitest';
import { crc32c } from '../src/xlogreader/crc32c.js';
import { formatLsn, parseLsn } from '../src/lsn.js';
import { parseSlotState, serializeSlotState, SLOT_STATE_VERSION, type SlotState } from '../src/slot/state.js';
import { Slot } from '../src/slot/slot.js';
import { SlotStateError } from '../src/slot/errors.js';
import { transactionIdPrecedesOrEquals } from '../src/slot/guard.js';
import { parseSlotExport, serializeSlotExport } from '../src/slot/export.js';

function sample(): SlotState {
  return {
    version: SLOT_STATE_VERSION,
    name: 's1',
    plugin: 'test_decoding',
    pluginOptions: {},
    systemIdentifier: '7400000000000000001',
    databaseOid: 5,
    database: 'postgres',
    major: 17,
    timeline: 1,
    restartLsn: '0/1000028',
    confirmedFlush: '0/1000060',
    catalogXmin: 740,
    twoPhase: false,
    invalidation: null,
    catalogRef: { kind: 'embedded', asOf: '0/1000060', crc32c: 1 },
    catalogFilenodes: [[1663, 1259]],
    timezone: 'UTC',
    catalog: { databaseOid: 5, relations: [{ oid: 16384, relfilenode: 16384, namespace: 'public', name: 't', kind: 'r', toastRelid: 0, attributes: [] }], types: [] },
  };
}

const err = (f: () => unknown): SlotStateError => {
  try {
    f();
  } catch (e) {
    if (e instanceof SlotStateError) return e;
    throw e;
  }
  throw new Error('expected a SlotStateError');
};

describe('slot state file', () => {
  it('round-trips', () => {
    expect(parseSlotState(serializeSlotState(sample()), 'f')).toEqual(sample());
  });

  it('refuses every cut of the file as torn (or corrupt), never as a fresh state', () => {
    const bytes = serializeSlotState(sample());
    for (let n = 0; n < bytes.length - 1; n++) {
      const e = err(() => parseSlotState(bytes.subarray(0, n), 'cut'));
      expect(['slot-state-torn', 'slot-state-corrupt']).toContain(e.code);
      expect(e.file).toBe('cut');
    }
    // Most cuts land in the body: those are torn, by the announced length.
    expect(err(() => parseSlotState(bytes.subarray(0, bytes.length - 10), 'cut')).code).toBe('slot-state-torn');
    expect(err(() => parseSlotState(new Uint8Array(0), 'empty')).code).toBe('slot-state-torn');
  });

  it('catches any flipped byte in the body', () => {
    const bytes = serializeSlotState(sample());
    const start = new TextDecoder().decode(bytes).indexOf('"state":') + 8;
    for (let i = start; i < bytes.length - 2; i += 7) {
      const b = bytes.slice();
      b[i] ^= 0x01;
      expect(err(() => parseSlotState(b, 'flip')).code).toBe('slot-state-corrupt');
    }
  });

  it('names a version it does not read', () => {
    const text = new TextDecoder().decode(serializeSlotState(sample())).replace('"version":2,"length"', '"version":3,"length"');
    const e = err(() => parseSlotState(new TextEncoder().encode(text), 'v3'));
    expect(e.code).toBe('slot-state-version');
    expect(e.message).toMatch(/format version 3/);
  });

  it('reads a version-1 file (as pgwal 0.1 wrote it) and upgrades it', () => {
    const s = sample();
    const v1 = {
      version: 1,
      slotName: s.name,
      plugin: s.plugin,
      systemIdentifier: s.systemIdentifier,
      major: s.major,
      databaseOid: s.databaseOid,
      timeline: s.timeline,
      restartLsn: s.restartLsn,
      confirmedFlushLsn: s.confirmedFlush,
      catalogXmin: '740',
      timezone: 'UTC',
      catalog: s.catalog,
    };
    const body = JSON.stringify(v1);
    const file = new TextEncoder().encode(`{"crc32c":${crc32c(new TextEncoder().encode(body))},"state":${body}}\n`);
    const up = parseSlotState(file, 'v1');
    expect(up).toMatchObject({ version: 2, name: 's1', confirmedFlush: '0/1000060', restartLsn: '0/1000028', catalogXmin: 740, invalidation: null, twoPhase: false });
    const edited = new TextEncoder().encode(new TextDecoder().decode(file).replace('"databaseOid":5', '"databaseOid":6'));
    expect(err(() => parseSlotState(edited, 'v1')).code).toBe('slot-state-corrupt');
  });
});

describe('Slot', () => {
  const make = (): { slot: Slot; writes: SlotState[] } => {
    const writes: SlotState[] = [];
    return { slot: new Slot(sample(), (s) => void writes.push(s)), writes };
  };

  it('confirmed_flush only moves forward; restart_lsn follows, never past it, never back', () => {
    const { slot, writes } = make();
    expect(slot.confirm(parseLsn('0/1000050'))).toBe(false); // stale: ignored, nothing written
    expect(writes).toHaveLength(0);
    expect(slot.confirm(parseLsn('0/1000100'), { restartLsn: parseLsn('0/1000200') })).toBe(true);
    expect(slot.state.confirmedFlush).toBe('0/1000100');
    expect(slot.state.restartLsn).toBe('0/1000100'); // never past confirmed_flush
    slot.confirm(parseLsn('0/1000300'), { restartLsn: parseLsn('0/1000040') });
    expect(slot.state.restartLsn).toBe('0/1000100'); // never back
    expect(writes.map((w) => w.confirmedFlush)).toEqual(['0/1000100', '0/1000300']);
  });

  it('advance backwards is the server\'s error; to the same place a no-op', () => {
    const { slot, writes } = make();
    expect(() => slot.advance(parseLsn('0/1000000'))).toThrow('cannot advance replication slot to 0/1000000, minimum is 0/1000060');
    slot.advance(parseLsn('0/1000060'));
    expect(writes).toHaveLength(0);
  });

  it('a move is done only once persisted', () => {
    const slot = new Slot(sample(), () => {
      throw new Error('disk full');
    });
    expect(() => slot.confirm(parseLsn('0/2000000'))).toThrow('disk full');
    expect(slot.state.confirmedFlush).toBe('0/1000060');
  });

  it('an invalidated slot refuses to confirm and says why', () => {
    const { slot, writes } = make();
    slot.invalidate('rows_removed', parseLsn('0/1000400'), 'test');
    expect(writes[0]!.invalidation).toEqual({ reason: 'rows_removed', lsn: '0/1000400', detail: 'test' });
    expect(() => slot.confirm(parseLsn('0/2000000'))).toThrow(/can no longer get changes from replication slot "s1"/);
    expect(formatLsn(slot.confirmedFlush)).toBe('0/1000060');
  });
});

describe('TransactionIdPrecedesOrEquals', () => {
  it('compares modulo 2^32 for normal xids', () => {
    expect(transactionIdPrecedesOrEquals(740, 740)).toBe(true);
    expect(transactionIdPrecedesOrEquals(740, 741)).toBe(true);
    expect(transactionIdPrecedesOrEquals(741, 740)).toBe(false);
    expect(transactionIdPrecedesOrEquals(0xfffffff0, 5)).toBe(true); // 5 is after the wrap
    expect(transactionIdPrecedesOrEquals(5, 0xfffffff0)).toBe(false);
    expect(transactionIdPrecedesOrEquals(2, 100)).toBe(true); // FrozenTransactionId
  });
});

describe('slot export blob', () => {
  it('round-trips and refuses an edited blob', () => {
    const blob = serializeSlotExport({ format: 'pgwal-slot-export', version: 1, insertLsn: '0/2000000', source: 'pgwal', slot: sample() });
    expect(parseSlotExport(blob, 'b').slot).toEqual(sample());
    const edited = new TextEncoder().encode(new TextDecoder().decode(blob).replace('"catalogXmin":740', '"catalogXmin":750'));
    expect(() => parseSlotExport(edited, 'b')).toThrow(/checksum mismatch/);
  });
});
