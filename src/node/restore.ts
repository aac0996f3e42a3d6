// Fetching WAL files from where they were archived: a restore_command with PostgreSQL's exact contract, a JS
// function (object stores), or folders; compressed members read by their magic bytes; read-ahead of later
// segments while the reader works on the current one.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, WalError, WalSourceError } from '../errors.js';
import { formatLsn, type Lsn } from '../lsn.js';
import { historyFileName, parseWalFileName, walFileName } from '../walfile.js';
import { decompressMember } from './directory.js';
import { clipAtSwitchPoint } from './switch-point.js';
import { readRecords, type FollowOptions, type PageSource, type SourceBytes, type SourceMiss } from '../xlogreader/source.js';
import { type XLogReaderOptions, XLogReader, type EndOfWal } from '../xlogreader/reader.js';
import type { DecodedRecord } from '../xlogreader/record.js';
import { assertOnHistory, historyWithoutFile, HistoryTooLargeError, MAX_HISTORY_FILE_SIZE, parseTimelineHistory, TimelineEndError, timelinesForSegment, type TimelineHistory } from '../timeline/history.js';

export { decompressMember };

/** --restore-timeout SECONDS: how long one restore_command may run (undefined: no limit, as the server). */
export function restoreTimeoutMs(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 86400 * 365) throw new InvalidArgumentError(`invalid value "${text}" for option --restore-timeout: a number of seconds above 0`);
  return Math.ceil(n * 1000);
}

/** Fetches one file by name; null when it is not there (the normal answer at the end of an archive). */
export interface WalFetcher {
  fetch(name: string, signal?: AbortSignal): Promise<Uint8Array | null>;
  /** What the fetcher had to say the last time `name` was not there (a restore_command's stderr), if anything. */
  lastMessage?(name: string): string | undefined;
}

const ZERO_SEGMENT = '000000000000000000000000';

/** Only names PostgreSQL itself would ask for reach a command line: no shell syntax can ride along. */
function checkName(name: string): void {
  let ok = false;
  try {
    const p = parseWalFileName(name);
    ok = p.compression === undefined && (p.kind === 'segment' || p.kind === 'history' || p.kind === 'backup' || p.kind === 'partial');
  } catch {
    ok = false;
  }
  if (!ok) throw new InvalidArgumentError(`refusing to fetch "${name}": not a WAL segment, history or backup file name`, { file: name });
}

/** `value` as one literal word at a point of a sh command line that is bare, inside '…' or inside "…". */
function shellQuote(value: string, quote: '' | "'" | '"'): string {
  if (/^[A-Za-z0-9_./+,:@=-]*$/.test(value)) return value;
  if (quote === "'") return value.replace(/'/g, `'\\''`);
  if (quote === '"') return value.replace(/[\\"$`]/g, (m) => `\\${m}`);
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The most bytes a fetched file may have: a history or backup file MAX_HISTORY_FILE_SIZE; a segment (maybe
 * compressed, which adds a few bytes per 64 kB at worst) its size, or the largest size when it is not known.
 */
function fileLimit(name: string, segmentSize: number | undefined): number {
  if (name.endsWith('.history') || name.endsWith('.backup')) return MAX_HISTORY_FILE_SIZE;
  const seg = segmentSize ?? 1024 * 1024 * 1024;
  return seg + (seg >>> 10) + 65536;
}

/** Refuses a fetched file larger than it can be, before reading it. */
function checkSize(name: string, size: number, segmentSize: number | undefined, where: string): void {
  const limit = fileLimit(name, segmentSize);
  if (size <= limit) return;
  if (limit === MAX_HISTORY_FILE_SIZE) throw new HistoryTooLargeError(name, size);
  throw new WalSourceError('wrong-size', `${where} "${name}" has ${size} bytes, more than a WAL segment of ${segmentSize ?? limit} bytes can take`, { file: name });
}

export interface RestoreCommandOptions {
  /** wal_segment_size: a restored segment larger than it (or than 1 GB when not given) is refused unread. */
  segmentSize?: number;
  /** Kill the command and fail after this long (default: no limit, as the server). */
  timeoutMs?: number;
  /** The working directory of the command (the server uses the data directory). */
  cwd?: string;
  /** %r: the oldest segment still needed; default 000000000000000000000000 (no cleanup). */
  lastRequired?: () => string;
}

