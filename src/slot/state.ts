// The slot state file: where decoding restarts, what was confirmed, the catalog_xmin it relies on, whether it
// was invalidated, and the catalog to decode with. JSON in an envelope carrying a format version, the body's
// length and its CRC-32C, so a torn or edited file is refused with a typed error, never silently reset.
//
//   v2: {"format":"pgwal-slot","version":2,"length":N,"crc32c":C,"state":{...}}\n
//   v1: {"crc32c":C,"state":{..."version":1...}}\n   (read and upgraded in memory; written as v2)
import { catalogShapeProblem } from '../reorderbuffer/catalog.js';
import { parseLsn } from '../lsn.js';
import { crc32c } from '../xlogreader/crc32c.js';
import type { DecoderCatalog } from '../reorderbuffer/catalog.js';
import type { Major } from '../xlogreader/profile.js';
import { SlotStateError } from './errors.js';
import type { CatalogSnapshotJson } from '../catalog/snapshot-json.js';

export const SLOT_STATE_VERSION = 2;

/** Why a slot can no longer be used, in pg_replication_slots.invalidation_reason's words. */
export type InvalidationReason = 'rows_removed' | 'wal_removed' | 'wal_level_insufficient' | 'idle_timeout';

export interface SlotInvalidation {
  reason: InvalidationReason;
  /** The LSN of the record that invalidated the slot. */
  lsn: string;
  /** What happened, for people: the record, the horizon, the catalog_xmin. */
  detail: string;
}

/** Where the catalog decoding uses comes from. */
export interface CatalogReference {
  /** `embedded`: the `catalog` field, read from the server at the slot's consistent point. */
  kind: 'embedded';
  /** The LSN the catalog is valid as of (the consistent point, or the import point). */
  asOf: string;
  /** CRC-32C of the catalog's JSON text: two states with the same value decode with the same catalog. */
  crc32c: number;
}

export interface SlotState {
  version: typeof SLOT_STATE_VERSION;
  name: string;
  plugin: string;
  /** Output plugin options fixed at creation (test_decoding's take effect per call; kept for export). */
  pluginOptions: Record<string, string>;
  /** pg_control's system identifier, as decimal text (a uint64). */
  systemIdentifier: string;
  databaseOid: number;
  /** The database's name, when known. */
  database: string | undefined;
  /** The server's major version (15–18). */
  major: Major;
  /** The timeline confirmedFlush was reached on. */
  timeline: number;
  /** Where decoding must start reading (restart_lsn). */
  restartLsn: string;
  /** Everything committed before this has been consumed (confirmed_flush_lsn). */
  confirmedFlush: string;
  /** The oldest transaction whose catalog rows decoding may still need (catalog_xmin). */
  catalogXmin: number;
  twoPhase: boolean;
  /** two_phase_at: prepared transactions from there on are decoded at PREPARE (a two_phase slot's consistent point). */
  twoPhaseAt?: string;
  invalidation: SlotInvalidation | null;
  catalogRef: CatalogReference;
  /**
   * (tablespace, relfilenode) of the catalog relations as of the catalog's LSN: how pgwal knows, on 15 (whose
   * prune and vacuum records do not say so), that a record removes catalog rows. Empty when unknown.
   */
  catalogFilenodes: [number, number][];
  /** The TimeZone timestamps are printed in. */
  timezone: string;
  catalog: DecoderCatalog;
  /**
   * The catalog relations' raw pages at restartLsn, for the historic catalog (src/catalog/): with them decoding
   * follows DDL; without, the fixed `catalog` is used.
   */
  catalogPages?: CatalogSnapshotJson;
  /** Instead of `catalogPages` inline: a file holding them (JSON, gzipped when it ends in .gz), relative to the state file. */
  catalogPagesFile?: string;
  /**
   * Earlier restart points, oldest first, kept for a failover (see KeptRestart): the first confirm at each
   * restart_lsn the slot moved to, within its window (`Slot.keepRestarts`).
   */
  keptRestarts?: KeptRestart[];
}

/**
 * A restart point the slot moved through: decoding from `restartLsn` with this catalog emits every transaction
 * committed after `confirmedFlush` whole (the rule restart_lsn keeps). Kept so that after a failover whose
 * switch point lies at or after `confirmedFlush`, the transactions the slot consumed past the switch point can be
 * decoded again.
 */
export interface KeptRestart {
  restartLsn: string;
  confirmedFlush: string;
  timeline: number;
  catalogXmin: number;
  catalogPages?: CatalogSnapshotJson;
  catalogPagesFile?: string;
}

