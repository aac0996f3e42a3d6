// A consumer of a slot's decoded transactions for sinks that write asynchronously or in batches: decoding runs
// ahead into a bounded buffer, batches are handed over by size and time, and the slot moves only on ack().
//
//   WAL ─▶ decoder ─▶ buffer (≤ buffer.maxTransactions / maxChanges; decoding waits when full or paused)
//                        ─▶ batch (≤ batch.maxTransactions / maxChanges, or batch.maxWaitMs after its first)
//                              ─▶ delivered, unacked (≤ maxUnacked) ─▶ ack(endLsn) ─▶ slot.confirm ─▶ persisted
import { formatLsn, parseLsn, type Lsn } from '../lsn.js';
import { InvalidArgumentError, WalError } from '../errors.js';
import { LogicalDecoder } from '../reorderbuffer/logical.js';
import { TypedChangesPlugin, type TypedChange, type TypedTransaction } from '../reorderbuffer/jschanges.js';
import type { SlotState } from '../slot/state.js';
import type { Slot } from '../slot/slot.js';
import { profileForMajor } from '../xlogreader/profile.js';
import type { FollowOptions } from '../xlogreader/source.js';
import type { EndOfWal } from '../xlogreader/reader.js';
import { HistoricCatalog } from '../catalog/historic.js';
import { catalogSnapshotFromJson, catalogSnapshotToJson } from '../catalog/snapshot-json.js';
import { FileSpillStore } from './spill.js';
import { openWal } from './wal.js';
import { readCatalogPages } from './slot.js';

/** A misuse of ack(): an LSN that is not the end of a delivered transaction, or one behind the last ack. */
export class AckError extends WalError {
  constructor(code: 'ack-not-delivered' | 'ack-backwards', message: string, lsn: Lsn) {
    super(code, message, { lsn });
  }
}

export interface ConsumerOptions {
  /** The slot to decode from and confirm (`openSlotFile(…)`); the consumer never releases it. */
  slot: Slot;
  /** Folders holding the WAL. */
  path: string | string[];
  /** Stop at this LSN (upto_lsn); default: the end of the WAL in the folders (or never, with `follow`). */
  end?: Lsn;
  /** Wait at the end of the WAL for more instead of ending (pg_recvlogical's way); `stop()` ends it. */
  follow?: boolean | FollowOptions;
  /** Aborting ends run() / batches() with the signal's reason, at once (even while paused); nothing more is acked. */
  signal?: AbortSignal;
  /** The bounds of one batch: a batch is handed over once it is full or its first transaction has waited maxWaitMs. */
  batch?: { maxTransactions?: number; maxChanges?: number; maxWaitMs?: number };
  /** The bounds of the buffer between decoding and the consumer: decoding waits while it is full. */
  buffer?: { maxTransactions?: number; maxChanges?: number };
  /** Transactions delivered and not yet acknowledged before no further batch is handed over (default 10000). */
  maxUnacked?: number;
  /** logical_decoding_work_mem (default 64 MiB); above it the largest transactions spill to `spillDir`. */
  memoryLimit?: number;
  spillDir?: string;
  onMessage?(message: Extract<TypedChange, { kind: 'message' }>): void;
  filterByOrigin?(originId: number): boolean;
  toastCache?: number;
}

/** Transactions handed over together, in commit order. */
export interface TransactionBatch {
  transactions: TypedTransaction[];
  /** The first transaction's endLsn. */
  firstLsn: Lsn;
  /** The last transaction's endLsn: what `ack` takes to acknowledge the whole batch. */
  lastLsn: Lsn;
  /** Changes in all its transactions. */
  changes: number;
}

export interface EachBatchPayload {
  batch: TransactionBatch;
  ack(lsn: Lsn | string): boolean;
  commit(): boolean;
  pause(): void;
  resume(): void;
  /** False once stop() was called: a long batch may end early (what it did not ack comes again). */
  isRunning(): boolean;
}

export interface RunOptions {
  eachBatch(payload: EachBatchPayload): Promise<void> | void;
  /** Ack each batch once eachBatch has resolved (default true, KafkaJS's eachBatchAutoResolve); false: the sink acks. */
  autoAck?: boolean;
}

interface Pending {
  txn: TypedTransaction;
  /** restart_lsn once this transaction is confirmed: the decoder's restart point when it was emitted. */
  restart: Lsn;
  timeline: number;
  at: number;
}