/** At most this much of a restore_command's stderr is kept for a message. */
const STDERR_LIMIT = 2048;

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    child.kill(sig);
  }
}

/**
 * Every RestoreCommand not closed yet. While there is one, pgwal's end is watched: at exit their temp folders
 * are removed and their commands killed; SIGTERM and SIGHUP do the same, then end the process as they would
 * have; SIGINT stops the commands under way (the fetch fails "interrupted") and, pressed again or with nobody
 * else listening for it, ends the process too. One Ctrl-C is enough, and nothing is left behind.
 */
const open = new Set<RestoreCommand>();
let sigintPresses = 0;
let othersHearSigint = false;

function onExit(): void {
  for (const r of open) {
    r.interrupt('SIGTERM');
    r.close();
  }
}

function onSignal(sig: NodeJS.Signals): void {
  for (const r of open) r.interrupt(sig);
  if (sig === 'SIGINT' && ++sigintPresses < 2 && othersHearSigint) return;
  onExit();
  unhook();
  // Ended as the signal would have ended it, unless someone else handles it.
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let hooked = false;

function hook(): void {
  if (hooked) return;
  hooked = true;
  sigintPresses = 0;
  othersHearSigint = process.listenerCount('SIGINT') > 0;
  process.on('exit', onExit);
  for (const sig of SIGNALS) process.on(sig, onSignal);
}

function unhook(): void {
  if (!hooked) return;
  hooked = false;
  process.removeListener('exit', onExit);
  for (const sig of SIGNALS) process.removeListener(sig, onSignal);
}

/**
 * restore_command: `%f` the file wanted, `%p` where to put it (a private temp file), `%r` the oldest file still
 * needed, `%%` a percent sign (BuildRestoreCommand). Exit 0 and the file present: found. Any other exit: not
 * there. Killed by a signal, or exit above 125 (not found / not executable): a fatal WalSourceError, as the
 * server treats it. The fetched file is read and removed at once.
 */
export class RestoreCommand implements WalFetcher {
  private readonly dir: string;

  constructor(
    readonly command: string,
    private readonly options: RestoreCommandOptions = {},
  ) {
    // Validate the placeholders once, as 16+ do (an unknown one or a trailing % is an error).
    for (let i = 0; i < command.length; i++) {
      if (command[i] !== '%') continue;
      const next = command[i + 1];
      if (next === undefined || !'fpr%'.includes(next)) {
        throw new InvalidArgumentError(`invalid value for parameter "restore_command": "${command}" (unknown placeholder "%${next ?? ''}")`);
      }
      i++;
    }
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-restore-'));
    fs.chmodSync(this.dir, 0o700);
    open.add(this);
    hook();
  }

  /**
   * The command line for one file (exposed for tests). %f and %r are WAL file names (hex digits only); %p is a
   * path under the temp folder, which may hold a space or `$(…)`: it is quoted for the shell in the quoting
   * context the command puts it in (bare, "…" as the server's documentation writes it, or '…').
   */
  build(name: string, destination: string): string {
    checkName(name);
    const r = this.options.lastRequired?.() ?? ZERO_SEGMENT;
    let out = '';
    let quote: '' | "'" | '"' = '';
    const cmd = this.command;
    for (let i = 0; i < cmd.length; i++) {
      const c = cmd[i]!;
      if (c === '%') {
        const k = cmd[++i]!;
        out += k === 'f' ? name : k === 'r' ? r : k === 'p' ? shellQuote(destination, quote) : '%';
        continue;
      }
      out += c;
      if (c === '\\' && quote !== "'" && i + 1 < cmd.length && cmd[i + 1] !== '%') out += cmd[++i]!;
      else if (quote === '' && (c === "'" || c === '"')) quote = c;
      else if (c === quote) quote = '';
    }
    return out;
  }

  async fetch(name: string, signal?: AbortSignal): Promise<Uint8Array | null> {
    if (this.interrupted !== undefined) throw this.interruptedError(name);
    if (this.closed) throw new WalSourceError('restore-closed', `could not restore file "${name}" from archive: the restore_command was closed`, { file: name });
    const destination = path.join(this.dir, `${name}.${process.pid}.${Math.random().toString(36).slice(2)}`);
    const cmd = this.build(name, destination);
    const { code, sig, timedOut, stderr } = await new Promise<{ code: number | null; sig: NodeJS.Signals | null; timedOut: boolean; stderr: string }>((resolve, reject) => {
      // Its own process group, so that a timeout, an abort or pgwal's own end stops the whole command (sh and
      // what it started), not just the shell; pgwal passes on Ctrl-C itself (see the signal hooks below).
      const child = spawn('/bin/sh', ['-c', cmd], { cwd: this.options.cwd, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
      this.children.add(child);
      let timedOut = false;
      const timer =
        this.options.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              timedOut = true;
              killGroup(child, 'SIGKILL');
            }, this.options.timeoutMs);
      const onAbort = (): void => killGroup(child, 'SIGKILL');
      signal?.addEventListener('abort', onAbort, { once: true });
      // What the command says on stderr, bounded: shown with a failure, never collected without limit.
      let said = '';
      let more = 0;
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (t: string) => {
        const room = STDERR_LIMIT - said.length;
        if (room > 0) said += t.slice(0, room);
        more += Math.max(0, t.length - Math.max(0, room));
      });
      child.once('error', (e) => {
        this.children.delete(child);
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        reject(e);
      });
      child.once('close', (c, s) => {
        this.children.delete(child);
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const text = said.trimEnd() + (more > 0 ? ` … (${more} more characters)` : '');
        resolve({ code: c, sig: s, timedOut, stderr: text });
      });
    });
    this.said.set(name, stderr);
    const saying = stderr === '' ? '' : `; restore_command said: ${stderr}`;
    try {
      signal?.throwIfAborted();
      if (this.interrupted !== undefined) throw this.interruptedError(name);
      if (timedOut) {
        throw new WalSourceError('restore-timeout', `could not restore file "${name}" from archive: restore_command did not finish within ${this.options.timeoutMs} ms${saying}`, { file: name });
      }
      if (sig !== null || (code !== null && code > 125)) {
        const why = sig !== null ? `child process was terminated by signal ${sig}` : `child process exited with exit code ${code}`;
        throw new WalSourceError('restore-failed', `could not restore file "${name}" from archive: ${why}${saying}`, { file: name });
      }
      if (code !== 0) return null;
      try {
        checkSize(name, fs.statSync(destination).size, this.options.segmentSize, 'restored file');
        return fs.readFileSync(destination);
      } catch (e) {
        if (e instanceof WalError) throw e;
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null; // exit 0 without a file: not there
        throw new WalSourceError('restore-failed', `could not read restored file "${name}": ${(e as Error).message}`, { file: name, cause: e });
      }
    } finally {
      fs.rmSync(destination, { force: true });
    }
  }

  /** What the command wrote on stderr the last time it was run for `name` (bounded), for messages. */
  lastMessage(name: string): string | undefined {
    const t = this.said.get(name);
    return t === '' ? undefined : t;
  }

  private readonly said = new Map<string, string>();
  private readonly children = new Set<ChildProcess>();
  private interrupted: NodeJS.Signals | undefined;
  private closed = false;

  private interruptedError(name: string): WalSourceError {
    return new WalSourceError('interrupted', `could not restore file "${name}" from archive: interrupted by ${this.interrupted}`, { file: name });
  }

  /** A signal reached pgwal: stop the commands under way (their whole process groups) and run no more. */
  interrupt(sig: NodeJS.Signals): void {
    this.interrupted ??= sig;
    for (const c of this.children) killGroup(c, 'SIGKILL');
  }

  /** Stops any command still running and removes the private temp folder. */
  close(): void {
    this.closed = true;
    for (const c of this.children) killGroup(c, 'SIGKILL');
    fs.rmSync(this.dir, { recursive: true, force: true });
    open.delete(this);
    if (open.size === 0) unhook();
  }
}

