// Spill files: one per (sub)transaction, [u32 length][change]… appended, read back in 64 KiB steps. Each store
// (one decoding run) spills into a folder of its own inside the spill folder, named for its process and that
// process's start time: runs sharing a spill folder never touch each other's files, and the folders of runs
// whose process is gone (killed) are removed when a store opens the spill folder.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SpillStore } from '../reorderbuffer/spill.js';
import { framedLength, SpillError } from '../reorderbuffer/spill.js';
import { ChangeArena } from '../reorderbuffer/change.js';
import { ownStartTime, processAlive } from './process-identity.js';

const READ_STEP = 64 * 1024;
const WRITE_STEP = 1024 * 1024;

/** A run's folder: run-PID-STARTTIME-XXXXXX (start time 0 where it is not known). */
const RUN_FOLDER = /^run-(\d+)-(\d+)-[A-Za-z0-9]+$/;
const SPILL_FILE = /^xid-\d+\.spill$/;

const errnoOf = (e: unknown): string | undefined => (e as NodeJS.ErrnoException).code;

/**
 * A slot's spill folder unless told otherwise: STATE.spill beside its state file; where that folder is
 * read-only (a peek of a state one may not write), one in the temp folder, per user.
 */
export function defaultSpillDir(stateFile: string): string {
  const beside = `${stateFile}.spill`;
  try {
    if (!fs.existsSync(beside)) fs.accessSync(path.dirname(path.resolve(stateFile)), fs.constants.W_OK);
    return beside;
  } catch {
    return path.join(os.tmpdir(), `pgwal-spill-${process.getuid?.() ?? 'user'}`);
  }
}

export class FileSpillStore implements SpillStore {
  bytes = 0;
  /** Bytes written per transaction: what its file must hold when read back. */
  private readonly sizes = new Map<number, number>();

  /** This run's own folder inside `dir`, made at the first spill. */
  private run: string | undefined;
  /** This store made `dir`: it is removed again at close when left empty. */
  private madeDir = false;

  /**
   * Spills go to a folder of this run's own inside `dir`, made (mode 0700, with `dir` when missing) at the
   * first spill and removed at close. Folders left there by runs whose process is gone are stale (decoding
   * restarts from restart_lsn) and are removed now; a live run's folder, and anything else, is left alone.
   * A `dir` that exists and is not a folder is a SpillError now, not at the first spill.
   */
  constructor(readonly dir: string) {
    let st: fs.Stats;
    try {
      st = fs.statSync(dir);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return;
      throw new SpillError('spill-dir', `could not use spill folder "${dir}": ${(e as Error).message}`, undefined, { file: dir, cause: e });
    }
    if (!st.isDirectory()) throw new SpillError('spill-dir', `spill folder "${dir}" is not a directory`, undefined, { file: dir });
    removeDeadRuns(dir);
  }

  /** This run's folder, once something was spilled. */
  get runDir(): string | undefined {
    return this.run;
  }

  /** The spill file of `xid` to write to (in this run's folder, made at the first spill). */
  private fileOf(xid: number): string {
    return path.join(this.run ?? this.makeRunDir(), `xid-${xid}.spill`);
  }