interface Delivered {
  endLsn: Lsn;
  restart: Lsn;
  timeline: number;
}

/** A promise each side waits on until the other side changes something (or a timeout passes). */
class Wakeup {
  private waiters: (() => void)[] = [];
  wait(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      };
      this.waiters.push(done);
      if (ms !== undefined) timer = setTimeout(() => this.remove(done), Math.max(0, ms));
    });
  }
  private remove(w: () => void): void {
    const i = this.waiters.indexOf(w);
    if (i >= 0) this.waiters.splice(i, 1);
    w();
  }
  notify(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }
}

const positive = (name: string, v: number | undefined, dflt: number): number => {
  if (v === undefined) return dflt;
  if (!(v > 0)) throw new InvalidArgumentError(`${name} must be above 0, got ${v}`);
  return v;
};

/**
 * `new TransactionConsumer({ slot, path })`, then `run({ eachBatch })` or `for await (const batch of
 * consumer.batches())`: the slot's committed transactions from confirmed_flush on, in batches; `ack(lsn)` confirms
 * the slot up to a delivered transaction's endLsn (and all before it), crash-safely, once the sink has it durably.
 * What was delivered and not acknowledged comes again from the next consumer of the slot.
 */
export class TransactionConsumer {
  private readonly o: ConsumerOptions;
  private readonly slot: Slot;
  private readonly batchMax: { transactions: number; changes: number; waitMs: number };
  private readonly bufferMax: { transactions: number; changes: number };
  private readonly maxUnacked: number;
  private readonly queue: Pending[] = [];
  private queuedChanges = 0;
  /** Delivered, not yet acknowledged, in commit order. */
  private readonly unacked: Delivered[] = [];
  private lastAcked: Lsn;
  private lastDelivered: Lsn | undefined;
  private isPaused = false;
  private stopping = false;
  private started = false;
  private producing: Promise<void> | undefined;
  private finished = false;
  private failure: { error: unknown } | undefined;
  private end: EndOfWal | undefined;
  private readonly toConsumer = new Wakeup();
  private readonly toProducer = new Wakeup();
  private readonly abort = new AbortController();
  private catalogPagesAt: ((restart: Lsn) => SlotState['catalogPages']) | undefined;

  constructor(options: ConsumerOptions) {
    this.o = options;
    this.slot = options.slot;
    const b = options.batch ?? {};
    this.batchMax = { transactions: positive('batch.maxTransactions', b.maxTransactions, 100), changes: positive('batch.maxChanges', b.maxChanges, 10_000), waitMs: b.maxWaitMs ?? 1000 };
    if (!(this.batchMax.waitMs >= 0)) throw new InvalidArgumentError(`batch.maxWaitMs must be 0 or more, got ${this.batchMax.waitMs}`);
    const q = options.buffer ?? {};
    this.bufferMax = { transactions: positive('buffer.maxTransactions', q.maxTransactions, 1000), changes: positive('buffer.maxChanges', q.maxChanges, 100_000) };
    this.maxUnacked = positive('maxUnacked', options.maxUnacked, 10_000);
    this.lastAcked = this.slot.confirmedFlush;
  }

  /** The slot's confirmed_flush: everything up to here is acknowledged and persisted. */
  get acknowledged(): Lsn {
    return this.lastAcked;
  }
  /** The endLsn of the last transaction handed over, if any. */
  get delivered(): Lsn | undefined {
    return this.lastDelivered;
  }
  /** Transactions and changes decoded and waiting to be handed over. */
  get buffered(): { transactions: number; changes: number } {
    return { transactions: this.queue.length, changes: this.queuedChanges };
  }
  get paused(): boolean {
    return this.isPaused;
  }
  /** Once the batches have ended: where and why reading the WAL stopped. */
  get endOfWal(): EndOfWal | undefined {
    return this.end;
  }

  /** No further batch is handed over, and decoding stops at its next transaction, until resume(). */
  pause(): void {
    this.isPaused = true;
  }
  resume(): void {
    this.isPaused = false;
    this.toConsumer.notify();
    this.toProducer.notify();
  }
  /** Ends run() / batches() after the batch being handled; what is delivered and not acked is not confirmed. */
  stop(): void {
    this.stopping = true;
    this.abort.abort();
    this.toConsumer.notify();
    this.toProducer.notify();
  }

