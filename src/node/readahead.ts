// Read-ahead for DirectorySource: one worker thread reads the next windows of segment files and checks their
// records' CRC-32C while the calling thread frames the current one; the bytes then move over with the result, or,
// for sources that recycle windows, stay in a slot of memory both threads share (the ring below). A ring window
// the worker has not begun when the calling thread wants it, or a later one while the worker is on it, the calling
// thread claims and does itself (claims), so the two share the reading and checking instead of one waiting.
// The reader is told which records of those very bytes matched (CrcVerified); everything else it checks itself,
// so what it returns and where and how it stops are unchanged.
import fs from 'node:fs';
import { MessageChannel, receiveMessageOnPort, type MessagePort, type Worker } from 'node:worker_threads';
import { newBootWorker } from './readahead-boot.js';
import type { CrcVerified, VouchedRun } from '../xlogreader/reader.js';
import { makeCrc32c, type Crc32c } from '../xlogreader/crc32c.js';
import { makeWasmCrc32c, WASM_SCRATCH_BYTES, type WasmCrc32c } from '../xlogreader/crc32c-wasm.js';

/**
 * The largest window asked for (DirectorySource's): the worker's WebAssembly memory holds one. 2 MB rather than 1:
 * half the hand-overs between the threads (bench/README.md, dumpq). A segment smaller than this is one window.
 */
export const WINDOW_MAX = 1 << 21;

/**
 * How long the calling thread waits for a window the worker has not finished before reading (and checking) it
 * itself: about what the worker needs for one window when it has a core, so a worker starved of CPU by other
 * processes never makes reading slower than on one thread.
 */
const WAIT_MS = 5;
let patient = false;
/** A wait longer than this (ms) has the calling thread read the next window itself (owedToCaller). */
const STEAL_AFTER_MS = 0.25;
/** The last wait timed out: the worker is starved of CPU; do not wait again until a window is ready in time. */
let lagging = false;

/**
 * Windows the calling thread should read (and check) itself rather than hand to the worker: one more each time
 * it had to wait for the worker more than STEAL_AFTER_MS, so that when the worker is the slower of the two (CRC-32C is most of the work)
 * the calling thread takes a share of it instead of idling. For windows moved by transfer only: ring windows are
 * shared by claiming (claimHere) instead.
 */
let owedToCaller = 0;

/** For the source posting windows: true when the next window is the calling thread's own. */
export function callerReadsNext(): boolean {
  if (patient || owedToCaller === 0) return false;
  owedToCaller--;
  return true;
}

/** Tests: wait for the worker however long it takes (up to 10 s), so which records it vouches for is fixed. */
export function waitForReadAhead(on: boolean): void {
  patient = on;
}

/**
 * Bytes of a window's result buffer: its CRC bits (one per 8-byte offset), then the run (makeWindowCheck), then the
 * run's statistics (RUN_STATS entries).
 */
const bitsBytes = (length: number): number => Math.max(8, length / 64);
const RUN_STATS = 128;
const resultBytes = (length: number): number => bitsBytes(length) + 8 * 8 + 4 * (1 + 4 * RUN_STATS);
const statsOf = (buffer: ArrayBuffer, length: number): Int32Array => new Int32Array(buffer, bitsBytes(length) + 64, 1 + 4 * RUN_STATS);

/**
 * The records of a read-ahead window the worker found with a matching CRC (one bit per 8-byte offset), and the
 * run of records from its first on that passed every check the reader makes.
 */
class AheadVerified implements CrcVerified {
  private readonly bits: Int32Array;
  readonly run: VouchedRun | undefined;

  constructor(buffer: ArrayBuffer, length: number) {
    this.bits = new Int32Array(buffer, 0, bitsBytes(length) / 4);
    const r = new Float64Array(buffer, bitsBytes(length), 8);
    const stats = statsOf(buffer, length);
    this.run =
      r[0]! > 0
        ? { count: r[0]!, first: r[1]!, last: r[2]!, next: r[3]!, end: r[4]!, prev: r[5]!, magic: r[6]!, tli: r[7]!, stats: stats[0]! >= 0 ? stats : undefined }
        : undefined;
  }

  verified(offset: number): boolean {
    return (this.bits[offset >>> 8]! & (1 << ((offset >>> 3) & 31))) !== 0;
  }
}

interface Done {
  id: number;
  /** The whole window, or undefined when it could not be read whole. */
  data: ArrayBuffer | undefined;
  bits: ArrayBuffer | undefined;
  /** A ring window's slot, and whether it was read whole into it. */
  slot?: number;
  ok?: boolean;
}

let worker: Worker | undefined;
let port: MessagePort | undefined;
/**
 * Shared with the worker: [0] results posted so far, for Atomics.wait; [1] jobs up to this id are no longer
 * wanted (the worker skips them; with several sources reading at once another's may be skipped too, which then
 * reads that window itself); [2] the id of the job the worker is on.
 */
let posted: Int32Array | undefined;
/**
 * Shared with the worker, one word per ring slot: the id of the job queued for it, until a thread claims that job
 * (compareExchange): the worker writes -id, this thread 0. So while the worker is on one window this thread can
 * read and check a later one instead of waiting, and neither does a window twice.
 */
let claims: Int32Array | undefined;
let nextId = 1;
const results = new Map<number, Done>();
const pending = new Set<number>();
/** Ring jobs not yet taken, in id order: what this thread may claim while it waits. */
const ringJobs = new Map<number, { file: string; offset: number; length: number; lsn: number; slot: number }>();
/** Jobs this thread claimed: the worker's message for each (it skipped it) is dropped when it comes. */
const claimedHere = new Set<number>();

