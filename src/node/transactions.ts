// Decoded transactions as an async iterator over a slot state and WAL folders: the library's pull-based API.
// Records are read only while the consumer asks for more, so a slow consumer slows the reading (backpressure).
import { parseLsn, type Lsn } from '../lsn.js';
import { InvalidArgumentError } from '../errors.js';
import { LogicalDecoder } from '../reorderbuffer/logical.js';
import { TypedChangesPlugin, type TypedChange, type TypedTransaction } from '../reorderbuffer/jschanges.js';
import type { SlotState } from '../slot/state.js';
import type { Slot } from '../slot/slot.js';
import { profileForMajor } from '../xlogreader/profile.js';
import type { DecodedRecord } from '../xlogreader/record.js';
import { FileSpillStore } from './spill.js';
import { openWal } from './wal.js';
import { readCatalogPages } from './slot.js';
import { StreamWal, type StreamRecordsOptions, type StreamWalOptions } from './stream-wal.js';
import { assertOnHistory, timelineOfLsn } from '../timeline/history.js';
import { HistoricCatalog } from '../catalog/historic.js';
import { catalogSnapshotFromJson, catalogSnapshotToJson } from '../catalog/snapshot-json.js';

export interface DecodeTransactionsOptions {
  /** Where to start and the catalog to decode with: `readSlotStateFile(…)` or `createSlot(…)`; or give `slot`. */
  state?: SlotState;
  /**
   * A slot (`openSlotFile(…)`) instead of `state`: decoding starts at its position, refuses an invalidated slot,
   * checks catalog_xmin on every record (SlotInvalidatedError, persisted, before anything of that record is
   * handed over), and confirms each transaction once the loop asks for the next one — the loop body's end is
   * the acknowledgement, so a transaction whose body did not finish (a crash, a break, a throw) comes again.
   */
  slot?: Slot;
  /** Folders holding the WAL (or give `stream`). */
  path?: string | string[];
  /**
   * The WAL from a server's physical replication stream instead of folders (as `pgwal decode --dsn`): the flush
   * position reported is the slot's restart_lsn; with `physicalSlot`, hot standby feedback carries its
   * catalog_xmin. Without `end`, up to the server's flush position when connected, or with `follow` on as WAL
   * arrives (until `signal` aborts), following timeline switches and a host list's failover.
   */
  stream?: StreamWalOptions & Pick<StreamRecordsOptions, 'follow' | 'onTimelineSwitch'>;
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
  /**
   * Whole old rows for UPDATE and DELETE where their heap page was seen since its full-page image (changes then
   * carry `oldRowComplete`); `budget`: bytes of pages kept (default 256 MiB).
   */
  oldRows?: boolean | { budget?: number };
}

/**
 * `for await (const txn of decodeTransactions({ state, path }))`: each committed transaction from the slot's
 * confirmed_flush on, whole and in commit order, with typed values (see TypedTransaction). Confirm progress with
 * `txn.endLsn`.
 */