  /**
   * Confirms the slot up to `lsn`, the endLsn of a delivered transaction (a `pg_lsn` text works too): that one and
   * every delivered one before it are done. restart_lsn moves to where the decoder could restart having consumed
   * them (never past the start of a transaction not yet acknowledged); the state is persisted before this returns.
   * The last acknowledged LSN again is a no-op (false); an earlier one is an AckError, as is an LSN no delivered
   * transaction ends at.
   */
  // see LogicalConfirmReceivedLocation (logical.c)
  ack(lsn: Lsn | string): boolean {
    const at = typeof lsn === 'string' ? parseLsn(lsn) : lsn;
    if (at === this.lastAcked) return false;
    if (at < this.lastAcked) throw new AckError('ack-backwards', `cannot acknowledge ${formatLsn(at)}: ${formatLsn(this.lastAcked)} is acknowledged already`, at);
    const i = this.indexOfUnacked(at);
    if (i < 0) {
      const last = this.lastDelivered === undefined ? 'none delivered yet' : `the last delivered ends at ${formatLsn(this.lastDelivered)}`;
      throw new AckError('ack-not-delivered', `cannot acknowledge ${formatLsn(at)}: no delivered transaction ends there (${last}); acknowledge a transaction's endLsn`, at);
    }
    const d = this.unacked[i]!;
    this.slot.confirm(d.endLsn, { restartLsn: d.restart, timeline: d.timeline, catalogPagesAt: this.catalogPagesAt });
    this.unacked.splice(0, i + 1);
    this.lastAcked = d.endLsn;
    this.toConsumer.notify();
    return true;
  }

  /** Acknowledges every transaction delivered so far (false when there is nothing new). */
  commit(): boolean {
    return this.lastDelivered === undefined ? false : this.ack(this.lastDelivered);
  }