function start(): boolean {
  if (worker !== undefined) return true;
  try {
    const channel = new MessageChannel();
    posted = new Int32Array(new SharedArrayBuffer(12));
    claims = new Int32Array(new SharedArrayBuffer(4 * RING_SLOTS));
    // __name: what esbuild's keepNames (tsx, vitest) wraps named functions in; the source text needs it too.
    const setup = `var __name = (f) => f; const crc = (${makeCrc32c.toString()})(); const makeWasm = (${makeWasmCrc32c.toString()}); const wasm = makeWasm(${WINDOW_MAX + WASM_SCRATCH_BYTES}, crc.tables, undefined, ${TABLE_BYTES + WINDOW_MAX}); const check = (${makeWindowCheck.toString()})(crc);`;
    // The thread starts first and its code comes as a message.
    const w = newBootWorker();
    worker = w;
    w.on('error', () => {
      if (worker === w) worker = undefined;
    });
    const data = { port: channel.port2, posted, claims, window: WINDOW_MAX, ringSlots: RING_SLOTS, scratch: WASM_SCRATCH_BYTES };
    w.postMessage({ source: `${setup} (${workerMain.toString()})(require('node:worker_threads'), require('node:fs'), crc, wasm, makeWasm, check, data);`, data }, [channel.port2]);
    // A dead worker's jobs are waited out by take(), then read by the caller.
    port = channel.port1;
    port.unref();
    // The ring may exist already: this thread reads its own first window into it before any read-ahead.
    if (ring != null) worker.postMessage({ ring: ring.memory });
  } catch {
    return false;
  }
  return true;
}

/** Window buffers given back (recycleWindow): their pages are mapped already, so filling them costs no faults. */
const spareWindows: ArrayBuffer[] = [];
const SPARE_MAX = 8;

/**
 * A source that recycles windows gives one back once no record of it is in use; it is detached when reused. Only
 * whole windows of the usual size are kept.
 */
function recycleWindow(buffer: ArrayBuffer): void {
  if (buffer.byteLength === WINDOW_MAX && spareWindows.length < SPARE_MAX) spareWindows.push(buffer);
}

/** A buffer for a window of `length` bytes: a spare one, else new (not zero-filled: every byte handed on is read from the file first). */
function windowBuffer(length: number): ArrayBuffer {
  if (length === WINDOW_MAX) {
    const b = spareWindows.pop();
    if (b !== undefined && b.byteLength === length) return b;
  }
  return Buffer.allocUnsafeSlow(length).buffer as ArrayBuffer;
}

/**
 * For sources that recycle windows: slots of one window each in a WebAssembly memory shared with the worker, which
 * reads a window into a slot and checks it in place; this thread then reads the same memory. No copy, no transfer,
 * no fresh pages. A slot is free again when its source has left the window (releaseWindow), or when a job for it
 * was dropped. null: shared memory is unavailable (the transfer path is used).
 */
const RING_SLOTS = 8;
const TABLE_BYTES = 16 * 256 * 4;
/** The ring's memory after the tables: the slots, then a scratch area for each thread's walk (this one's first). */
const RING_DATA = RING_SLOTS * WINDOW_MAX + 2 * WASM_SCRATCH_BYTES;
let ring: { memory: { readonly buffer: ArrayBufferLike }; buffer: ArrayBufferLike; free: number[] } | null | undefined;

function ringSlot(): number {
  if (ring === undefined) {
    ring = null;
    try {
      const pages = Math.ceil((TABLE_BYTES + RING_DATA) / 65536);
      const api = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number; shared: boolean }) => { buffer: ArrayBufferLike } } }).WebAssembly;
      const memory = new api.Memory({ initial: pages, maximum: pages, shared: true });
      worker?.postMessage({ ring: memory });
      ring = { memory, buffer: memory.buffer, free: Array.from({ length: RING_SLOTS }, (_, i) => RING_SLOTS - 1 - i) };
    } catch {
      ring = null;
    }
  }
  if (ring === null) return -1;
  if (ring.free.length === 0) drain();
  return ring.free.pop() ?? -1;
}

/** This thread's module over the ring, and the window check, for windows it reads itself. null: unavailable. */
let own: { wasm: WasmCrc32c; bytes: Uint8Array; check: ReturnType<typeof makeWindowCheck> } | null | undefined;

/**
 * For sources that recycle windows: a window this thread reads itself (its share when the worker is behind) goes
 * into a ring slot as well and is checked there as the worker checks its windows, so the reader skips the CRC of
 * the records it vouches for. Undefined when no slot is free or the window cannot be read whole.
 */
export function readWindowInRing(file: string, offset: number, length: number, lsn = 0): { bytes: Uint8Array; crc: CrcVerified } | undefined {
  // No worker started for this: a run that reads one window (a small fixture) never pays for a thread.
  if (length <= 0 || length > WINDOW_MAX) return undefined;
  const slot = ringSlot();
  if (slot < 0) return undefined;
  const result = fillSlot(slot, file, offset, length, lsn);
  if (result === undefined) {
    freeSlot(slot);
    return undefined;
  }
  return { bytes: own!.bytes.subarray(TABLE_BYTES + slot * WINDOW_MAX, TABLE_BYTES + slot * WINDOW_MAX + length), crc: new AheadVerified(result, length) };
}

/**
 * Reads `length` bytes of `file` at `offset` into ring slot `slot` on this thread and checks them as the worker
 * does: the result buffer, or undefined (no WebAssembly here, or the window could not be read whole).
 */
