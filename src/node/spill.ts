// Spill files: one per (sub)transaction in a private folder, [u32 length][change]… appended, read back in
// 64 KiB steps, removed at commit/abort and when the folder is opened again (a previous run's leftovers).
import fs from 'node:fs';
import path from 'node:path';
import { WalSourceError } from '../errors.js';
import type { SpillStore } from '../reorderbuffer/spill.js';
import { framedLength } from '../reorderbuffer/spill.js';
import { ChangeArena } from '../reorderbuffer/change.js';

const READ_STEP = 64 * 1024;
const WRITE_STEP = 1024 * 1024;

export class FileSpillStore implements SpillStore {
  bytes = 0;
  private readonly sizes = new Map<number, number>();

  /** The folder exists (it was there, or the first spill made it). */
  private made = false;
  /** This store made the folder. */
  private ours = false;

  /**
   * Spills go to `dir` (made, mode 0700, at the first spill; removed again at close when it is left empty).
   * Spill files a previous run left there are stale — decoding restarts from restart_lsn — and are removed now.
   */
  constructor(readonly dir: string) {
    // A folder that was there before stays; one this store makes is removed again when left empty.
    if (!fs.existsSync(dir)) return;
    this.made = true;
    for (const name of fs.readdirSync(dir)) if (/^xid-\d+\.spill$/.test(name)) fs.rmSync(path.join(dir, name), { force: true });
  }

  private file(xid: number): string {
    return path.join(this.dir, `xid-${xid}.spill`);
  }

  /** Reused for writing: changes go out in steps of this, not as one buffer the size of the transaction. */
  private writeBuf: Buffer | undefined;

  write(xid: number, changes: readonly Uint8Array[]): void {
    this.append(xid, (fd) => {
      let total = 0;
      let buf = (this.writeBuf ??= Buffer.allocUnsafe(WRITE_STEP));
      let at = 0;
      for (const c of changes) {
        if (at + 4 + c.length > buf.length) {
          if (at > 0) fs.writeSync(fd, buf, 0, at);
          at = 0;
          if (4 + c.length > buf.length) buf = Buffer.allocUnsafe(4 + c.length);
        }
        buf.writeUInt32LE(c.length, at);
        buf.set(c, at + 4);
        at += 4 + c.length;
        total += 4 + c.length;
      }
      if (at > 0) fs.writeSync(fd, buf, 0, at);
      return total;
    });
  }

  writeFrames(xid: number, frames: readonly Uint8Array[]): void {
    this.append(xid, (fd) => {
      let total = 0;
      for (const f of frames) {
        for (let at = 0; at < f.length; ) at += fs.writeSync(fd, f, at, f.length - at);
        total += f.length;
      }
      return total;
    });
  }

  /** Appends to the spill file of `xid` with `writeAll` (which returns the bytes it wrote) and counts them. */
  private append(xid: number, writeAll: (fd: number) => number): void {
    let total = 0;
    let fd: number | undefined;
    try {
      fd = this.open(xid);
      total = writeAll(fd);
    } catch (e) {
      throw new WalSourceError('spill-failed', `could not write to spill file "${this.file(xid)}": ${(e as Error).message}`, { file: this.file(xid) });
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
    this.bytes += total;
    this.sizes.set(xid, (this.sizes.get(xid) ?? 0) + total);
  }

  /** The spill file of `xid`, opened for appending (the folder made at the first spill). */
  private open(xid: number): number {
    if (!this.made) {
      fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.made = true;
      this.ours = true;
    }
    return fs.openSync(this.file(xid), 'a', 0o600);
  }

  *read(xid: number): Generator<Uint8Array> {
    if (!this.sizes.has(xid)) return;
    const file = this.file(xid);
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (e) {
      throw new WalSourceError('spill-failed', `could not open spill file "${file}": ${(e as Error).message}`, { file });
    }
    // Chunks of one read step: each is let go soon after the changes in it were used, while still young.
    const arena = new ChangeArena(2048, READ_STEP);
    try {
      let buf = Buffer.allocUnsafe(READ_STEP);
      let have = 0; // bytes of buf holding unread data, from 0
      let eof = false;
      for (;;) {
        if (!eof && have < buf.length) {
          const n = fs.readSync(fd, buf, have, buf.length - have, null);
          if (n === 0) eof = true;
          have += n;
        }
        let at = 0;
        while (have - at >= 4) {
          const len = framedLength(buf, at);
          if (have - at < 4 + len) break;
          // A copy (the read buffer is reused for the next step), in chunks: not an ArrayBuffer per change.
          const c = arena.alloc(len);
          c.set(buf.subarray(at + 4, at + 4 + len));
          yield c;
          at += 4 + len;
        }
        if (at > 0) {
          buf.copy(buf, 0, at, have);
          have -= at;
        }
        if (have >= 4 && 4 + framedLength(buf, 0) > buf.length) {
          const bigger = Buffer.allocUnsafe(4 + framedLength(buf, 0));
          buf.copy(bigger, 0, 0, have);
          buf = bigger;
        }
        if (eof && (have === 0 || at === 0)) {
          if (have !== 0) throw new WalSourceError('spill-failed', `spill file "${file}" ends inside a change`, { file });
          return;
        }
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  remove(xid: number): void {
    const size = this.sizes.get(xid);
    if (size === undefined) return;
    fs.rmSync(this.file(xid), { force: true });
    this.bytes -= size;
    this.sizes.delete(xid);
  }

  close(): void {
    for (const xid of [...this.sizes.keys()]) this.remove(xid);
    if (this.ours && fs.readdirSync(this.dir).length === 0) fs.rmdirSync(this.dir);
  }
}
