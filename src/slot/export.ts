// Moving a slot between nodes: an export blob (the state, the catalog, where the source's WAL was when it was
// taken) and the checks an import makes before it accepts one: the same system, a position on our timeline
// history, a catalog_xmin our WAL has not made unsafe, a position our WAL has reached.
import { formatLsn, parseLsn, type Lsn } from '../lsn.js';
import { crc32c } from '../xlogreader/crc32c.js';
import { assertOnHistory, type TimelineHistory } from '../timeline/history.js';
import { WalError } from '../errors.js';
import { SlotImportError } from './errors.js';
import { describeRemoval, type RowRemoval } from './guard.js';
import type { SlotState } from './state.js';

export const SLOT_EXPORT_VERSION = 1;

export interface SlotExport {
  format: 'pgwal-slot-export';
  version: typeof SLOT_EXPORT_VERSION;
  /** The source's WAL insert (or end-of-WAL) position when the export was taken. */
  insertLsn: string;
  /** Where the export came from: `pgwal` (a state file) or `server` (pg_replication_slots). */
  source: 'pgwal' | 'server';
  slot: SlotState;
}

const encoder = new TextEncoder();

export function serializeSlotExport(e: SlotExport): Uint8Array {
  const body = JSON.stringify(e);
  return encoder.encode(`${JSON.stringify({ format: e.format, version: e.version, crc32c: crc32c(encoder.encode(body)) >>> 0 })}\n${body}\n`);
}

export function parseSlotExport(bytes: Uint8Array, file: string): SlotExport {
  const fail = (why: string): never => {
    throw new SlotImportError('slot-import-invalid', `slot export "${file}" is invalid: ${why}`, { file });
  };
  const text = new TextDecoder().decode(bytes);
  const nl = text.indexOf('\n');
  if (nl < 0) return fail('cut short (no header line)');
  let head: { format?: string; version?: number; crc32c?: number };
  try {
    head = JSON.parse(text.slice(0, nl));
  } catch {
    return fail('not a pgwal slot export');
  }
  if (head.format !== 'pgwal-slot-export') return fail('not a pgwal slot export');
  if (head.version !== SLOT_EXPORT_VERSION) return fail(`export format version ${String(head.version)}, this pgwal reads ${SLOT_EXPORT_VERSION}`);
  const body = text.slice(nl + 1).replace(/\n$/, '');
  if (crc32c(encoder.encode(body)) >>> 0 !== head.crc32c) return fail('checksum mismatch (cut short or edited)');
  const e = JSON.parse(body) as SlotExport;
  parseLsn(e.insertLsn);
  return e;
}

/** What the importing side knows about its WAL. */
export interface ImportTarget {
  systemIdentifier: string;
  /** The history of the timeline we follow, newest first. */
  history: TimelineHistory;
  /** The end of the WAL we have (or the server's flush position). */
  walEnd: Lsn;
}

/** The checks that need no WAL scan: system, history, future. Returns 'future' when the WAL has not got there yet. */
// see the slot-sync rules (synchronize_one_slot, slotsync.c): a slot is taken over only when it is not ahead
// of the local node and lies on its history.
export function checkImportPosition(slot: SlotState, target: ImportTarget): 'ok' | 'future' {
  if (slot.systemIdentifier !== target.systemIdentifier) {
    throw new SlotImportError(
      'slot-import-system',
      `slot "${slot.name}" is from database system ${slot.systemIdentifier}, this WAL is from database system ${target.systemIdentifier}`,
    );
  }
  for (const [what, text] of [
    ['restart_lsn', slot.restartLsn],
    ['confirmed_flush', slot.confirmedFlush],
  ] as const) {
    try {
      assertOnHistory(slot.timeline, parseLsn(text), target.history);
    } catch (e) {
      if (e instanceof WalError) {
        const fork = target.history.find((h) => h.tli === slot.timeline)?.end;
        throw new SlotImportError(
          'timeline-diverged',
          `slot "${slot.name}" cannot be imported: its ${what} ${text} on timeline ${slot.timeline} is not on this node's history` +
            (fork === undefined ? ` (timeline ${slot.timeline} is not an ancestor of timeline ${target.history[0]!.tli})` : `: the histories diverge at ${formatLsn(fork)} (the fork point)`),
          { lsn: parseLsn(text), cause: e },
        );
      }
      throw e;
    }
  }
  return parseLsn(slot.confirmedFlush) > target.walEnd ? 'future' : 'ok';
}

/** The refusal for a catalog_xmin that a record of our WAL made unsafe. */
export function unsafeCatalogXmin(slot: SlotState, removal: RowRemoval): SlotImportError {
  return new SlotImportError(
    'slot-import-unsafe',
    `slot "${slot.name}" cannot be imported: its catalog_xmin ${slot.catalogXmin} precedes or equals the snapshot conflict horizon ${removal.horizon} of ${describeRemoval(removal)} (catalog rows it needs may be gone)`,
    { lsn: removal.lsn },
  );
}