function fillSlot(slot: number, file: string, offset: number, length: number, lsn: number): ArrayBuffer | undefined {
  if (own === undefined) {
    const crc = makeCrc32c();
    const wasm = makeWasmCrc32c(RING_DATA, crc.tables, ring!.memory, TABLE_BYTES + RING_SLOTS * WINDOW_MAX);
    own = wasm === undefined ? null : { wasm, bytes: new Uint8Array(ring!.buffer), check: makeWindowCheck(crc) };
  }
  if (own === null) return undefined;
  const bytes = own.bytes.subarray(TABLE_BYTES + slot * WINDOW_MAX, TABLE_BYTES + slot * WINDOW_MAX + length);
  let got = 0;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      while (got < length) {
        const n = fs.readSync(fd, bytes, got, length - got, offset + got);
        if (n === 0) break;
        got += n;
      }
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    got = -1;
  }
  if (got !== length) return undefined;
  const result = new ArrayBuffer(resultBytes(length));
  own.check(bytes, length, new Int32Array(result, 0, bitsBytes(length) / 4), own.wasm, lsn, offset === 0, new Float64Array(result, bitsBytes(length), 8), statsOf(result, length));
  return result;
}

/**
 * Claims the ring job `id` for this thread when the worker has not begun it, and does it here: its result is kept
 * for take() as the worker's would be. False when the worker has it (or had it).
 */
function claimHere(id: number): boolean {
  const job = ringJobs.get(id);
  if (job === undefined || Atomics.compareExchange(claims!, job.slot, id, 0) !== id) return false;
  ringJobs.delete(id);
  claimedHere.add(id);
  const result = fillSlot(job.slot, job.file, job.offset, job.length, job.lsn);
  results.set(id, { id, data: undefined, bits: result, slot: job.slot, ok: result !== undefined });
  return true;
}

/** Does here the first ring job after `id` the worker has not begun; false when there is none. */
function helpAfter(id: number): boolean {
  for (const later of ringJobs.keys()) if (later > id && pending.has(later) && claimHere(later)) return true;
  return false;
}

/** This thread's window check with the JS CRC-32C, for windows read into a buffer of their own. */
let plainCheck: ReturnType<typeof makeWindowCheck> | undefined;

/**
 * For sources that recycle windows: the check a read-ahead window gets, for a whole window this thread read into
 * a buffer of its own (no ring slot was free), so its runs can be stepped over too.
 */
export function checkWindow(bytes: Uint8Array, lsn: number, offset: number): CrcVerified {
  plainCheck ??= makeWindowCheck(makeCrc32c());
  const length = bytes.length;
  const result = new ArrayBuffer(resultBytes(length));
  plainCheck(bytes, length, new Int32Array(result, 0, bitsBytes(length) / 4), undefined, lsn, offset === 0, new Float64Array(result, bitsBytes(length), 8), statsOf(result, length));
  return new AheadVerified(result, length);
}

function freeSlot(slot: number | undefined): void {
  if (slot !== undefined && slot >= 0 && ring != null && !ring.free.includes(slot)) ring.free.push(slot);
}

/**
 * Receives what the worker has posted: results wanted are kept for take(), slots of dropped ones freed; for a job
 * this thread claimed the worker only says it skipped it (the slot is this thread's).
 */
function receive(r: Done): void {
  if (claimedHere.delete(r.id)) return;
  if (!pending.has(r.id)) freeSlot(r.slot);
  else results.set(r.id, r);
}

function drain(): void {
  if (port === undefined) return;
  for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) receive(m.message as Done);
}

/**
 * A source that recycles windows gives back the window it has left: a ring slot becomes free, a buffer of its own
 * is kept for the next window (it is detached when reused).
 */
export function releaseWindow(bytes: Uint8Array): void {
  if (ring != null && bytes.buffer === ring.buffer) freeSlot((bytes.byteOffset - TABLE_BYTES) / WINDOW_MAX);
  else if (bytes.byteOffset === 0) recycleWindow(bytes.buffer as ArrayBuffer);
}

/**
 * A window (2 MB, or a whole smaller segment) of a segment file that the worker reads and then checks: the CRC-32C of every record starting
 * in it that it can frame from those bytes alone. The bytes move (are transferred) to this thread when taken;
 * they are allocated here, so the memory is this thread's to reuse, and short-lived, so it is freed early.
 */
export class AheadWindow {
  private readonly id: number;
  /** The ring slot it is read into, or -1 (its own buffer, transferred). */
  private readonly slot: number;
  crc: CrcVerified | undefined;

