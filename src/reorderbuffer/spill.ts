// Where the reorder buffer puts changes of large transactions when memory runs short (pg_replslot/<slot>/
// xid-*.spill in the server). The core only sees this interface; files live in src/node/spill.ts.
import { CHANGE_HEADER, ChangeArena } from './change.js';
import { WalSourceError, type WalErrorContext } from '../errors.js';

/**
 * Spilled changes that cannot be written or read back whole: `spill-dir` (the folder is not usable),
 * `spill-failed` (a write failed), `spill-missing` (a transaction's file is gone), `spill-short` (it holds
 * fewer or more bytes than were written, or ends inside a change). The transaction is never decoded short.
 */
export class SpillError extends WalSourceError {
  constructor(
    code: 'spill-dir' | 'spill-failed' | 'spill-missing' | 'spill-short',
    message: string,
    /** The transaction whose changes were concerned, when there is one. */
    readonly xid: number | undefined,
    context: WalErrorContext = {},
  ) {
    super(code, message, context);
  }
}

export interface SpillStore {
  /** Appends encoded changes of one (sub)transaction, in the order they were queued. */
  write(xid: number, changes: readonly Uint8Array[]): void;
  /**
   * The same for changes already framed as a spill file holds them ([u32 length][change]…, see framedLength):
   * a transaction's own queue (ChangeQueue) spills its chunks this way. The bytes are reused once this returns.
   */
  writeFrames(xid: number, frames: readonly Uint8Array[]): void;
  /**
   * Reads the changes of `xid` back in the order written: all of them, or a SpillError (a file gone or cut
   * short is never fewer changes).
   */
  read(xid: number): Iterable<Uint8Array>;
  /** Forgets `xid` (commit, abort): its file is removed. */
  remove(xid: number): void;
  /** Bytes held now, over all transactions. */
  readonly bytes: number;
  /** Removes everything (end of decoding). */
  close(): void;
}

/** A spill store in memory: for tests and runtimes without files. It bounds nothing. */
export class MemorySpillStore implements SpillStore {
  private readonly byXid = new Map<number, Uint8Array[]>();
  bytes = 0;
  /** How many times write was called: tests check that spilling happened. */
  writes = 0;

  write(xid: number, changes: readonly Uint8Array[]): void {
    const list = this.byXid.get(xid) ?? [];
    for (const c of changes) {
      list.push(c);
      this.bytes += c.length;
    }
    this.byXid.set(xid, list);
    this.writes++;
  }

  /** Copies: the frames' bytes are reused by their queue. */
  private readonly copies = new ChangeArena();

  writeFrames(xid: number, frames: readonly Uint8Array[]): void {
    const changes: Uint8Array[] = [];
    for (const f of frames) {
      for (let at = 0; at < f.length; ) {
        const n = framedLength(f, at);
        changes.push(this.copies.copy(f.subarray(at + 4, at + 4 + n)));
        at += 4 + n;
      }
    }
    this.write(xid, changes);
  }

  read(xid: number): Iterable<Uint8Array> {
    return this.byXid.get(xid) ?? [];
  }

  remove(xid: number): void {
    for (const c of this.byXid.get(xid) ?? []) this.bytes -= c.length;
    this.byXid.delete(xid);
  }

  close(): void {
    this.byXid.clear();
    this.bytes = 0;
  }
}

/** The length of an encoded change starting at `at` in a spill file's bytes ([u32 length][change]). */
export function framedLength(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16)) + b[at + 3]! * 0x1000000;
}

export const MIN_CHANGE_LENGTH = CHANGE_HEADER;