  private indexOfUnacked(lsn: Lsn): number {
    let lo = 0;
    let hi = this.unacked.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.unacked[mid]!.endLsn;
      if (v === lsn) return mid;
      if (v < lsn) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** KafkaJS's consumer.run: eachBatch for every batch; with autoAck (the default) a batch is acked once it resolved. */
  async run(options: RunOptions): Promise<void> {
    const autoAck = options.autoAck ?? true;
    const payload = (batch: TransactionBatch): EachBatchPayload => ({
      batch,
      ack: (lsn) => this.ack(lsn),
      commit: () => this.commit(),
      pause: () => this.pause(),
      resume: () => this.resume(),
      isRunning: () => !this.stopping,
    });
    for await (const batch of this.batches()) {
      await options.eachBatch(payload(batch));
      if (autoAck && !this.stopping && batch.lastLsn > this.lastAcked) this.ack(batch.lastLsn);
    }
  }

  /**
   * The batches as an async iterator (once per consumer). Ends at the end of the WAL (after every decoded
   * transaction was handed over), on stop() or on a `break`; an error in decoding is thrown after the batches
   * decoded before it.
   */
  async *batches(): AsyncGenerator<TransactionBatch, void, undefined> {
    if (this.started) throw new InvalidArgumentError('a TransactionConsumer runs once: make a new one (on the same slot) to start again');
    this.started = true;
    this.slot.assertUsable();
    // An abort ends the batches with its reason, also while the consumer waits (paused, or for acks).
    const signal = this.o.signal;
    const onAbort = (): void => {
      this.failure ??= { error: signal!.reason };
      this.stop();
    };
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    this.producing = this.produce();
    try {
      for (;;) {
        const batch = await this.nextBatch();
        if (batch === undefined) break;
        yield batch;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.stop();
      await this.producing;
    }
    if (this.failure !== undefined) throw this.failure.error;
  }

  private batchReady(now: number): boolean | number {
    if (this.queue.length === 0) return false;
    if (this.finished) return true;
    if (this.queue.length >= this.batchMax.transactions || this.queuedChanges >= this.batchMax.changes) return true;
    // A full buffer cannot grow into a fuller batch.
    if (this.bufferFull()) return true;
    const wait = this.queue[0]!.at + this.batchMax.waitMs - now;
    return wait <= 0 ? true : wait;
  }

  private async nextBatch(): Promise<TransactionBatch | undefined> {
    for (;;) {
      if (this.stopping) return undefined;
      if (this.finished && this.queue.length === 0) return undefined;
      if (!this.isPaused && this.unacked.length < this.maxUnacked) {
        const ready = this.batchReady(Date.now());
        if (ready === true) return this.take();
        await this.toConsumer.wait(ready === false ? undefined : ready);
      } else await this.toConsumer.wait();
    }
  }

  private take(): TransactionBatch {
    const transactions: TypedTransaction[] = [];
    let changes = 0;
    while (this.queue.length > 0 && transactions.length < this.batchMax.transactions) {
      const p = this.queue[0]!;
      // At least one transaction, however large.
      if (transactions.length > 0 && changes + p.txn.changes.length > this.batchMax.changes) break;
      this.queue.shift();
      this.queuedChanges -= p.txn.changes.length;
      changes += p.txn.changes.length;
      transactions.push(p.txn);
      this.unacked.push({ endLsn: p.txn.endLsn, restart: p.restart, timeline: p.timeline });
    }
    this.lastDelivered = transactions[transactions.length - 1]!.endLsn;
    this.toProducer.notify();
    return { transactions, firstLsn: transactions[0]!.endLsn, lastLsn: this.lastDelivered, changes };
  }

  private bufferFull(): boolean {
    return this.queue.length >= this.bufferMax.transactions || this.queuedChanges >= this.bufferMax.changes;
  }

  private async produce(): Promise<void> {
    const o = this.o;
    const state = this.slot.state;
    const profile = profileForMajor(state.major);
    let decoder: LogicalDecoder | undefined;
    try {
      if (profile === undefined) throw new InvalidArgumentError(`unsupported major ${state.major} in the slot state`);
      const ready: TypedTransaction[] = [];
      const pages = readCatalogPages(state);
      const historic = pages !== undefined ? new HistoricCatalog(catalogSnapshotFromJson(pages), { defaults: state.catalog }) : undefined;
      decoder = new LogicalDecoder({
        catalog: historic ?? state.catalog,
        major: profile.major,
        plugin: new TypedChangesPlugin({ onTransaction: (t) => ready.push(t), onMessage: o.onMessage, filterByOrigin: o.filterByOrigin }),
        startAt: parseLsn(state.confirmedFlush),
        timezone: state.timezone,
        toastCache: o.toastCache ?? 64 * 1024 * 1024,
        ...(o.memoryLimit !== undefined ? { memoryLimit: o.memoryLimit } : {}),
        ...(o.spillDir !== undefined ? { spill: new FileSpillStore(o.spillDir) } : {}),
      });
      // Called at ack time: the historic catalog as it is then serves any restart point at or before its last record.
      this.catalogPagesAt = historic === undefined ? undefined : (restart) => catalogSnapshotToJson(historic.exportSnapshot(restart));
      // The caller's signal stops the consumer (batches() listens to it), which aborts this one.
      const signal = this.abort.signal;
      const follow = o.follow === true ? {} : o.follow === false ? undefined : o.follow;
      const stream = openWal({ path: o.path, timeline: 'latest', recycleWindows: true }).records({ start: parseLsn(state.restartLsn), end: o.end, startTimeline: state.timeline, signal, follow });
      try {
        for await (const rec of stream) {
          this.slot.checkRecord(rec, profile.major);
          decoder.process(rec);
          if (ready.length === 0) continue;
          const restart = decoder.restartPoint(rec.endLsn);
          const now = Date.now();
          for (const txn of ready) {
            this.queue.push({ txn, restart: Math.min(restart, txn.endLsn), timeline: rec.timeline, at: now });
            this.queuedChanges += txn.changes.length;
          }
          ready.length = 0;
          this.toConsumer.notify();
          // Backpressure: nothing more is read while the consumer is behind or has paused.
          while ((this.bufferFull() || this.isPaused) && !this.stopping) await this.toProducer.wait();
          if (this.stopping) break;
        }
        this.end = stream.end;
      } catch (e) {
        // stop() aborts a wait for more WAL: an end, not an error.
        if (!(this.stopping && this.abort.signal.aborted && (e === this.abort.signal.reason || (e as Error)?.name === 'AbortError'))) throw e;
      }
    } catch (e) {
      this.failure ??= { error: e };
    } finally {
      decoder?.close();
      this.finished = true;
      this.toConsumer.notify();
    }
  }
}