  /** `inRing`: read into a ring slot when one is free (for sources that recycle windows). */
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly length: number,
    inRing = false,
    /** The LSN the window starts at (the worker checks page addresses against it). */
    readonly lsn = 0,
  ) {
    this.id = start() ? nextId++ : 0;
    this.slot = this.id !== 0 && inRing && length > 0 && length <= WINDOW_MAX ? ringSlot() : -1;
    if (this.id !== 0) {
      pending.add(this.id);
      const bits = new ArrayBuffer(resultBytes(length));
      if (this.slot >= 0) {
        ringJobs.set(this.id, { file, offset, length, lsn, slot: this.slot });
        Atomics.store(claims!, this.slot, this.id);
        worker!.postMessage({ id: this.id, file, offset, lsn, length, slot: this.slot, bits }, [bits]);
      } else {
        const data = windowBuffer(length);
        worker!.postMessage({ id: this.id, file, offset, lsn, data, bits }, [data, bits]);
      }
    }
  }

  /** The window once the worker has read and checked it, or undefined (the caller reads it itself). */
  take(): Uint8Array | undefined {
    if (this.id === 0) return undefined;
    // Whatever happens, jobs before this one are not wanted any more.
    if (Atomics.load(posted!, 1) < this.id - 1) Atomics.store(posted!, 1, this.id - 1);
    const began = performance.now();
    let deadline = began + (patient ? 10_000 : WAIT_MS);
    let waited = false;
    for (;;) {
      // Results come in the order asked for: receive only up to this one, so later ones stay unmade.
      let done = results.get(this.id);
      while (done === undefined) {
        const seen = Atomics.load(posted!, 0);
        const m = receiveMessageOnPort(port!);
        if (m === undefined) {
          // Not begun by the worker: this thread does it now. Begun: this thread does a later one meanwhile.
          if (this.slot >= 0 && (claimHere(this.id) || helpAfter(this.id))) {
            done = results.get(this.id);
            // The patience is for waiting on the worker: time spent helping does not count.
            deadline = performance.now() + (patient ? 10_000 : WAIT_MS);
            continue;
          }
          // Waiting is worth it only when the worker is at this window or the one before.
          const near = !lagging && Atomics.load(posted!, 2) >= this.id - 1;
          const left = patient || near ? deadline - performance.now() : 0;
          if (left <= 0 || worker === undefined) {
            if (near) lagging = true;
            this.cancel();
            Atomics.store(posted!, 1, Math.max(Atomics.load(posted!, 1), this.id));
            return undefined;
          }
          Atomics.wait(posted!, 0, seen, left);
          waited = true;
          continue;
        }
        const r = m.message as Done;
        if (r.id === this.id && !claimedHere.has(r.id)) done = r;
        else receive(r);
      }
      results.delete(this.id);
      pending.delete(this.id);
      ringJobs.delete(this.id);
      lagging = false;
      // Only a real wait (the worker a window behind) hands one to the caller: short ones come and go with the
      // worker's own pace, and taking windows then made reading slower.
      // (A ring window's wait is spent on later windows instead: see claimHere.)
      if (waited && this.slot < 0 && performance.now() - began > STEAL_AFTER_MS && owedToCaller < 4) owedToCaller++;
      if (done.slot !== undefined) {
        if (done.ok !== true) {
          freeSlot(done.slot);
          return undefined;
        }
        this.crc = new AheadVerified(done.bits!, this.length);
        return new Uint8Array(ring!.buffer, TABLE_BYTES + done.slot * WINDOW_MAX, this.length);
      }
      if (done.data === undefined || done.data.byteLength !== this.length) return undefined;
      this.crc = new AheadVerified(done.bits!, this.length);
      return new Uint8Array(done.data);
    }
  }

  /** Not needed after all: its result, when it comes, is dropped (and its ring slot freed then). */
  cancel(): void {
    pending.delete(this.id);
    // Not begun by the worker: its slot is free at once (the worker skips it).
    if (ringJobs.delete(this.id) && Atomics.compareExchange(claims!, this.slot, this.id, 0) === this.id) {
      claimedHere.add(this.id);
      freeSlot(this.slot);
      return;
    }
    const r = results.get(this.id);
    if (r !== undefined) {
      results.delete(this.id);
      freeSlot(r.slot);
    }
  }
}

/**
 * The check a read-ahead window gets (in the worker, or here for a window this thread reads into the ring):
 * `check(b, len, bits, wasm)` frames the records starting in `b` and marks those whose CRC matches; with `wasm`,
 * `b` lies in that module's memory and its CRC runs there. Self-contained (the worker runs its source text).
 */