/** The restart points a state knows, oldest first: the kept ones, then its own. */
export function restartPointsOf(s: SlotState): KeptRestart[] {
  const own: KeptRestart = {
    restartLsn: s.restartLsn,
    confirmedFlush: s.confirmedFlush,
    timeline: s.timeline,
    catalogXmin: s.catalogXmin,
    ...(s.catalogPages !== undefined ? { catalogPages: s.catalogPages } : {}),
    ...(s.catalogPagesFile !== undefined ? { catalogPagesFile: s.catalogPagesFile } : {}),
  };
  return [...(s.keptRestarts ?? []), own];
}

/** The version-1 file (pgwal 0.1): no catalog_xmin type, invalidation, two-phase flag or catalog reference. */
interface SlotStateV1 {
  version: 1;
  slotName: string;
  plugin: string;
  systemIdentifier: string;
  major: number;
  databaseOid: number;
  timeline: number;
  restartLsn: string;
  confirmedFlushLsn: string;
  catalogXmin: string;
  twoPhase?: boolean;
  twoPhaseAt?: string;
  timezone: string;
  catalog: DecoderCatalog;
  catalogPages?: CatalogSnapshotJson;
  catalogPagesFile?: string;
}

const encoder = new TextEncoder();

export function catalogChecksum(catalog: DecoderCatalog): number {
  return crc32c(encoder.encode(JSON.stringify(catalog))) >>> 0;
}

export function serializeSlotState(state: SlotState): Uint8Array {
  const body = encoder.encode(JSON.stringify(state));
  const head = encoder.encode(`{"format":"pgwal-slot","version":${SLOT_STATE_VERSION},"length":${body.length},"crc32c":${crc32c(body) >>> 0},"state":`);
  const out = new Uint8Array(head.length + body.length + 2);
  out.set(head, 0);
  out.set(body, head.length);
  out[out.length - 2] = 0x7d; // }
  out[out.length - 1] = 0x0a;
  return out;
}

