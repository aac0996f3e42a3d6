// Slot state files for the fixtures: what `pgwal slot create` writes (the slot's LSNs and catalog_xmin as the
// server reported them, and the catalog read just before the slot was made), so `pgwal decode` runs on a
// shipped fixture with no server. make-fixtures.ts calls this after each capture; run alone, it (re)writes the
// state files of every committed fixture from its meta.json and catalog.json.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { catalogChecksum, serializeSlotState, SLOT_STATE_VERSION, type SlotState } from '../src/slot/state.js';

interface Meta {
  major: number;
  systemIdentifier: string;
  timeline: number;
  slots: { name: string; plugin: string; restartLsn: string; confirmedFlushLsn: string; catalogXmin: string; twoPhase: boolean }[];
}

type FixtureSlot = Meta['slots'][number];

/**
 * Writes `slot.state` (and `slot-2pc.state` for a two_phase slot, `slot-wal2json.state` for a wal2json one) into a
 * fixture folder. pgoutput slots' states are not committed (the fixtures stay small): the tests make them with
 * fixtureSlotState.
 */
export function writeFixtureStates(dir: string): string[] {
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as Meta;
  const written: string[] = [];
  for (const slot of meta.slots.filter((s) => s.plugin !== 'pgoutput')) {
    const name = slot.twoPhase ? 'slot-2pc.state' : slot.plugin === 'wal2json' ? 'slot-wal2json.state' : 'slot.state';
    fs.writeFileSync(path.join(dir, name), serializeSlotState(fixtureSlotState(dir, slot)));
    written.push(path.join(dir, name));
  }
  return written;
}

/** The state `pgwal slot create` would have written for one of a fixture's slots (catalog pages: relative to `dir`). */
export function fixtureSlotState(dir: string, slot: FixtureSlot): SlotState {
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as Meta;
  const { timezone, ...catalog } = JSON.parse(fs.readFileSync(path.join(dir, 'catalog.json'), 'utf8')) as SlotState['catalog'] & { timezone: string };
  return {
    version: SLOT_STATE_VERSION,
    name: slot.name,
    plugin: slot.plugin,
    pluginOptions: {},
    systemIdentifier: meta.systemIdentifier,
    databaseOid: catalog.databaseOid,
    database: undefined,
    major: meta.major as SlotState['major'],
    timeline: meta.timeline,
    restartLsn: slot.restartLsn,
    confirmedFlush: slot.confirmedFlushLsn,
    catalogXmin: Number(slot.catalogXmin),
    twoPhase: slot.twoPhase,
    ...(slot.twoPhase ? { twoPhaseAt: slot.confirmedFlushLsn } : {}),
    invalidation: null,
    catalogRef: { kind: 'embedded', asOf: slot.confirmedFlushLsn, crc32c: catalogChecksum(catalog) },
    catalogFilenodes: [],
    timezone,
    catalog,
    // The historic catalog's pages, for scenarios whose schema changes in the range (kept beside, gzipped).
    ...(fs.existsSync(path.join(dir, 'catalog-pages.json.gz')) ? { catalogPagesFile: 'catalog-pages.json.gz' } : {}),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
  let n = 0;
  for (const major of fs.readdirSync(root).filter((d) => /^pg\d+$/.test(d))) {
    for (const scenario of fs.readdirSync(path.join(root, major))) {
      if (fs.existsSync(path.join(root, major, scenario, 'meta.json'))) n += writeFixtureStates(path.join(root, major, scenario)).length;
    }
  }
  console.log(`${n} state files written`);
}