export function makeWindowCheck(
  crc: Crc32c,
): (b: Uint8Array, len: number, bits: Int32Array, wasm: WasmCrc32c | undefined, lsn?: number, segmentStart?: boolean, run?: Float64Array, stats?: Int32Array) => void {
  const BLCKSZ = 8192;
  const u32 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
  const hdrSize = (b: Uint8Array, page: number): number => (b[page + 2]! & 2 ? 40 : 24); // XLP_LONG_HEADER
  const maxAlign = (n: number): number => (n + 7) & ~7;
  let active: WasmCrc32c | undefined;
  const range = (b: Uint8Array, start: number, end: number, seed: number): number =>
    active !== undefined ? active.crc(b.byteOffset + start, b.byteOffset + end, seed) : crc.range(b, start, end, seed);
  const recordCrc = (b: Uint8Array, at: number, tot: number): number => (active !== undefined ? active.record(b.byteOffset + at, tot) >>> 0 : crc.record(b, at, tot));

  // A record spanning pages, as pieces of the window: [window offset, record offset, length] each.
  const pieces = new Int32Array(3 * 1024);
  let npieces = 0;
  // CRC of the record's bytes [from, to) across its pieces, continuing from seed.
  const piecesCrc = (b: Uint8Array, from: number, to: number, seed: number): number => {
    for (let i = 0; i < npieces; i++) {
      const at = pieces[3 * i]!;
      const recOff = pieces[3 * i + 1]!;
      const s = Math.max(from, recOff);
      const e = Math.min(to, recOff + pieces[3 * i + 2]!);
      if (s < e) seed = range(b, at + s - recOff, at + e - recOff, seed);
    }
    return seed;
  };
  const pieceByte = (b: Uint8Array, k: number): number => {
    for (let i = 0; i < npieces; i++) {
      const recOff = pieces[3 * i + 1]!;
      if (k < recOff + pieces[3 * i + 2]!) return b[pieces[3 * i]! + k - recOff]!;
    }
    return 0;
  };

  // The header section of a record spanning pages, gathered from its pieces (DecodeXLogRecord reads only that).
  const HEAD_MAX = 4096;
  const head = new Uint8Array(HEAD_MAX);
  const gatherHead = (b: Uint8Array, tot: number): number => {
    const n = Math.min(tot, HEAD_MAX);
    for (let i = 0; i < npieces; i++) {
      const recOff = pieces[3 * i + 1]!;
      if (recOff >= n) break;
      const m = Math.min(pieces[3 * i + 2]!, n - recOff);
      head.set(b.subarray(pieces[3 * i]!, pieces[3 * i]! + m), recOff);
    }
    return n;
  };

  // DecodeXLogRecord's checks (decodeRecordBody in decode-record.ts makes the same ones, in the same order) over
  // the record at `base` of `total` bytes, `avail` of them at hand: its image bytes (fpi_len), or -1 when the
  // server would refuse it (or the headers run past what is at hand).
  function decodeCheck(b: Uint8Array, base: number, total: number, avail: number): number {
    let ptr = base + 24;
    const lim = base + avail;
    let remaining = total - 24;
    let datatotal = 0;
    let haveRel = false;
    let maxBlockId = -1;
    let fpi = 0;
    while (remaining > datatotal) {
      if (remaining < 1) return -1;
      if (ptr >= lim) return -2;
      const id = b[ptr]!;
      ptr += 1;
      remaining -= 1;
      if (id === 255) {
        // XLR_BLOCK_ID_DATA_SHORT: the main data header comes last
        if (remaining < 1) return -1;
        if (ptr >= lim) return -2;
        datatotal += b[ptr]!;
        ptr += 1;
        remaining -= 1;
        break;
      } else if (id === 254) {
        // XLR_BLOCK_ID_DATA_LONG
        if (remaining < 4) return -1;
        if (ptr + 4 > lim) return -2;
        datatotal += u32(b, ptr) >>> 0;
        ptr += 4;
        remaining -= 4;
        break;
      } else if (id === 253) {
        // XLR_BLOCK_ID_ORIGIN
        if (remaining < 2) return -1;
        ptr += 2;
        remaining -= 2;
      } else if (id === 252) {
        // XLR_BLOCK_ID_TOPLEVEL_XID
        if (remaining < 4) return -1;
        ptr += 4;
        remaining -= 4;
      } else if (id <= 32) {
        if (id <= maxBlockId) return -1;
        maxBlockId = id;
        if (remaining < 3) return -1;
        if (ptr + 3 > lim) return -2;
        const flags = b[ptr]!;
        const dataLength = b[ptr + 1]! | (b[ptr + 2]! << 8);
        ptr += 3;
        remaining -= 3;
        const hasData = (flags & 0x20) !== 0; // BKPBLOCK_HAS_DATA
        if (hasData && dataLength === 0) return -1;
        if (!hasData && dataLength !== 0) return -1;
        datatotal += dataLength;
        if (flags & 0x10) {
          // BKPBLOCK_HAS_IMAGE
          if (remaining < 5) return -1;
          if (ptr + 5 > lim) return -2;
          const imageLength = b[ptr]! | (b[ptr + 1]! << 8);
          const holeOffset = b[ptr + 2]! | (b[ptr + 3]! << 8);
          const bimgInfo = b[ptr + 4]!;
          let holeLength = 0;
          ptr += 5;
          remaining -= 5;
          const compressed = (bimgInfo & 0x1c) !== 0; // BKPIMAGE_COMPRESS_PGLZ | _LZ4 | _ZSTD
          const hasHole = (bimgInfo & 0x01) !== 0; // BKPIMAGE_HAS_HOLE
          if (compressed) {
            if (hasHole) {
              if (remaining < 2) return -1;
              if (ptr + 2 > lim) return -2;
              holeLength = b[ptr]! | (b[ptr + 1]! << 8);
              ptr += 2;
              remaining -= 2;
            }
          } else {
            holeLength = BLCKSZ - imageLength;
          }
          datatotal += imageLength;
          fpi += imageLength;
          if (hasHole && (holeOffset === 0 || holeLength === 0 || imageLength === BLCKSZ)) return -1;
          if (!hasHole && (holeOffset !== 0 || holeLength !== 0)) return -1;
          if (compressed && imageLength === BLCKSZ) return -1;
          if (!hasHole && !compressed && imageLength !== BLCKSZ) return -1;
        }
        if (!(flags & 0x80)) {
          // not BKPBLOCK_SAME_REL: a RelFileLocator follows
          if (remaining < 12) return -1;
          ptr += 12;
          remaining -= 12;
          haveRel = true;
        } else if (!haveRel) {
          return -1;
        }
        if (remaining < 4) return -1;
        ptr += 4;
        remaining -= 4;
      } else {
        return -1;
      }
    }
    return remaining === datatotal ? fpi : -1;
  }

  // Frames the records starting in the window as the reader does (XLogFindNextRecord for the first, then
  // xl_tot_len, page headers skipped) and marks those whose CRC matches. What it cannot frame, a record running
  // past the window, or a mismatch stops it, and the reader checks the rest itself. A mark is a fact about the
  // bytes alone (the record at that offset, as long as its xl_tot_len says, matches its xl_crc), so it holds
  // whatever the reader's framing.
  //
  // With `run` it also makes every other check the reader makes on the way (page headers against the first
  // page's magic and timeline and the window's LSN `lsn`, the contrecord flags and lengths, record headers with
  // prev-links chained from the first record's, DecodeXLogRecord) and says how far from the first record all of
  // them passed: run = [records, first record's offset, last record's offset, the offset after it (aligned), its
  // end, the first record's xl_prev, page magic, timeline]. An XLOG_SWITCH record ends the run before it. A reader
  // that has just validated the page the first record starts in, with the same magic and timeline, and that
  // expects that prev-link there, may step over the run as a whole (XLogReader.skipVouched).
  // The run's statistics as XLogRecStoreStats keeps them, by rmid << 4 | xl_info >> 4: records, bytes without
  // images, image bytes. Only keys in use are handed on: [n, then key, count, record bytes, image bytes n times],
  // n = -1 when more than fit.
  // With a WebAssembly walk (crc32c-wasm.ts) they, the CRC bits and the run's state lie in the thread's scratch area
  // of its memory, where the walk keeps them too (offsets as WALK_* there).
  const ownTable = new Int32Array(256 * 16 * 3);
  const ownUsed = new Int32Array(256 * 16);
  let table = ownTable;
  let used = ownUsed;
  let usedN = 0;
  const putStats = (out: Int32Array): void => {
    const max = (out.length - 1) / 4;
    out[0] = usedN <= max ? usedN : -1;
    for (let i = 0; i < usedN; i++) {
      const k = used[i]!;
      if (i < max) {
        out[1 + 4 * i] = k;
        out[2 + 4 * i] = table[3 * k]!;
        out[3 + 4 * i] = table[3 * k + 1]!;
        out[4 + 4 * i] = table[3 * k + 2]!;
      }
      table[3 * k] = 0;
      table[3 * k + 1] = 0;
      table[3 * k + 2] = 0;
    }
    usedN = 0;
  };
  const WALK_BITS = 64;
  const WALK_TABLE = WALK_BITS + 32768;
  const WALK_USED = WALK_TABLE + 256 * 16 * 3 * 4;
  // The scratch area's words (Int32Array over the memory of the last module seen).
  let words = new Int32Array(0);

  // pageOk's state for the window being checked: its bytes, LSN, whether it starts a segment; the first page's
  // magic and timeline; the page whose header was checked last (-1: none yet).
  const NO_BYTES = new Uint8Array(0);
  let pageB: Uint8Array = NO_BYTES;
  let pageLsn = 0;
  let pageSegmentStart = false;
  let magic = 0;
  let tli = 0;
  let checkedPage = -1;
  // XLogReaderValidatePageHeader's checks of the page at window offset `page`, against the first page's magic and timeline.
  const pageOk = (page: number): boolean => {
    const b = pageB;
    const m = b[page]! | (b[page + 1]! << 8);
    const info = b[page + 2]! | (b[page + 3]! << 8);
    const t = u32(b, page + 4) >>> 0;
    if (checkedPage < 0) {
      magic = m;
      tli = t;
    }
    checkedPage = page;
    if (m !== magic || t !== tli || (info & ~0xf) !== 0) return false;
    // A long header on a segment's first page only (the reader checks its fields against the first file's).
    if ((info & 2) !== 0 !== (pageSegmentStart && page === 0)) return false;
    // xlp_pageaddr as two halves (no % on a double: a slow call in V8)
    const addr = pageLsn + page;
    const hi = Math.floor(addr / 0x1_0000_0000);
    return u32(b, page + 8) >>> 0 === addr - hi * 0x1_0000_0000 && u32(b, page + 12) >>> 0 === hi;
  };

  // What spanning() found: where the record after it starts, where it ends, its xl_info, rmid and xl_prev, its
  // image bytes (decodeCheck's answer), and whether the run stays open.
  let spanNext = 0;
  let spanEnd = 0;
  let spanInfo = 0;
  let spanRmid = 0;
  let spanPrev = 0;
  let spanFpi = 0;
  let spanOpen = false;
  // A record at `off` spanning pages: its pieces, the page headers of the continuation pages skipped; the CRC runs
  // over them. False: framing stops before it. Apart from check() so that V8 compiles check's loop over the many
  // records within a page small and soon (this path, inlined, made that compile ~40 ms, twice: once per thread).
  function spanning(b: Uint8Array, len: number, off: number, inPage: number, tot: number, open: boolean): boolean {
    if (tot > len) return false;
    let got = BLCKSZ - inPage;
    npieces = 1;
    pieces[0] = off;
    pieces[1] = 0;
    pieces[2] = got;
    let page = off - inPage + BLCKSZ;
    let next = -1;
    let end = -1;
    while (page + 24 <= len) {
      const h = hdrSize(b, page);
      if (open) {
        // A continuation page: XLP_FIRST_IS_CONTRECORD, not XLP_FIRST_IS_OVERWRITE_CONTRECORD, and the
        // xlp_rem_len of what is left of this record.
        const pinfo = b[page + 2]!;
        if (!pageOk(page) || (pinfo & 1) === 0 || (pinfo & 8) !== 0 || u32(b, page + 16) >>> 0 !== tot - got) open = false;
      }
      const piece = Math.min(tot - got, BLCKSZ - h);
      if (page + h + piece > len) break;
      pieces[3 * npieces] = page + h;
      pieces[3 * npieces + 1] = got;
      pieces[3 * npieces + 2] = piece;
      npieces++;
      got += piece;
      if (got === tot) {
        next = page + h + maxAlign(piece);
        end = page + h + piece;
        break;
      }
      page += BLCKSZ;
    }
    if (next < 0) return false;
    const want = (pieceByte(b, 20) | (pieceByte(b, 21) << 8) | (pieceByte(b, 22) << 16) | (pieceByte(b, 23) << 24)) >>> 0;
    if (piecesCrc(b, 0, 20, piecesCrc(b, 24, tot, 0)) >>> 0 !== want) return false;
    spanInfo = pieceByte(b, 16);
    spanRmid = pieceByte(b, 17);
    let prev = 0;
    let fpi = 0;
    if (open) {
      // The headers lie in the first piece but for a few records (those starting near a page's end).
      if (pieces[2]! >= 24) {
        prev = (u32(b, off + 12) >>> 0) * 0x1_0000_0000 + (u32(b, off + 8) >>> 0);
        fpi = decodeCheck(b, off, tot, pieces[2]!);
      } else {
        fpi = -2;
      }
      if (fpi === -2) {
        const n = gatherHead(b, tot);
        prev = (u32(head, 12) >>> 0) * 0x1_0000_0000 + (u32(head, 8) >>> 0);
        fpi = decodeCheck(head, 0, tot, n);
      }
    }
    spanNext = next;
    spanEnd = end;
    spanPrev = prev;
    spanFpi = fpi;
    spanOpen = open;
    return true;
  }

  // Where the first record starting in the window is, or -1 (apart from check() for the same reason as spanning()).
  function firstRecord(b: Uint8Array, len: number): number {
    let off = 0;
    for (;;) {
      if (off + 24 > len) return -1;
      const hdr = hdrSize(b, off);
      if (b[off + 2]! & 1) {
        // XLP_FIRST_IS_CONTRECORD: skip the end of a record begun in an earlier segment
        const rem = u32(b, off + 16) >>> 0;
        if (maxAlign(rem) >= BLCKSZ - hdr) {
          off += BLCKSZ;
          continue;
        }
        return off + hdr + maxAlign(rem);
      }
      return off + hdr;
    }
  }

  function check(b: Uint8Array, len: number, out: Int32Array, lsn: number, segmentStart: boolean, run: Float64Array | undefined): void {
    if (run !== undefined) run[0] = 0;
    let bits = out;
    let off = firstRecord(b, len);
    if (off < 0) return;
    // The records go through the WebAssembly walk when there is one; the JS below takes the rest (the run's first,
    // any failing a check or one the walk checks more strictly, a spanning one running past the window) one at a time.
    const wasm = active;
    const sc = wasm === undefined ? 0 : wasm.scratch >> 2;
    table = ownTable;
    used = ownUsed;
    if (wasm !== undefined) {
      if (words.buffer !== wasm.memory.buffer) words = new Int32Array(wasm.memory.buffer);
      bits = words.subarray(sc + WALK_BITS / 4, sc + WALK_BITS / 4 + bits.length);
      bits.fill(0);
      table = words.subarray(sc + WALK_TABLE / 4, sc + WALK_TABLE / 4 + 256 * 16 * 3);
      used = words.subarray(sc + WALK_USED / 4, sc + WALK_USED / 4 + 256 * 16);
    }
    const lsnHi = Math.floor(lsn / 0x1_0000_0000);
    const lsnLo = lsn - lsnHi * 0x1_0000_0000;
    // The run: open while every check passed.
    let open = run !== undefined;
    pageB = b;
    pageLsn = lsn;
    pageSegmentStart = segmentStart;
    checkedPage = -1;
    let count = 0;
    let lastLsn = 0;
    if (open && !pageOk(off - (off & (BLCKSZ - 1)))) open = false;
    // The run's last record, the offset after it and its end: written into `run` once, after the loop.
    let runLast = 0;
    let runNext = 0;
    let runEnd = 0;
    const view = new DataView(b.buffer, b.byteOffset, len);
    while (off + 24 <= len) {
      if (wasm !== undefined) {
        const hi = Math.floor(lastLsn / 0x1_0000_0000);
        words[sc] = count;
        words[sc + 2] = lastLsn - hi * 0x1_0000_0000;
        words[sc + 3] = hi;
        words[sc + 4] = runLast;
        words[sc + 5] = runNext;
        words[sc + 6] = runEnd;
        words[sc + 7] = usedN;
        off = wasm.walk(b.byteOffset, off, len, open ? 1 : 0, lsnLo, lsnHi, wasm.scratch, checkedPage < 0 ? -1 : magic, tli);
        count = words[sc]!;
        lastLsn = (words[sc + 3]! >>> 0) * 0x1_0000_0000 + (words[sc + 2]! >>> 0);
        runLast = words[sc + 4]!;
        runNext = words[sc + 5]!;
        runEnd = words[sc + 6]!;
        usedN = words[sc + 7]!;
        if (off + 24 > len) break;
      }
      let inPage = off & (BLCKSZ - 1);
      if (inPage === 0) {
        // The last record ended at the end of a page: this one starts after the next page's header, which must
        // not say it continues a record ("contrecord is requested").
        if (open && (!pageOk(off) || (b[off + 2]! & 1) !== 0)) open = false;
        off += hdrSize(b, off);
        inPage = off & (BLCKSZ - 1);
        if (off + 24 > len) break;
      }
      const tot = view.getUint32(off, true);
      if (tot < 24) break;
      let next: number;
      let info: number;
      let rmid: number;
      let prev: number;
      let end: number;
      let fpi = 0;
      if (inPage + tot <= BLCKSZ) {
        next = off + maxAlign(tot);
        end = off + tot;
        if (recordCrc(b, off, tot) !== view.getUint32(off + 20, true)) break;
        info = b[off + 16]!;
        rmid = b[off + 17]!;
        if (open) {
          prev = view.getUint32(off + 12, true) * 0x1_0000_0000 + view.getUint32(off + 8, true);
          fpi = decodeCheck(b, off, tot, tot);
        } else prev = 0;
      } else {
        if (!spanning(b, len, off, inPage, tot, open)) break;
        next = spanNext;
        end = spanEnd;
        info = spanInfo;
        rmid = spanRmid;
        prev = spanPrev;
        fpi = spanFpi;
        open = spanOpen;
      }
      bits[off >>> 8] = bits[off >>> 8]! | (1 << ((off >>> 3) & 31));
      // XLOG_SWITCH: the rest of the segment is not records.
      if (rmid === 0 && (info & 0xf0) === 0x40) break;
      if (open) {
        // ValidXLogRecordHeader: a known resource manager, the prev-link chained (the first one the reader checks).
        if (fpi < 0 || !(rmid <= 21 || rmid >= 128) || (count > 0 && prev !== lastLsn)) open = false;
        else {
          if (count === 0) {
            run![1] = off;
            run![5] = prev;
            run![6] = magic;
            run![7] = tli;
          }
          count++;
          lastLsn = lsn + off;
          const k = (rmid << 4) | (info >> 4);
          if (table[3 * k] === 0) used[usedN++] = k;
          table[3 * k]++;
          table[3 * k + 1] += tot - fpi;
          table[3 * k + 2] += fpi;
          runLast = off;
          runNext = next;
          runEnd = end;
        }
      }
      off = next;
    }
    if (count > 0) {
      run![0] = count;
      run![2] = runLast;
      run![3] = runNext;
      run![4] = runEnd;
    }
    if (wasm !== undefined) out.set(bits);
  }

  return (b, len, bits, wasm, lsn = 0, segmentStart = false, run = undefined, stats = undefined) => {
    active = wasm;
    try {
      check(b, len, bits, lsn, segmentStart, run);
      if (stats !== undefined) putStats(stats);
    } finally {
      active = undefined;
      pageB = NO_BYTES; // the window is not kept alive by its check
    }
  };
}

