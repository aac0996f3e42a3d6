// The slot state file: where decoding restarts, what was confirmed, the catalog to decode with. JSON with a
// format version and a CRC-32C over the body, so a torn or edited file is refused, never silently reset.
import { WalFormatError } from '../errors.js';
import { parseLsn } from '../lsn.js';
import { crc32c } from '../xlogreader/crc32c.js';
import type { DecoderCatalog } from '../reorderbuffer/decoder.js';
import type { CatalogSnapshotJson } from '../catalog/snapshot-json.js';

export const SLOT_STATE_VERSION = 1;

export interface SlotState {
  version: typeof SLOT_STATE_VERSION;
  slotName: string;
  plugin: string;
  systemIdentifier: string;
  major: number;
  databaseOid: number;
  timeline: number;
  /** Where decoding must start reading (the server slot's restart_lsn). */
  restartLsn: string;
  /** Everything committed before this has been consumed (confirmed_flush_lsn). */
  confirmedFlushLsn: string;
  catalogXmin: string;
  /** A two_phase slot, and its two_phase_at: prepared transactions from there on are decoded at PREPARE. */
  twoPhase?: boolean;
  twoPhaseAt?: string;
  /** The TimeZone timestamps are printed in. */
  timezone: string;
  catalog: DecoderCatalog;
  /**
   * The historic catalog's starting point: the catalog relations' raw pages as of restartLsn or later. With it,
   * decoding follows DDL; without it, the fixed `catalog` is used.
   */
  catalogPages?: CatalogSnapshotJson;
  /**
   * Instead of `catalogPages` inline: a file holding them (JSON, gzipped when it ends in .gz), relative to the
   * state file. Read in when the state file is read; a rewritten state file holds the pages inline.
   */
  catalogPagesFile?: string;
}

const encoder = new TextEncoder();

/** `{"crc32c": N, "state": {...}}`: the CRC covers the exact bytes of the state's JSON text. */
export function serializeSlotState(state: SlotState): Uint8Array {
  const body = JSON.stringify(state);
  return encoder.encode(`{"crc32c":${crc32c(encoder.encode(body))},"state":${body}}\n`);
}

export function parseSlotState(bytes: Uint8Array, file: string): SlotState {
  const fail = (why: string): never => {
    throw new WalFormatError('invalid-slot-state', `slot state file "${file}" is invalid: ${why}`, { file });
  };
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  const m = /^\{"crc32c":(\d+),"state":([\s\S]*)\}\n?$/.exec(text);
  if (m === null) return fail('not a pgwal slot state file');
  const body = m[2]!;
  if (crc32c(encoder.encode(body)) !== Number(m[1])) return fail('checksum mismatch (torn write or edited file)');
  let state: SlotState;
  try {
    state = JSON.parse(body) as SlotState;
  } catch (e) {
    return fail(`bad JSON: ${(e as Error).message}`);
  }
  if (state.version !== SLOT_STATE_VERSION) fail(`format version ${String(state.version)}, expected ${SLOT_STATE_VERSION}`);
  for (const k of ['restartLsn', 'confirmedFlushLsn'] as const) {
    try {
      parseLsn(state[k]);
    } catch {
      fail(`${k} "${String(state[k])}" is not an LSN`);
    }
  }
  if (typeof state.catalog !== 'object' || state.catalog === null || !Array.isArray(state.catalog.relations)) fail('no catalog');
  return state;
}