/** A JS function as a fetcher (for object stores): `(name, signal) => bytes | null`. */
export class FunctionFetcher implements WalFetcher {
  constructor(private readonly fn: (name: string, signal?: AbortSignal) => Promise<Uint8Array | null>) {}

  async fetch(name: string, signal?: AbortSignal): Promise<Uint8Array | null> {
    checkName(name);
    return this.fn(name, signal);
  }
}

/** Folders as a fetcher: `name`, then `name.gz`, `.zst`, `.lz4` in each folder in turn. */
export class DirectoryFetcher implements WalFetcher {
  constructor(
    private readonly dirs: string[],
    private readonly segmentSize?: number,
  ) {}

  async fetch(name: string): Promise<Uint8Array | null> {
    checkName(name);
    for (const dir of this.dirs) {
      for (const suffix of ['', '.gz', '.zst', '.lz4']) {
        const file = path.join(dir, name + suffix);
        try {
          checkSize(file, (await fs.promises.stat(file)).size, this.segmentSize, 'file');
          return await fs.promises.readFile(file);
        } catch (e) {
          if (e instanceof WalError) throw e;
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new WalSourceError('unreadable-file', `could not read file "${file}": ${(e as Error).message}`, { file, cause: e });
        }
      }
    }
    return null;
  }
}