/**
 * The worker's code, run from its source text (so it needs no separate file in dist/ or under a test runner):
 * it must not refer to anything outside itself.
 */
function workerMain(
  wt: typeof import('node:worker_threads'),
  fs: typeof import('node:fs'),
  crc: Crc32c,
  wasm: WasmCrc32c | undefined,
  makeWasm: typeof makeWasmCrc32c,
  check: ReturnType<typeof makeWindowCheck>,
  data: { port: import('node:worker_threads').MessagePort; posted: Int32Array; claims: Int32Array; window: number; ringSlots: number; scratch: number },
): void {
  const { window: WINDOW, ringSlots, scratch: SCRATCH } = data;
  // The ring's slots, then the calling thread's scratch area, then this thread's.
  const RING_DATA = ringSlots * WINDOW + 2 * SCRATCH;
  function read(file: string, offset: number, b: Uint8Array): number {
    const fd = fs.openSync(file, 'r');
    try {
      let got = 0;
      while (got < b.length) {
        const n = fs.readSync(fd, b, got, b.length - got, offset + got);
        if (n === 0) break;
        got += n;
      }
      return got;
    } finally {
      fs.closeSync(fd);
    }
  }

  // With WebAssembly the window is read into its memory and checked there (no bounds checks on the tables),
  // then copied out to be handed on.
  const TABLE = 16 * 256 * 4;
  const memory = wasm === undefined ? undefined : new Uint8Array(wasm.memory.buffer);
  const wasmLimit = memory === undefined ? 0 : memory.length - TABLE - SCRATCH;
  let ringWasm: WasmCrc32c | undefined;
  let ringBytes: Uint8Array | undefined;

  const { port, posted, claims } = data;
  type Job = { id: number; file: string; offset: number; lsn: number; data?: ArrayBuffer; length?: number; slot?: number; bits: ArrayBuffer };
  // Views of a job's result buffer (see resultBytes): CRC bits, then the run.
  const bitsOf = (job: Job, length: number): Int32Array => new Int32Array(job.bits, 0, Math.max(8, length / 64) / 4);
  const runOf = (job: Job, length: number): Float64Array => new Float64Array(job.bits, Math.max(8, length / 64), 8);
  const statsOf = (job: Job, length: number): Int32Array => new Int32Array(job.bits, Math.max(8, length / 64) + 64, (job.bits.byteLength - Math.max(8, length / 64) - 64) / 4);
  wt.parentPort!.on('message', (job: Job | { ring: { buffer: ArrayBufferLike } }) => {
    if ('ring' in job) {
      // Tables go in at the front again: the same values, so writing them while the other side reads is harmless.
      ringWasm = makeWasm(RING_DATA, crc.tables, job.ring, TABLE + ringSlots * WINDOW + SCRATCH);
      if (ringWasm !== undefined) ringBytes = new Uint8Array(job.ring.buffer);
      return;
    }
    Atomics.store(posted, 2, job.id);
    if (job.slot !== undefined) {
      let ok = false;
      try {
        // Not claimed by the calling thread first (which then does it itself, or dropped it).
        if (job.id > Atomics.load(posted, 1) && ringWasm !== undefined && Atomics.compareExchange(claims, job.slot, job.id, -job.id) === job.id) {
          const into = ringBytes!.subarray(TABLE + job.slot * WINDOW, TABLE + job.slot * WINDOW + job.length!);
          ok = read(job.file, job.offset, into) === into.length;
          if (ok) check(into, into.length, bitsOf(job, into.length), ringWasm, job.lsn, job.offset === 0, runOf(job, into.length), statsOf(job, into.length));
        }
      } catch {
        ok = false;
      }
      port.postMessage({ id: job.id, data: undefined, bits: job.bits, slot: job.slot, ok }, [job.bits]);
      Atomics.add(posted, 0, 1);
      Atomics.notify(posted, 0);
      return;
    }
    const b = new Uint8Array(job.data!);
    let whole = false;
    try {
      // Skipped when the reader has moved past it (it read that window itself).
      if (job.id > Atomics.load(posted, 1)) {
        const inWasm = b.length <= wasmLimit;
        const into = inWasm ? memory!.subarray(TABLE, TABLE + b.length) : b;
        whole = read(job.file, job.offset, into) === b.length;
        if (whole) {
          check(into, into.length, bitsOf(job, b.length), inWasm ? wasm : undefined, job.lsn, job.offset === 0, runOf(job, b.length), statsOf(job, b.length));
          if (into !== b) b.set(into);
        }
      }
    } catch {
      whole = false;
    }
    port.postMessage({ id: job.id, data: whole ? job.data : undefined, bits: job.bits }, [job.data!, job.bits]);
    Atomics.add(posted, 0, 1);
    Atomics.notify(posted, 0);
  });
}
