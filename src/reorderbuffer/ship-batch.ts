// The batches the decoding thread ships to the format thread: callbacks or messages written as bytes into a buffer
// that goes (transferred) when full or at a flush, and comes back to be written again. ShippingPlugin (ship.ts)
// and BytesRowShipper (pgoutput-ship.ts) write their ops into it.
import type { ShipMessage, Shipper } from './ship.js';

/** The end of a record whose decoding made callbacks (one byte, no context). */
export const OP_RECORD_END = 20;

export class ShipBatch implements Shipper {
  protected buf: Uint8Array = new Uint8Array(0);
  protected view: DataView = new DataView(this.buf.buffer);
  protected pos = 0;
  /** Where batches go; undefined until `ship`. */
  protected post: ((m: ShipMessage, transfer?: ArrayBuffer[]) => void) | undefined = undefined;
  /**
   * Batches the other thread is done with, to be written again: a new buffer for each would leave the garbage of
   * a gigabyte transaction's batches to the two threads' collectors (+60 MB of peak RSS).
   */
  private readonly spare: Uint8Array[] = [];
  /** Ops were written since the last record end. */
  protected inRecord = false;

  constructor(protected readonly batchSize: number) {}

  /** Whether ops are shipped. */
  get shipping(): boolean {
    return this.post !== undefined;
  }

  /** From now on batches go to `post`. */
  ship(post: (m: ShipMessage, transfer?: ArrayBuffer[]) => void): void {
    this.post = post;
    this.buf = new Uint8Array(this.batchSize);
    this.view = new DataView(this.buf.buffer);
    this.pos = 0;
  }

  /** A batch the other thread is done with, for reuse. */
  giveBack(buf: Uint8Array): void {
    if (buf.length === this.batchSize && this.spare.length < 4) this.spare.push(buf);
  }

  /** Sends the batch written so far. */
  flush(): void {
    if (this.pos === 0) return;
    const buf = this.buf;
    this.post!({ t: 'batch', buf, length: this.pos }, [buf.buffer as ArrayBuffer]);
    this.buf = this.spare.pop() ?? new Uint8Array(this.batchSize);
    this.view = new DataView(this.buf.buffer);
    this.pos = 0;
  }

  /** An object message, after the batch before it. */
  protected send(m: ShipMessage): void {
    this.flush();
    this.post!(m);
  }

  /** The bytes stored changes were last copied from (a reorder buffer chunk holds many), and a view of them. */
  private srcBytes: Uint8Array | undefined = undefined;
  private srcView: DataView = new DataView(new ArrayBuffer(0));

  /**
   * `src[from, from + n)` into the batch at `p`, four bytes a step through views: a subarray and its set per tuple
   * cost more than the copy itself at a tuple's usual size.
   */
  protected copy(src: Uint8Array, from: number, n: number, p: number): void {
    if (n > 256) {
      this.buf.set(src.subarray(from, from + n), p);
      return;
    }
    if (src !== this.srcBytes) {
      this.srcBytes = src;
      this.srcView = new DataView(src.buffer, src.byteOffset, src.byteLength);
    }
    const sv = this.srcView;
    const v = this.view;
    let i = 0;
    for (; i + 4 <= n; i += 4) v.setInt32(p + i, sv.getInt32(from + i, true), true);
    const buf = this.buf;
    for (; i < n; i++) buf[p + i] = src[from + i]!;
  }

  /** Room for `n` bytes in the batch (a larger one for a larger op). */
  protected room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) {
      this.buf = new Uint8Array(n);
      this.view = new DataView(this.buf.buffer);
    }
  }

  /**
   * The record whose decoding made the ops since the last call has been processed whole: the other thread is
   * told, so that rows of a record that fails later (there or here) are dropped as they are on one thread.
   */
  recordEnd(): void {
    if (!this.inRecord) return;
    this.inRecord = false;
    this.room(1);
    this.buf[this.pos++] = OP_RECORD_END;
  }
}