export interface ArchiveSourceOptions {
  fetchers: WalFetcher[];
  segmentSize: number;
  /** The timeline to read when no history is followed. */
  timeline: number;
  history?: TimelineHistory;
  /** Later segments fetched while the current one is read (default 4). */
  prefetch?: number;
  signal?: AbortSignal;
  /**
   * Follow mode (the server's standby mode): a file shorter than a segment, or a compressed one that ends early, is
   * taken as still being copied into the archive and looked for again, as the server's startup process does.
   * Outside follow mode it is an error, as the server's FATAL "archive file has wrong size".
   */
  standbyMode?: boolean;
}

/**
 * A page source over fetchers, tried in order for each file. A segment must have exactly the segment size (a
 * half-written file is an error, as the server's "archive file has wrong size"). Up to `prefetch` following
 * segments are fetched in parallel, bounded in number, and dropped on close.
 */
export class ArchiveSource implements PageSource {
  private readonly inflight = new Map<number, Promise<{ bytes: Uint8Array; tli: number } | null>>();
  private current: { segno: number; bytes: Uint8Array; tli: number } | undefined;
  private lastTli = 0;
  private readonly controller = new AbortController();

  constructor(readonly options: ArchiveSourceOptions) {
    options.signal?.addEventListener('abort', () => this.controller.abort(options.signal!.reason), { once: true });
  }

  /** Why the last segment looked for in standby mode was taken as not there yet (named in the miss). */
  private readonly partial = new Map<number, string>();

  private candidates(segno: number): number[] {
    const { history, segmentSize, timeline } = this.options;
    return history === undefined ? [timeline] : timelinesForSegment(segno, history, segmentSize).filter((t) => t >= this.lastTli);
  }

  private fetchSegment(segno: number): Promise<{ bytes: Uint8Array; tli: number } | null> {
    let p = this.inflight.get(segno);
    if (p === undefined) {
      p = (async () => {
        for (const tli of this.candidates(segno)) {
          const name = walFileName(tli, segno, this.options.segmentSize);
          for (const f of this.options.fetchers) {
            const got = await f.fetch(name, this.controller.signal);
            if (got === null) continue;
            // In standby mode a file still being copied counts as not found here, as the server's RestoreArchivedFile
            // returns false for it: the next source, then the next timeline, are tried, and the miss names it.
            let bytes: Uint8Array;
            try {
              bytes = decompressMember(got, this.options.segmentSize, name);
            } catch (e) {
              if (this.options.standbyMode === true && e instanceof WalSourceError && e.code === 'truncated-archive-member') {
                this.partial.set(segno, `${e.message}; taken as still being copied`);
                continue;
              }
              throw e;
            }
            if (bytes.length !== this.options.segmentSize) {
              const text = `archive file "${name}" has wrong size: ${bytes.length} instead of ${this.options.segmentSize}`;
              if (this.options.standbyMode !== true || bytes.length > this.options.segmentSize) throw new WalSourceError('wrong-size', text, { file: name });
              this.partial.set(segno, `${text}; taken as still being copied`);
              continue;
            }
            this.partial.delete(segno);
            return { bytes, tli };
          }
        }
        return null;
      })();
      // A failed prefetch must not be an unhandled rejection; it is reported when the segment is needed.
      p.catch(() => undefined);
      this.inflight.set(segno, p);
    }
    return p;
  }

