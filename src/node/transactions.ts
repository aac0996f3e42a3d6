// Decoded transactions as an async iterator over a slot state and WAL folders: the library's pull-based API.
// Records are read only while the consumer asks for more, so a slow consumer slows the reading (backpressure).
import { parseLsn, type Lsn } from '../lsn.js';
import { InvalidArgumentError } from '../errors.js';
import { LogicalDecoder } from '../reorderbuffer/decoder.js';
import { TypedChangesPlugin, type TypedChange, type TypedTransaction } from '../reorderbuffer/jschanges.js';
import type { SlotState } from '../slot/state.js';
import { profileForMajor } from '../xlogreader/profile.js';
import { FileSpillStore } from './spill.js';
import { openWal } from './wal.js';
import { readCatalogPages } from './slot.js';
import { HistoricCatalog } from '../catalog/historic.js';
import { catalogSnapshotFromJson } from '../catalog/snapshot-json.js';

export interface DecodeTransactionsOptions {
  /** Where to start and the catalog to decode with: `readSlotStateFile(…)` or `createSlot(…)`. */
  state: SlotState;
  /** Folders holding the WAL. */
  path: string | string[];
  /** Stop at this LSN (upto_lsn); default: the end of the WAL in the folders. */
  end?: Lsn;
  signal?: AbortSignal;
  /** logical_decoding_work_mem (default 64 MiB); above it the largest transactions spill to `spillDir`. */
  memoryLimit?: number;
  /** Where spill files go; default: in memory (which bounds nothing). */
  spillDir?: string;
  /** Non-transactional logical messages, as they are decoded. */
  onMessage?(message: Extract<TypedChange, { kind: 'message' }>): void;
  /** true skips the transactions of that replication origin. */
  filterByOrigin?(originId: number): boolean;
  /** Bytes of TOAST values remembered to fill unchanged TOAST columns (default 64 MiB; 0: never filled). */
  toastCache?: number;
}

/**
 * `for await (const txn of decodeTransactions({ state, path }))`: each committed transaction from the slot's
 * confirmed_flush on, whole and in commit order, with typed values (see TypedTransaction). Confirm progress with
 * `txn.endLsn`.
 */
export async function* decodeTransactions(options: DecodeTransactionsOptions): AsyncGenerator<TypedTransaction, void, undefined> {
  const { state } = options;
  const profile = profileForMajor(state.major);
  if (profile === undefined) throw new InvalidArgumentError(`unsupported major ${state.major} in the slot state`);
  const ready: TypedTransaction[] = [];
  const pages = readCatalogPages(state);
  const decoder = new LogicalDecoder({
    // With the catalog's pages (slot create's default), the historic catalog follows DDL.
    catalog: pages !== undefined ? new HistoricCatalog(catalogSnapshotFromJson(pages), { defaults: state.catalog }) : state.catalog,
    major: profile.major,
    plugin: new TypedChangesPlugin({ onTransaction: (t) => ready.push(t), onMessage: options.onMessage, filterByOrigin: options.filterByOrigin }),
    startAt: parseLsn(state.confirmedFlush),
    timezone: state.timezone,
    // pgwal's own API fills unchanged TOAST columns it saw earlier in the range (they stay UnchangedToast otherwise).
    toastCache: options.toastCache ?? 64 * 1024 * 1024,
    ...(options.memoryLimit !== undefined ? { memoryLimit: options.memoryLimit } : {}),
    ...(options.spillDir !== undefined ? { spill: new FileSpillStore(options.spillDir) } : {}),
  });
  const stream = openWal({ path: options.path, timeline: 'latest' }).records({ start: parseLsn(state.restartLsn), end: options.end, startTimeline: state.timeline, signal: options.signal });
  try {
    for await (const rec of stream) {
      decoder.process(rec);
      while (ready.length > 0) yield ready.shift()!;
    }
  } finally {
    decoder.close();
  }
}