const HEAD_V2 = /^\{"format":"pgwal-slot","version":(\d+),"length":(\d+),"crc32c":(\d+),"state":/;
const HEAD_V1 = /^\{"crc32c":(\d+),"state":/;

/** Parses a state file's bytes; v1 files are upgraded. Throws SlotStateError naming the file and the fault. */
export function parseSlotState(bytes: Uint8Array, file: string): SlotState {
  const fail = (code: 'torn' | 'corrupt' | 'version', why: string): never => {
    throw new SlotStateError(`slot-state-${code}`, `slot state file "${file}" is invalid: ${why}`, { file });
  };
  if (bytes.length === 0) return fail('torn', 'empty file (a write that never completed)');
  // Read the head as latin1 so that byte offsets equal string offsets.
  const headText = String.fromCharCode(...bytes.subarray(0, Math.min(bytes.length, 200)));
  const v2 = HEAD_V2.exec(headText);
  if (v2 !== null) {
    if (Number(v2[1]) !== SLOT_STATE_VERSION) return fail('version', `format version ${v2[1]}, this pgwal reads 1 and ${SLOT_STATE_VERSION}`);
    const length = Number(v2[2]);
    const start = v2[0].length;
    if (bytes.length < start + length + 1) return fail('torn', `cut short: ${bytes.length} bytes, the header announces ${start + length + 2} (torn write)`);
    const body = bytes.subarray(start, start + length);
    const tail = bytes.subarray(start + length);
    if (tail[0] !== 0x7d || (tail.length > 1 && !(tail.length === 2 && tail[1] === 0x0a))) return fail('corrupt', 'unexpected bytes after the state');
    if (crc32c(body) >>> 0 !== Number(v2[3])) return fail('corrupt', 'checksum mismatch (edited or damaged file)');
    return validate(parseJson(body, fail) as SlotState, fail);
  }
  const v1 = HEAD_V1.exec(headText);
  if (v1 !== null) {
    const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
    const m = /^\{"crc32c":(\d+),"state":([\s\S]*)\}\n?$/.exec(text);
    if (m === null) return fail('torn', 'cut short (torn write)');
    const body = encoder.encode(m[2]!);
    if (crc32c(body) !== Number(m[1]) && crc32c(body) >>> 0 !== Number(m[1])) return fail('corrupt', 'checksum mismatch (torn write or edited file)');
    const old = parseJson(body, fail) as SlotStateV1;
    if (old.version !== 1) return fail('version', `format version ${String(old.version)} in a version-1 envelope`);
    return validate(upgradeV1(old), fail);
  }
  // A prefix of a v2 header is a write cut short; anything else is not ours.
  const prefix = '{"format":"pgwal-slot"';
  if (bytes.length < prefix.length && prefix.startsWith(headText)) return fail('torn', 'cut short inside the header (torn write)');
  return fail('corrupt', 'not a pgwal slot state file');
}

function parseJson(body: Uint8Array, fail: (code: 'torn' | 'corrupt', why: string) => never): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch (e) {
    return fail('corrupt', `bad JSON: ${(e as Error).message}`);
  }
}

function upgradeV1(s: SlotStateV1): SlotState {
  return {
    version: SLOT_STATE_VERSION,
    name: s.slotName,
    plugin: s.plugin,
    pluginOptions: {},
    systemIdentifier: s.systemIdentifier,
    databaseOid: s.databaseOid,
    database: undefined,
    major: s.major as Major,
    timeline: s.timeline,
    restartLsn: s.restartLsn,
    confirmedFlush: s.confirmedFlushLsn,
    catalogXmin: Number(s.catalogXmin),
    twoPhase: s.twoPhase === true,
    ...(s.twoPhaseAt !== undefined ? { twoPhaseAt: s.twoPhaseAt } : {}),
    invalidation: null,
    catalogRef: { kind: 'embedded', asOf: s.confirmedFlushLsn, crc32c: catalogChecksum(s.catalog) },
    catalogFilenodes: [],
    timezone: s.timezone,
    catalog: s.catalog,
    ...(s.catalogPages !== undefined ? { catalogPages: s.catalogPages } : {}),
    ...(s.catalogPagesFile !== undefined ? { catalogPagesFile: s.catalogPagesFile } : {}),
  };
}

function validate(state: SlotState, fail: (code: 'corrupt', why: string) => never): SlotState {
  if (typeof state !== 'object' || state === null) return fail('corrupt', 'the state is not an object');
  if (state.version !== SLOT_STATE_VERSION) fail('corrupt', `format version ${String(state.version)} inside, ${SLOT_STATE_VERSION} outside`);
  if (typeof state.name !== 'string' || state.name === '') fail('corrupt', 'no slot name');
  for (const k of ['restartLsn', 'confirmedFlush'] as const) {
    try {
      parseLsn(state[k]);
    } catch {
      fail('corrupt', `${k} "${String(state[k])}" is not an LSN`);
    }
  }
  if (!Number.isInteger(state.catalogXmin) || state.catalogXmin < 0 || state.catalogXmin > 0xffffffff) fail('corrupt', `catalogXmin ${String(state.catalogXmin)} is not a transaction id`);
  if (![15, 16, 17, 18].includes(state.major)) fail('corrupt', `major version ${String(state.major)} is not one pgwal decodes (15–18)`);
  if (!Number.isInteger(state.timeline) || state.timeline < 1) fail('corrupt', `timeline ${String(state.timeline)} is not a timeline id`);
  if (!/^\d+$/.test(String(state.systemIdentifier))) fail('corrupt', `system identifier "${String(state.systemIdentifier)}" is not a number`);
  if (typeof state.catalog !== 'object' || state.catalog === null || !Array.isArray(state.catalog.relations)) fail('corrupt', 'no catalog');
  const bad = catalogShapeProblem(state.catalog);
  if (bad !== undefined) fail('corrupt', `its catalog cannot be decoded with: ${bad}`);
  if (typeof state.timezone !== 'string') fail('corrupt', 'no TimeZone');
  if (state.invalidation !== null && (typeof state.invalidation !== 'object' || typeof state.invalidation.reason !== 'string')) fail('corrupt', 'bad invalidation');
  if (state.keptRestarts !== undefined) {
    if (!Array.isArray(state.keptRestarts)) fail('corrupt', 'keptRestarts is not a list');
    for (const k of state.keptRestarts) {
      try {
        parseLsn(k.restartLsn);
        parseLsn(k.confirmedFlush);
      } catch {
        fail('corrupt', `a kept restart point has no LSNs: ${JSON.stringify({ restartLsn: k?.restartLsn, confirmedFlush: k?.confirmedFlush })}`);
      }
      if (!Number.isInteger(k.catalogXmin) || !Number.isInteger(k.timeline)) fail('corrupt', `kept restart point ${k.restartLsn} has no catalogXmin or timeline`);
    }
  }
  return state;
}