  /** The segment holding `pagePtr`, never past the switch point of the timeline it came from (see DirectorySource.read). */
  async read(pagePtr: Lsn, minLength = 1): Promise<SourceBytes | SourceMiss> {
    return clipAtSwitchPoint(await this.readSegment(pagePtr), pagePtr, minLength, this.options.history, this.options.segmentSize);
  }

  private async readSegment(pagePtr: Lsn): Promise<SourceBytes | SourceMiss> {
    const { segmentSize } = this.options;
    const segno = Math.floor(pagePtr / segmentSize);
    if (this.current?.segno !== segno) {
      const got = await this.fetchSegment(segno);
      this.inflight.delete(segno);
      // Forget what lies behind; start fetching what lies ahead.
      for (const k of this.inflight.keys()) if (k < segno) this.inflight.delete(k);
      if (got === null) {
        const tli = this.candidates(segno)[0] ?? this.options.timeline;
        const name = walFileName(tli, segno, segmentSize);
        const partial = this.partial.get(segno);
        if (partial !== undefined) return { missing: `${partial} (needed for ${formatLsn(pagePtr)})` };
        const said = this.options.fetchers.map((f) => f.lastMessage?.(name)).find((t) => t !== undefined);
        return { missing: `could not restore file "${name}" from archive: not found (needed for ${formatLsn(pagePtr)})${said === undefined ? '' : `; restore_command said: ${said}`}` };
      }
      this.lastTli = got.tli;
      this.current = { segno, ...got };
      const ahead = this.options.prefetch ?? 4;
      for (let i = 1; i <= ahead; i++) void this.fetchSegment(segno + i);
    }
    return { start: segno * segmentSize, bytes: this.current.bytes, tli: this.current.tli };
  }

  /** Forgets the current segment and what was fetched ahead (follow mode: look again). */
  invalidate(): void {
    this.current = undefined;
    this.inflight.clear();
  }

  /** Stops every fetch under way. */
  close(): void {
    this.controller.abort();
    this.inflight.clear();
  }
}

/** Fetches a history file through fetchers (null when no fetcher has it). */
export async function fetchHistory(fetchers: WalFetcher[], tli: number, signal?: AbortSignal): Promise<string | null> {
  for (const f of fetchers) {
    const got = await f.fetch(historyFileName(tli), signal);
    if (got !== null) return new TextDecoder().decode(got);
  }
  return null;
}

/**
 * findNewestTimeLine: probe `start+1.history`, `start+2.history`, … until one is missing. Each file found must
 * be a history of its timeline (at least one parent line, parsed as the server would): a command that "finds"
 * every name — exits 0 leaving an empty file, or copies the same file whatever %f says — would otherwise make
 * this probe for ever. It is refused with a typed error naming the file instead.
 */
export async function findNewestTimeline(fetchers: WalFetcher[], start: number, signal?: AbortSignal): Promise<number> {
  let newest = start;
  let previous: string | undefined;
  for (let probe = start + 1; ; probe++) {
    const text = await fetchHistory(fetchers, probe, signal);
    if (text === null) return newest;
    const name = historyFileName(probe);
    if (parseTimelineHistory(text, probe, name).length < 2) {
      throw new WalSourceError('bad-history', `restored history file "${name}" names no parent timeline: is the restore_command exiting 0 without restoring %f?`, { file: name });
    }
    if (text === previous) {
      throw new WalSourceError('bad-history', `restored history file "${name}" is the same as "${historyFileName(probe - 1)}": does the restore_command restore the file %f names?`, { file: name });
    }
    previous = text;
    newest = probe;
  }
}