  private makeRunDir(): string {
    for (let attempt = 0; ; attempt++) {
      this.madeDir = makeFolder(this.dir) || this.madeDir;
      try {
        this.run = fs.mkdtempSync(path.join(this.dir, `run-${process.pid}-${ownStartTime() ?? 0}-`));
        return this.run;
      } catch (e) {
        // Another run that made the spill folder removed it at its end, just now: made again.
        if (errnoOf(e) === 'ENOENT' && attempt < 2) continue;
        throw new SpillError('spill-dir', `could not create a folder in spill folder "${this.dir}": ${(e as Error).message}`, undefined, { file: this.dir, cause: e });
      }
    }
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
          if (at > 0) writeAll(fd, buf, at);
          at = 0;
          if (4 + c.length > buf.length) buf = Buffer.allocUnsafe(4 + c.length);
        }
        buf.writeUInt32LE(c.length, at);
        buf.set(c, at + 4);
        at += 4 + c.length;
        total += 4 + c.length;
      }
      if (at > 0) writeAll(fd, buf, at);
      return total;
    });
  }

  writeFrames(xid: number, frames: readonly Uint8Array[]): void {
    this.append(xid, (fd) => {
      let total = 0;
      for (const f of frames) {
        writeAll(fd, f, f.length);
        total += f.length;
      }
      return total;
    });
  }

  /** Appends to the spill file of `xid` with `writeAll` (which returns the bytes it wrote) and counts them. */
  private append(xid: number, write: (fd: number) => number): void {
    const file = this.fileOf(xid);
    let total = 0;
    let fd: number | undefined;
    try {
      fd = fs.openSync(file, 'a', 0o600);
      total = write(fd);
    } catch (e) {
      throw new SpillError('spill-failed', `could not write to spill file "${file}" of transaction ${xid}: ${(e as Error).message}`, xid, { file, cause: e });
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
    this.bytes += total;
    this.sizes.set(xid, (this.sizes.get(xid) ?? 0) + total);
  }

  *read(xid: number): Generator<Uint8Array> {
    const expected = this.sizes.get(xid);
    const file = this.run === undefined ? path.join(this.dir, `xid-${xid}.spill`) : path.join(this.run, `xid-${xid}.spill`);
    if (expected === undefined) return; // never spilled
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (e) {
      const what = errnoOf(e) === 'ENOENT' ? 'is missing' : `could not be opened: ${(e as Error).message}`;
      throw new SpillError('spill-missing', `spill file "${file}" of transaction ${xid} ${what}`, xid, { file, cause: e });
    }
    const short = (got: number): SpillError =>
      new SpillError('spill-short', `spill file "${file}" of transaction ${xid} holds ${got} bytes, ${expected} were written`, xid, { file });
    // Chunks of one read step: each is let go soon after the changes in it were used, while still young.
    const arena = new ChangeArena(2048, READ_STEP);
    try {
      // Checked before the first change is given out, and again at the end (a file cut while being read).
      const size = fs.fstatSync(fd).size;
      if (size !== expected) throw short(size);
      let read = 0;
      let buf = Buffer.allocUnsafe(READ_STEP);
      let have = 0; // bytes of buf holding unread data, from 0
      let eof = false;
      for (;;) {
        if (!eof && have < buf.length) {
          const n = fs.readSync(fd, buf, have, buf.length - have, null);
          if (n === 0) eof = true;
          have += n;
          read += n;
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
          if (have !== 0) throw new SpillError('spill-short', `spill file "${file}" of transaction ${xid} ends inside a change`, xid, { file });
          if (read !== expected) throw short(read);
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
    if (this.run !== undefined) fs.rmSync(path.join(this.run, `xid-${xid}.spill`), { force: true });
    this.bytes -= size;
    this.sizes.delete(xid);
  }

  /** Removes this run's files and folder (and the spill folder, when this store made it and it is left empty). */
  close(): void {
    this.sizes.clear();
    this.bytes = 0;
    if (this.run !== undefined) {
      removeRunFolder(this.run);
      this.run = undefined;
    }
    if (this.madeDir) {
      try {
        fs.rmdirSync(this.dir);
      } catch {
        // not empty (another run's folder, or the user's files): it stays
      }
      this.madeDir = false;
    }
  }
}

function writeAll(fd: number, b: Uint8Array, length: number): void {
  for (let at = 0; at < length; ) at += fs.writeSync(fd, b, at, length - at);
}

/** A run's spill files, then its folder (left when something else is in it). */
function removeRunFolder(run: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(run);
  } catch {
    return;
  }
  for (const n of names) if (SPILL_FILE.test(n)) fs.rmSync(path.join(run, n), { force: true });
  try {
    fs.rmdirSync(run);
  } catch {
    // not empty: not only ours
  }
}

/**
 * The folders of runs whose process is gone (a PID no longer there, or there with another start time),
 * removed as far as they can be: leftovers never stop decoding.
 */
function removeDeadRuns(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const m = RUN_FOLDER.exec(n);
    if (m === null) continue;
    const start = Number(m[2]);
    if (processAlive(Number(m[1]), start === 0 ? undefined : start)) continue;
    try {
      removeRunFolder(path.join(dir, n));
    } catch {
      // read-only, or not ours to remove: left
    }
  }
}

/**
 * Makes `dir` and its missing parents (mode 0700), one level at a time: Node's recursive mkdir loops for ever
 * where mkdir fails with ENOENT below an existing folder (/proc). Returns whether `dir` was made.
 */
function makeFolder(dir: string): boolean {
  const missing: string[] = [];
  for (let at = path.resolve(dir); ; ) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(at);
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') throw new SpillError('spill-dir', `could not create spill folder "${dir}": ${(e as Error).message}`, undefined, { file: dir, cause: e });
    }
    if (st !== undefined) {
      if (!st.isDirectory()) throw new SpillError('spill-dir', `could not create spill folder "${dir}": "${at}" is not a directory`, undefined, { file: dir });
      break;
    }
    missing.push(at);
    const up = path.dirname(at);
    if (up === at) break;
    at = up;
  }
  for (const d of missing.reverse()) {
    try {
      fs.mkdirSync(d, { mode: 0o700 });
    } catch (e) {
      if (errnoOf(e) !== 'EEXIST') throw new SpillError('spill-dir', `could not create spill folder "${dir}": ${(e as Error).message}`, undefined, { file: dir, cause: e });
    }
  }
  return missing.length > 0;
}
