// test_decoding's rows written as bytes (textByteSink, what `pgwal decode` uses when its output is direct) are the
// UTF-8 of the rows it writes as strings: on every fixture, with every option the fixtures are decoded with, and on
// datums the byte path copies or must leave to the text's way (invalid UTF-8, a byte order mark, quotes, domains).
import { describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '../src/index.js';
import { LogicalDecoder, type DecoderCatalog, type DecoderOptions } from '../src/reorderbuffer/logical.js';
import type { CatalogView } from '../src/reorderbuffer/catalog.js';
import { HistoricCatalog } from '../src/catalog/historic.js';
import { catalogSnapshotFromJson } from '../src/catalog/snapshot-json.js';
import { MemorySpillStore } from '../src/reorderbuffer/spill.js';
import { ByteRows, type TextByteSink } from '../src/reorderbuffer/row-bytes.js';
import { TestDecodingPlugin, storedTupleBytes, storedTupleText, type TestDecodingOptions } from '../src/reorderbuffer/testdecoding.js';
import { StoredRowChange, encodeRowChange, CHANGE_INSERT, CHANGE_HEADER } from '../src/reorderbuffer/change.js';
import type { TypeInfo } from '../src/reorderbuffer/values.js';
import type { DecoderRelation } from '../src/reorderbuffer/catalog.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import { listFixtures, readFixtureFile, type Fixture } from './support/fixtures.js';
import { fixtureRead } from './support/wal.js';

const fixtures = listFixtures();
const decoder = new TextDecoder();

/** The rows of one decoding as text (strings only) and as bytes (change rows through textByteSink), `lsn\txid\tdata\n` each. */
function bothWays(make: (more: Partial<DecoderOptions>) => LogicalDecoder, records: Iterable<unknown>): { text: string; bytes: Uint8Array; byteRows: number } {
  let text = '';
  const a = make({ sink: (o) => void (text += `${formatLsn(o.lsn)}\t${o.xid}\t${o.data as string}\n`) });
  for (const rec of records) a.process(rec as never);
  const out = new ByteRows(16);
  let byteRows = 0;
  let rowAt = 0;
  const textByteSink: TextByteSink = {
    start: (lsn, xid) => {
      rowAt = out.length;
      out.text(`${formatLsn(lsn)}\t${xid}\t`);
      return out;
    },
    end: () => {
      out.text('\n');
      byteRows++;
    },
    cancel: () => void (out.length = rowAt),
  };
  const b = make({ sink: (o) => out.text(`${formatLsn(o.lsn)}\t${o.xid}\t${o.data as string}\n`), textByteSink });
  for (const rec of records) b.process(rec as never);
  return { text, bytes: out.buf.slice(0, out.length), byteRows };
}

const OPTIONS: Partial<TestDecodingOptions>[] = [];
for (const includeXids of [true, false]) for (const skipEmptyXacts of [true, false]) for (const includeTimestamp of [false, true]) OPTIONS.push({ includeXids, skipEmptyXacts, includeTimestamp });

describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('%s', (_id, f) => {
  const pages = (f.meta.files as Record<string, string>).catalogPages;
  const catalog = (): DecoderCatalog | CatalogView =>
    pages !== undefined
      ? new HistoricCatalog(catalogSnapshotFromJson(JSON.parse(readFixtureFile(f, pages.replace(/\.gz$/, '')).toString())))
      : (JSON.parse(readFixtureFile(f, 'catalog.json').toString()) as DecoderCatalog);
  const major = profileForMajor(f.meta.major)!.major;

  it('writes the same rows as bytes as in text, with every option, spilled, streamed and two-phase', () => {
    let byteRows = 0;
    for (const slot of f.meta.slots.filter((s) => s.plugin === 'test_decoding')) {
      const { records } = fixtureRead(f, { start: parseLsn(slot.restartLsn) });
      const start = parseLsn(slot.confirmedFlushLsn);
      const twoPhase = slot.twoPhase ? { twoPhaseAt: start } : {};
      const runs: [string, Partial<TestDecodingOptions>, Partial<DecoderOptions>][] = OPTIONS.map((o) => [JSON.stringify(o), o, {}]);
      runs.push(['spilled', { skipEmptyXacts: true }, { memoryLimit: 1 }]);
      runs.push(['streamed', { skipEmptyXacts: true, streamChanges: true }, { memoryLimit: 0, streaming: true }]);
      for (const [name, options, more] of runs) {
        const both = bothWays(
          (m) => new LogicalDecoder({ catalog: catalog(), major, plugin: new TestDecodingPlugin(options), startAt: start, spill: new MemorySpillStore(), ...twoPhase, ...more, ...m }),
          records,
        );
        expect(decoder.decode(both.bytes), `${slot.twoPhase ? 'two-phase ' : ''}${name}`).toBe(both.text);
        // Byte for byte: the text's UTF-8 (a string compare alone would pass replaced invalid bytes).
        expect(Buffer.compare(Buffer.from(both.bytes), Buffer.from(both.text, 'utf8'))).toBe(0);
        byteRows += both.byteRows;
      }
    }
    // The byte path was taken wherever the fixture has change rows.
    const hasChanges = f.meta.slots.some((s) => s.plugin === 'test_decoding') && /\ttable [^\n]*: (INSERT|UPDATE|DELETE):/.test(readFixtureFile(f, 'decoded-xids.tsv').toString());
    if (hasChanges) expect(byteRows).toBeGreaterThan(0);
  });
});
