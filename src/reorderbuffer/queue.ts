// A transaction's own queue of encoded changes: framed in chunks exactly as a spill file holds them
// ([u32 length][change]…), so it costs no object per change while queued and spills as whole chunks, which
// are then reused for the transaction's next changes instead of becoming garbage (see ChunkPool).
import { framedLength } from './spill.js';
import type { ChangeAllocator } from './change.js';

const FRAME = 4;
const FIRST_CHUNK = 2048;
const MAX_CHUNK = 1 << 20;

/**
 * Chunks a spilled queue gave back, and shared chunks no queued change is in any more (ChangeArena.release), for the
 * next changes of any queue or the next shared chunk. Only chunks no plugin may still hold views of come here: a
 * spilled queue's (never after a commit or a stream), and shared chunks only a plugin with transientRowChanges saw.
 */
export class ChunkPool {
  private readonly free: Uint8Array[] = [];
  /** Bytes of the chunks held. */
  bytes = 0;

  /** Keeps `chunk` for reuse if the pool then holds at most `max` bytes; else it is left to the garbage collector. */
  give(chunk: Uint8Array, max: number): void {
    if (this.bytes + chunk.length > max) return;
    this.free.push(chunk);
    this.bytes += chunk.length;
  }

  /** A held chunk of at least `min` bytes, or undefined. */
  take(min: number): Uint8Array | undefined {
    for (let i = this.free.length - 1; i >= 0; i--) {
      const c = this.free[i]!;
      if (c.length < min) continue;
      this.free.splice(i, 1);
      this.bytes -= c.length;
      return c;
    }
    return undefined;
  }

  /** Lets go of chunks until at most `max` bytes are held. */
  trim(max: number): void {
    while (this.bytes > Math.max(0, max)) this.bytes -= this.free.pop()!.length;
  }
}

export class ChangeQueue implements ChangeAllocator, Iterable<Uint8Array> {
  /** Changes queued. */
  length = 0;
  private readonly chunks: Uint8Array[] = [];
  /** Bytes used in each chunk but the last (whose use is `pos`). */
  private readonly used: number[] = [];
  private pos = 0;
  private nextSize = FIRST_CHUNK;
  /** The last alloc()ation, queued by push() without a copy. */
  private pending: Uint8Array | undefined;

  constructor(private readonly pool?: ChunkPool) {}

  /** Room for a change of `n` bytes at the end of the queue; it is queued only when push()ed. */
  alloc(n: number): Uint8Array {
    let c = this.chunks[this.chunks.length - 1];
    if (c === undefined || this.pos + FRAME + n > c.length) c = this.newChunk(FRAME + n);
    const at = this.pos;
    c[at] = n;
    c[at + 1] = n >>> 8;
    c[at + 2] = n >>> 16;
    c[at + 3] = n >>> 24;
    return (this.pending = new Uint8Array(c.buffer, c.byteOffset + at + FRAME, n));
  }

  /** Queues `change`: the last allocation as it is, anything else copied in. */
  push(change: Uint8Array): void {
    if (change !== this.pending) this.alloc(change.length).set(change);
    this.pending = undefined;
    this.pos += FRAME + change.length;
    this.length++;
  }

  private newChunk(min: number): Uint8Array {
    if (this.chunks.length > 0) this.used.push(this.pos);
    // A pooled chunk of any size that fits first; new chunks grow, so that a small queue stays small.
    let c = this.pool?.take(min);
    if (c === undefined) {
      c = new Uint8Array(Math.max(this.nextSize, min));
      this.nextSize = Math.min(this.nextSize * 2, MAX_CHUNK);
    }
    this.chunks.push(c);
    this.pos = 0;
    return c;
  }

  /** The queued changes as spill-file bytes: the used part of each chunk, in order. */
  frames(): Uint8Array[] {
    const out: Uint8Array[] = [];
    const last = this.chunks.length - 1;
    for (let i = 0; i <= last; i++) {
      const n = i === last ? this.pos : this.used[i]!;
      if (n > 0) out.push(this.chunks[i]!.subarray(0, n));
    }
    return out;
  }

  /** Bytes of the chunks this queue holds. */
  get capacity(): number {
    let n = 0;
    for (const c of this.chunks) n += c.length;
    return n;
  }

  /**
   * Empties the queue after its changes were spilled: its chunks go to the pool (while it holds at most `poolMax`
   * bytes) for the next changes. Views of the old changes must not be used after this.
   */
  clear(poolMax: number): void {
    for (const c of this.chunks) this.pool?.give(c, poolMax);
    this.chunks.length = 0;
    this.used.length = 0;
    this.pos = 0;
    this.length = 0;
    this.pending = undefined;
  }

  /** The queued changes in order, each a view of its chunk. */
  *[Symbol.iterator](): Generator<Uint8Array> {
    for (const f of this.frames()) {
      for (let at = 0; at < f.length; ) {
        const n = framedLength(f, at);
        yield new Uint8Array(f.buffer, f.byteOffset + at + FRAME, n);
        at += FRAME + n;
      }
    }
  }
}