export async function* decodeTransactions(options: DecodeTransactionsOptions): AsyncGenerator<TypedTransaction, void, undefined> {
  const { slot } = options;
  const state = slot?.state ?? options.state;
  if (state === undefined) throw new InvalidArgumentError('decodeTransactions needs a slot state (state) or a slot (slot)');
  if (slot !== undefined && options.state !== undefined) throw new InvalidArgumentError('decodeTransactions takes a slot or a state, not both');
  const profile = profileForMajor(state.major);
  if (profile === undefined) throw new InvalidArgumentError(`unsupported major ${state.major} in the slot state`);
  slot?.assertUsable();
  if ((options.path === undefined) === (options.stream === undefined)) throw new InvalidArgumentError('decodeTransactions takes the WAL from path or from stream (one of them)');
  // Connected (and the slot checked against the server's history) before anything is allocated.
  const fromServer = options.stream === undefined ? undefined : await openStream(options.stream, state, slot, options);
  const ready: TypedTransaction[] = [];
  const pages = readCatalogPages(state);
  const historic = pages !== undefined ? new HistoricCatalog(catalogSnapshotFromJson(pages), { defaults: state.catalog }) : undefined;
  const decoder = new LogicalDecoder({
    // With the catalog's pages (slot create's default), the historic catalog follows DDL.
    catalog: historic ?? state.catalog,
    major: profile.major,
    plugin: new TypedChangesPlugin({ onTransaction: (t) => ready.push(t), onMessage: options.onMessage, filterByOrigin: options.filterByOrigin }),
    startAt: parseLsn(state.confirmedFlush),
    timezone: state.timezone,
    // pgwal's own API fills unchanged TOAST columns it saw earlier in the range (they stay UnchangedToast otherwise).
    toastCache: options.toastCache ?? 64 * 1024 * 1024,
    ...(options.memoryLimit !== undefined ? { memoryLimit: options.memoryLimit } : {}),
    ...(options.oldRows === true ? { oldRows: {} } : typeof options.oldRows === 'object' ? { oldRows: options.oldRows } : {}),
    ...(options.spillDir !== undefined ? { spill: new FileSpillStore(options.spillDir) } : {}),
  });
  // The decoder copies what it keeps out of each record before the next is read: windows are recycled.
  const stream: AsyncIterable<DecodedRecord> =
    fromServer ?? openWal({ path: options.path!, timeline: 'latest', recycleWindows: true }).records({ start: parseLsn(state.restartLsn), end: options.end, startTimeline: state.timeline, signal: options.signal });
  const catalogPagesAt = historic === undefined ? undefined : (restart: Lsn): SlotState['catalogPages'] => catalogSnapshotToJson(historic.exportSnapshot(restart));
  try {
    for await (const rec of stream) {
      slot?.checkRecord(rec, profile.major);
      decoder.process(rec);
      if (ready.length === 0) continue;
      // Where decoding could restart once these are confirmed: nothing is read between here and the confirms.
      const restart = decoder.restartPoint(rec.endLsn);
      while (ready.length > 0) {
        const txn = ready.shift()!;
        yield txn;
        // Asked for the next one: the consumer is done with this transaction.
        slot?.confirm(txn.endLsn, { restartLsn: Math.min(restart, txn.endLsn), timeline: rec.timeline, catalogPagesAt });
      }
    }
  } finally {
    decoder.close();
    // A stream reports the slot's final restart_lsn before it ends.
    await fromServer?.close();
  }
}

/** The records of a server's stream from the state's restart_lsn, on the server's history. */
async function openStream(
  o: NonNullable<DecodeTransactionsOptions['stream']>,
  state: SlotState,
  slot: Slot | undefined,
  options: DecodeTransactionsOptions,
): Promise<ReturnType<StreamWal['records']>> {
  const wal = await StreamWal.open(o);
  if (wal.systemIdentifier !== state.systemIdentifier) {
    throw new InvalidArgumentError(`the server has system identifier ${wal.systemIdentifier}, the slot state ${state.systemIdentifier}`);
  }
  // A slot that consumed what the server's history never had (a failover that lost transactions) is refused.
  assertOnHistory(state.timeline, parseLsn(state.confirmedFlush), wal.history);
  const restart = parseLsn(state.restartLsn);
  return wal.records({
    start: restart,
    end: options.end,
    startTimeline: timelineOfLsn(restart, wal.history),
    expect: { systemIdentifier: BigInt(state.systemIdentifier), major: state.major, what: 'the slot state' },
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
    flushLsn: () => (slot !== undefined ? slot.restartLsn : restart),
    catalogXmin: () => (slot !== undefined ? slot.catalogXmin : state.catalogXmin),
    ...(o.follow !== undefined ? { follow: o.follow } : {}),
    ...(o.onTimelineSwitch !== undefined ? { onTimelineSwitch: o.onTimelineSwitch } : {}),
  });
}