export interface OpenArchiveOptions {
  /** A restore_command (`cp /archive/%f %p`). */
  restoreCommand?: string;
  /** A JS fetcher, e.g. for an object store. */
  fetch?: (name: string, signal?: AbortSignal) => Promise<Uint8Array | null>;
  /** Folders (pg_wal, archive copies), tried after the archive, as the server does. */
  dirs?: string[];
  /** wal_segment_size of the cluster (default 16 MB). */
  segmentSize?: number;
  /** `latest` (default): the newest timeline whose history the sources hold; or a number. */
  timeline?: number | 'latest';
  prefetch?: number;
  /** Kill a restore_command that runs longer than this. */
  timeoutMs?: number;
  /** The working directory of the restore_command. */
  cwd?: string;
}

/** WAL reached through restore_command / a fetcher / folders, following the timeline history. */
export class ArchiveWal {
  private constructor(
    readonly fetchers: WalFetcher[],
    readonly segmentSize: number,
    readonly history: TimelineHistory,
    private readonly options: OpenArchiveOptions,
    private readonly restore: RestoreCommand | undefined,
  ) {}

  static async open(options: OpenArchiveOptions): Promise<ArchiveWal> {
    const fetchers: WalFetcher[] = [];
    let restore: RestoreCommand | undefined;
    if (options.restoreCommand !== undefined) {
      restore = new RestoreCommand(options.restoreCommand, { timeoutMs: options.timeoutMs, cwd: options.cwd, segmentSize: options.segmentSize });
      fetchers.push(restore);
    }
    if (options.fetch !== undefined) fetchers.push(new FunctionFetcher(options.fetch));
    if (options.dirs !== undefined) fetchers.push(new DirectoryFetcher(options.dirs, options.segmentSize));
    if (fetchers.length === 0) throw new InvalidArgumentError('no WAL source: give restoreCommand, fetch or dirs');
    try {
      const target = options.timeline === undefined || options.timeline === 'latest' ? await findNewestTimeline(fetchers, 1) : options.timeline;
      const text = target === 1 ? null : await fetchHistory(fetchers, target);
      const history = text === null ? historyWithoutFile(target) : parseTimelineHistory(text, target);
      return new ArchiveWal(fetchers, options.segmentSize ?? 16 * 1024 * 1024, history, options, restore);
    } catch (e) {
      restore?.close(); // a failed open leaves no temp folder behind
      throw e;
    }
  }

  /** Records from `start` (the first at or after it) until `end` or the end of what the sources hold. */
  records(options: { start: Lsn; end?: Lsn; signal?: AbortSignal; startTimeline?: number; follow?: FollowOptions; expect?: XLogReaderOptions['expect'] }): AsyncIterable<DecodedRecord> & { readonly end: EndOfWal | undefined } {
    if (options.startTimeline !== undefined) assertOnHistory(options.startTimeline, options.start, this.history);
    const source = new ArchiveSource({
      fetchers: this.fetchers,
      segmentSize: this.segmentSize,
      timeline: this.history[0]!.tli,
      history: this.history,
      prefetch: this.options.prefetch,
      signal: options.signal,
      standbyMode: options.follow !== undefined,
    });
    const tlis = new Set(this.history.map((e) => e.tli));
    const reader = new XLogReader({ segmentSize: this.segmentSize, startLsn: options.start, findFirst: true, endLsn: options.end, timeline: this.history[0]!.tli, expect: options.expect, isExpectedTimeline: (t) => tlis.has(t) });
    let end: EndOfWal | undefined;
    const { history, segmentSize } = this;
    return {
      get end() {
        return end;
      },
      async *[Symbol.asyncIterator]() {
        try {
          end = yield* readRecords(reader, source, options.signal, options.follow);
        } finally {
          source.close();
        }
        // An end at a switch point is an early stop, not the end of the WAL.
        if (end.reason === 'timeline-end') throw TimelineEndError.at(end.lsn, history, segmentSize);
      },
    };
  }

  close(): void {
    this.restore?.close();
  }
}
