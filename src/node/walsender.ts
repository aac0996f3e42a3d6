// `pgwal serve`: a walsender for logical replication connections (replication=database), serving what a
// pgwal slot's output plugin writes, decoded from WAL files, to PostgreSQL's own clients.
//
//   SSLRequest ─▶ 'N' (or 'S' and TLS) ─▶ StartupMessage ─▶ auth (trust | SCRAM) ─▶ ParameterStatus…, K, Z
//     ─▶ Query: IDENTIFY_SYSTEM | TIMELINE_HISTORY | SHOW | set_config | publication queries | START_REPLICATION
//     ─▶ CopyBoth: XLogData (plugin output) ─▶ client; standby status update ─▶ slot confirmed (state file,
//          durably, at most once a second) ─▶ CopyDone ─▶ CopyDone, CommandComplete, Z
import net from 'node:net';
import tls from 'node:tls';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { WalError } from '../errors.js';
import { formatLsn, parseLsn, type Lsn } from '../lsn.js';
import {
  FrontendParser,
  ProtocolError,
  serializeBackendMessage,
  parseReplicationCommand,
  parseWalReceiverMessage,
  xlogDataMessage,
  serializeReplicationMessage,
  currentTimestamp,
  ScramServer,
  parseScramSecret,
  buildScramSecret,
  AuthenticationError,
  SCRAM_SHA_256,
  type BackendMessage,
  type FrontendMessage,
  type NoticeFields,
  type ReplicationCommand,
} from '../protocol/index.js';
import { openSlotFile, readCatalogPages, readSlotStateFile } from './slot.js';
import { newestTimeline, openWal } from './wal.js';
import type { Slot } from '../slot/slot.js';
import type { SlotState } from '../slot/state.js';
import { HistoricCatalog } from '../catalog/historic.js';
import { catalogSnapshotFromJson, catalogSnapshotToJson } from '../catalog/snapshot-json.js';
import { StaticCatalog } from '../reorderbuffer/catalog.js';
import { SearchPathCatalog, searchPathSchemas } from '../reorderbuffer/search-path.js';
import { LogicalDecoder } from '../reorderbuffer/logical.js';
import { PgOutputPlugin, parsePgOutputOptions } from '../reorderbuffer/pgoutput.js';
import { Wal2JsonPlugin, parseWal2JsonOptions } from '../reorderbuffer/wal2json.js';
import { TestDecodingPlugin } from '../reorderbuffer/testdecoding.js';
import type { OutputPlugin } from '../reorderbuffer/plugin.js';
import type { DecoderCatalog } from '../reorderbuffer/catalog.js';
import { profileForMajor } from '../xlogreader/profile.js';
import type { DecodedRecord } from '../xlogreader/record.js';
import type { XLogReaderOptions } from '../xlogreader/reader.js';
import { parseBool } from '../protocol/replication-command.js';

export interface WalSenderOptions {
  /** Slot state files (pgwal slot create): the slots served, by their names. */
  states: string[];
  /** Folders holding the WAL segments, searched in order (followed as they grow). */
  path: string[];
  /**
   * Another source of records (a restore_command's archive): records from `start`, waiting at the end of WAL
   * for more, until `signal` aborts. Default: the `path` folders.
   */
  records?: (from: RecordsFrom) => Promise<AsyncIterable<DecodedRecord>>;
  /**
   * IDENTIFY_SYSTEM's timeline and xlogpos: the source's newest timeline and the end of the WAL it holds (a
   * stream's server: its flush position). Default: the folders' newest timeline and their last valid record's end.
   */
  identify?: () => Promise<{ timeline: number; xlogpos: Lsn }>;
  /** trust: any role; scram: SCRAM-SHA-256 against `passwords`. */
  auth: 'trust' | 'scram';
  /** Role → SCRAM secret (pg_authid.rolpassword form) or plain password. */
  passwords?: Map<string, string>;
  /** How often the folders are looked at again at the end of WAL (ms, default 200). */
  pollMs?: number;
  /** A primary keepalive after this long without a message to the client (ms, default 1000). */
  keepaliveMs?: number;
  /**
   * Output bytes a stream lets wait in its socket while a record is decoded (default 16 MB); more goes to a
   * temp file, sent once the client takes it: bounded memory per connection.
   */
  maxQueuedOutput?: number;
  /** TLS: a PEM key and certificate; an SSLRequest is then answered 'S' (else 'N'). */
  tls?: { key: string | Uint8Array; cert: string | Uint8Array };
  /** A client that has not authenticated after this long is dropped (ms, default 60000: authentication_timeout). */
  authenticationTimeoutMs?: number;
  /** Connections at once (default 10, as max_wal_senders); one more is refused with 53300. */
  maxConnections?: number;
  /**
   * logical_decoding_work_mem of each stream, bytes (default 64 MB): above it transactions are streamed to a client
   * that asked for streaming, else spilled to disk. 0 streams every change at once (debug_logical_replication_streaming
   * = immediate).
   */
  memoryLimit?: number;
  /** At most one confirm (a durable rewrite of the state file) per this many ms per stream (default 1000). */
  confirmIntervalMs?: number;
  /** The longest message accepted from a client (bytes, default 1 MB): bounded memory per connection. */
  maxMessageLength?: number;
}

/** What a stream reads from: the slot's restart_lsn on its timeline, and what a source that reports back needs. */
export interface RecordsFrom {
  start: Lsn;
  timeline: number;
  signal: AbortSignal;
  expect: XLogReaderOptions['expect'];
  /** The slot's restart_lsn now: the position a replication source is told is flushed (it keeps the WAL after it). */
  flushLsn: () => Lsn;
  /** The slot's catalog_xmin now (hot standby feedback to a physical slot). */
  catalogXmin: () => number;
}

/** An error a session sends: the server's SQLSTATE and message. */
export class ServeError extends WalError {
  constructor(
    readonly sqlState: string,
    message: string,
    readonly severity: 'ERROR' | 'FATAL' = 'ERROR',
  ) {
    super('serve-error', message);
  }
}

const TEXT_OID = 25;
const INT4_OID = 23;
const INT8_OID = 20;
const NAME_OID = 19;
const NAME_ARRAY_OID = 1003;
const INT2VECTOR_OID = 22;
/** Commits sent and not yet confirmed that a stream remembers (thinned beyond). */
const MAX_UNCONFIRMED = 4096;
/** Socket bytes queued beyond which decoding waits for the client (backpressure). */
const HIGH_WATER = 1024 * 1024;
const TEXT = new TextEncoder();
/** What a subscription's table synchronization gets: pgwal has the changes in the WAL, not the tables' contents. */
const TABLE_SYNC_UNSUPPORTED =
  'pgwal serve does not synchronize tables (copy_data = true): it serves changes decoded from WAL and holds no table contents to copy; copy the tables under the slot\'s snapshot and create the subscription with copy_data = false';

/** The walsender, for a Node program: events 'connection', 'command', 'confirm', 'spill' and 'session-error' (a client's connection ended by an error; not 'error', which would throw without a listener). */
export class WalSender extends EventEmitter {
  private readonly server: net.Server;
  private readonly sessions = new Set<Session>();
  /** Slot name → state file. */
  readonly slots = new Map<string, string>();
  /** Slots streaming now, by name → the session's process id. */
  readonly active = new Map<string, number>();
  private readonly secrets = new Map<string, string>();
  readonly secureContext: tls.SecureContext | undefined;
  /** The end of the last record any stream read: IDENTIFY_SYSTEM's xlogpos at least. */
  walEnd: Lsn = 0;

  constructor(readonly options: WalSenderOptions) {
    super();
    for (const f of options.states) {
      const s = readSlotStateFile(f);
      if (this.slots.has(s.name)) throw new WalError('invalid-argument', `two state files hold slot "${s.name}": "${this.slots.get(s.name)}" and "${f}"`);
      this.slots.set(s.name, f);
    }
    this.secureContext = options.tls === undefined ? undefined : tls.createSecureContext({ key: Buffer.from(options.tls.key), cert: Buffer.from(options.tls.cert) });
    this.server = net.createServer((sock) => this.accept(sock));
  }

  /**
   * IDENTIFY_SYSTEM's timeline and xlogpos: as the server reports its flush position, the end of the WAL pgwal
   * can read (from the folders: the end of the last valid record, read on from what is already known).
   */
  async identify(states: SlotState[]): Promise<{ timeline: number; xlogpos: Lsn }> {
    let known = this.walEnd;
    for (const st of states) known = Math.max(known, parseLsn(st.confirmedFlush));
    if (this.options.identify !== undefined) {
      const r = await this.options.identify();
      return { timeline: r.timeline, xlogpos: Math.max(r.xlogpos, known) };
    }
    let timeline = states[0]!.timeline;
    try {
      timeline = Math.max(timeline, newestTimeline(this.options.path));
      if (this.options.records === undefined) {
        // Read asynchronously (the read-ahead worker): other clients are served meanwhile.
        for await (const rec of openWal({ path: this.options.path, timeline: 'latest' }).records({ start: known })) known = rec.endLsn;
        if (known > this.walEnd) this.walEnd = known;
      }
    } catch {
      // Folders that cannot be read (yet) from there: what streams have read is what is known.
    }
    return { timeline, xlogpos: known };
  }

  /** The SCRAM secret of a role (built once from a plain password). */
  async secretOf(role: string): Promise<string | undefined> {
    const have = this.secrets.get(role);
    if (have !== undefined) return have;
    const given = this.options.passwords?.get(role);
    if (given === undefined) return undefined;
    const secret = given.startsWith('SCRAM-SHA-256$') ? given : await buildScramSecret(given);
    parseScramSecret(secret);
    this.secrets.set(role, secret);
    return secret;
  }

  /** Listens on `host:port`, or in a folder on PostgreSQL's socket file `.s.PGSQL.<port>`; resolves to the address. */
  listen(address: { host: string; port: number } | { socketDir: string; port: number }): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      const done = (): void => {
        this.server.off('error', reject);
        const a = this.server.address();
        resolve(typeof a === 'string' ? a : `${a!.address}:${a!.port}`);
      };
      if ('socketDir' in address) {
        const file = path.join(address.socketDir, `.s.PGSQL.${address.port}`);
        // A socket file left by a process that is gone (as the postmaster's, checked by connecting would be).
        if (fs.existsSync(file) && fs.lstatSync(file).isSocket()) fs.unlinkSync(file);
        this.server.listen(file, done);
      } else this.server.listen(address.port, address.host, done);
    });
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.close();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private accept(sock: net.Socket): void {
    if (this.sessions.size >= (this.options.maxConnections ?? 10)) {
      // see ProcessStartupPacket's CAC_TOOMANY: the answer comes before the start-up packet is read.
      sock.on('error', () => undefined);
      sock.end(serializeBackendMessage({ type: 'ErrorResponse', fields: { S: 'FATAL', V: 'FATAL', C: '53300', M: 'sorry, too many clients already' } }));
      setTimeout(() => sock.destroy(), 1000).unref();
      return;
    }
    const s = new Session(this, sock);
    this.sessions.add(s);
    sock.on('close', () => {
      this.sessions.delete(s);
      s.closed();
    });
    this.emit('connection', { processId: s.processId });
  }
}

type Phase = 'startup' | 'sasl-initial' | 'sasl' | 'ready' | 'copy' | 'closed';

class Session {
  readonly processId = randomInt(1000, 2 ** 31 - 1);
  private readonly parser: FrontendParser;
  private phase: Phase = 'startup';
  private user = '';
  private database = '';
  private major = 15;
  private searchPath = '"$user", public';
  private scram: ScramServer | undefined;
  private stream: Stream | undefined;
  private authTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sender: WalSender,
    private sock: net.Socket,
  ) {
    this.parser = new FrontendParser({ maxMessageLength: sender.options.maxMessageLength ?? 1024 * 1024 });
    sock.setNoDelay(true);
    sock.on('data', (chunk) => this.data(chunk));
    sock.on('error', () => undefined);
    this.authTimer = setTimeout(() => {
      if (this.phase === 'startup' || this.phase === 'sasl-initial' || this.phase === 'sasl') this.close();
    }, sender.options.authenticationTimeoutMs ?? 60_000);
    this.authTimer.unref();
    // The major of the slots served decides what the server says it is.
    const first = sender.slots.values().next();
    if (!first.done) this.major = readSlotStateFile(first.value).major;
  }

  private pumping = false;

  private data(chunk: Uint8Array): void {
    if (this.phase === 'closed') return;
    this.parser.push(chunk);
    if (!this.pumping) void this.pump();
  }

  /**
   * Messages one at a time, in order (SCRAM is asynchronous, and what a 'p' message is depends on the request
   * before it); the socket is paused meanwhile, so a client sending faster than it is served waits in TCP.
   */
  private async pump(): Promise<void> {
    this.pumping = true;
    this.sock.pause();
    try {
      for (;;) {
        if (this.phase === 'closed') return;
        const m = this.parser.next();
        if (m === undefined) break;
        await this.handle(m);
      }
    } catch (e) {
      this.fail(e);
    } finally {
      this.pumping = false;
      if (this.phase !== 'closed') this.sock.resume();
    }
  }

  private send(m: BackendMessage): void {
    if (this.phase !== 'closed') this.sock.write(serializeBackendMessage(m));
  }

  private error(e: ServeError | { sqlState: string; message: string; severity?: string }): void {
    const severity = 'severity' in e && e.severity !== undefined ? e.severity : 'ERROR';
    const fields: NoticeFields = { S: severity, V: severity, C: e.sqlState, M: e.message };
    this.send({ type: 'ErrorResponse', fields });
  }

  /** A fatal error: sent, and the connection closed. */
  private fail(e: unknown): void {
    if (this.phase === 'closed') return;
    if (e instanceof ServeError) this.error({ sqlState: e.sqlState, message: e.message, severity: e.severity });
    else if (e instanceof ProtocolError) this.error({ sqlState: e.code === 'message-too-long' ? '54000' : '08P01', message: e.message, severity: 'FATAL' });
    else if (e instanceof WalError) this.error({ sqlState: 'XX000', message: e.message, severity: 'FATAL' });
    else this.error({ sqlState: 'XX000', message: `internal error: ${(e as Error)?.message ?? String(e)}`, severity: 'FATAL' });
    this.sender.emit('session-error', { processId: this.processId, error: e });
    this.close();
  }

  close(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.stream?.stop();
    this.sock.end();
    // A client that never reads must not keep the socket (and its queue) alive.
    setTimeout(() => this.sock.destroy(), 1000).unref();
  }

  closed(): void {
    clearTimeout(this.authTimer);
    this.phase = 'closed';
    this.stream?.stop();
  }

  private async handle(m: FrontendMessage): Promise<void> {
    if (this.phase === 'closed') return;
    switch (m.type) {
      case 'SSLRequest':
      case 'GSSENCRequest':
        if (this.phase !== 'startup' || this.tls) throw new ProtocolError('protocol-violation', `unexpected ${m.type}`);
        if (m.type === 'SSLRequest' && this.sender.secureContext !== undefined) return this.startTls(this.sender.secureContext);
        this.send({ type: 'SSLResponse', accepted: false });
        return;
      case 'CancelRequest':
        this.close();
        return;
      case 'StartupMessage':
        if (this.phase !== 'startup') throw new ProtocolError('protocol-violation', 'unexpected startup packet');
        return this.startup(m.protocolVersion, m.parameters);
      case 'SASLInitialResponse':
        return this.saslInitial(m.mechanism, m.data);
      case 'SASLResponse':
        return this.saslResponse(m.data);
      case 'PasswordMessage':
        throw new ServeError('08P01', 'expected SASL response, got message type 112', 'FATAL');
      case 'Query':
        if (this.phase !== 'ready') throw new ProtocolError('protocol-violation', `unexpected Query message`);
        return this.query(m.sql);
      case 'CopyData':
        if (this.phase === 'copy') this.stream?.feedback(m.data);
        return;
      case 'CopyDone':
        if (this.phase === 'copy') await this.stream?.finish();
        return;
      case 'CopyFail':
        if (this.phase === 'copy') throw new ServeError('57014', `COPY from stdin failed: ${m.message}`);
        return;
      case 'Terminate':
        this.close();
        return;
      case 'Sync':
      case 'Flush':
        // The extended protocol is not allowed in a walsender (postgres.c): its messages are refused.
        throw new ServeError('08P01', 'extended query protocol not supported in a replication connection', 'FATAL');
      default: {
        const never: never = m;
        return never;
      }
    }
  }

  private tls = false;

  /** 'S', then the TLS handshake on the same socket; the start-up packet comes encrypted. */
  private startTls(secureContext: tls.SecureContext): void {
    // Bytes after SSLRequest before the handshake would be read unencrypted (CVE-2021-23214).
    if (this.parser.buffered > 0) throw new ServeError('08P01', 'received unencrypted data after SSL request', 'FATAL');
    this.send({ type: 'SSLResponse', accepted: true });
    const raw = this.sock;
    raw.removeAllListeners('data');
    const secure = new tls.TLSSocket(raw, { isServer: true, secureContext });
    secure.on('data', (chunk: Uint8Array) => this.data(chunk));
    secure.on('error', () => this.close());
    this.sock = secure;
    this.tls = true;
    raw.resume();
  }

  private async startup(version: number, params: Record<string, string>): Promise<void> {
    if (version >> 16 !== 3) {
      throw new ServeError('0A000', `unsupported frontend protocol ${version >> 16}.${version & 0xffff}: server supports 3.0 to 3.0`, 'FATAL');
    }
    this.user = params.user ?? '';
    this.database = params.database ?? this.user;
    if (this.user === '') throw new ServeError('28000', 'no PostgreSQL user name specified in startup packet', 'FATAL');
    const replication = params.replication?.toLowerCase();
    if (replication !== 'database') {
      // pgwal serves logical replication only: a plain or physical connection finds no entry that allows it.
      const what = replication === undefined || parseBool(replication) === false ? `database "${this.database}"` : 'replication connection';
      throw new ServeError('28000', `no pg_hba.conf entry for ${what === 'replication connection' ? 'replication connection from host "pgwal serve"' : `host "pgwal serve", user "${this.user}", ${what}`}, no encryption`, 'FATAL');
    }
    if (this.sender.options.auth === 'trust') return this.ready();
    this.phase = 'sasl-initial';
    this.parser.expectAuthResponse('sasl-initial');
    this.send({ type: 'AuthenticationSASL', mechanisms: [SCRAM_SHA_256] });
  }

  private async saslInitial(mechanism: string, data: Uint8Array | null): Promise<void> {
    if (this.phase !== 'sasl-initial') throw new ProtocolError('protocol-violation', 'unexpected SASL message');
    if (mechanism !== SCRAM_SHA_256) throw new ServeError('08P01', 'client selected an invalid SASL authentication mechanism', 'FATAL');
    if (data === null) throw new ServeError('08P01', 'malformed SCRAM message (empty message)', 'FATAL');
    // An unknown role goes through a mock exchange (as the server's), and fails at the proof.
    const secret = (await this.sender.secretOf(this.user)) ?? (await buildScramSecret(randomBytes(16).toString('hex')));
    this.scram = new ScramServer(parseScramSecret(secret));
    const first = this.scram.first(data);
    this.phase = 'sasl';
    this.parser.expectAuthResponse('sasl');
    this.send({ type: 'AuthenticationSASLContinue', data: first });
  }

  private async saslResponse(data: Uint8Array): Promise<void> {
    if (this.phase !== 'sasl' || this.scram === undefined) throw new ProtocolError('protocol-violation', 'unexpected SASL message');
    let final: Uint8Array;
    try {
      final = await this.scram.final(data);
      if ((await this.sender.secretOf(this.user)) === undefined) throw new AuthenticationError('no such role');
    } catch (e) {
      if (e instanceof AuthenticationError) throw new ServeError('28P01', `password authentication failed for user "${this.user}"`, 'FATAL');
      throw e;
    }
    this.parser.expectAuthResponse(undefined);
    this.send({ type: 'AuthenticationSASLFinal', data: final });
    return this.ready();
  }

  /** see BeginReportingGUCOptions (guc.c): the GUC_REPORT parameters, as the WAL's major reports them. */
  private parameters(): [string, string][] {
    const p: [string, string][] = [
      ['application_name', ''],
      ['client_encoding', 'UTF8'],
      ['DateStyle', 'ISO, MDY'],
      ['default_transaction_read_only', 'off'],
      ['in_hot_standby', 'off'],
      ['integer_datetimes', 'on'],
      ['IntervalStyle', 'postgres'],
      ['is_superuser', 'on'],
      ['server_encoding', 'UTF8'],
      ['server_version', `${this.major}.0`],
      ['session_authorization', this.user],
      ['standard_conforming_strings', 'on'],
      ['TimeZone', 'UTC'],
    ];
    if (this.major >= 16) p.push(['scram_iterations', '4096']);
    if (this.major >= 18) p.push(['search_path', this.searchPath]);
    return p.sort((a, b) => a[0].localeCompare(b[0]));
  }

  private ready(): void {
    clearTimeout(this.authTimer);
    this.phase = 'ready';
    this.send({ type: 'AuthenticationOk' });
    for (const [name, value] of this.parameters()) this.send({ type: 'ParameterStatus', name, value });
    this.send({ type: 'BackendKeyData', processId: this.processId, secretKey: randomBytes(4) });
    this.send({ type: 'ReadyForQuery', status: 'I' });
  }

  private row(columns: [string, number][], rows: (string | null)[][], tag: string): void {
    this.send({ type: 'RowDescription', fields: columns.map(([name, typeOid]) => ({ name, tableOid: 0, columnAttr: 0, typeOid, typeSize: typeOid === INT8_OID ? 8 : typeOid === INT4_OID ? 4 : -1, typeModifier: -1, format: 0 })) });
    for (const r of rows) this.send({ type: 'DataRow', values: r.map((v) => (v === null ? null : TEXT.encode(v))) });
    this.send({ type: 'CommandComplete', tag });
  }

  private lastSql = '';

  private async query(sql: string): Promise<void> {
    this.sender.emit('command', { processId: this.processId, sql });
    this.lastSql = sql;
    let cmd: ReplicationCommand;
    try {
      cmd = parseReplicationCommand(sql);
      await this.command(cmd);
    } catch (e) {
      if (e instanceof ServeError && e.severity === 'ERROR') this.error(e);
      else if (e instanceof ProtocolError) this.error({ sqlState: '42601', message: e.message });
      else throw e;
    }
    if (this.phase === 'ready') this.send({ type: 'ReadyForQuery', status: 'I' });
  }

  private slotFile(name: string): string {
    const f = this.sender.slots.get(name);
    if (f === undefined) throw new ServeError('42704', `replication slot "${name}" does not exist`);
    return f;
  }

  private async command(cmd: ReplicationCommand): Promise<void> {
    switch (cmd.kind) {
      case 'IDENTIFY_SYSTEM': {
        const states = [...this.sender.slots.values()].map((f) => readSlotStateFile(f));
        const s = states[0];
        if (s === undefined) throw new ServeError('55000', 'pgwal serve has no slot');
        const { timeline, xlogpos } = await this.sender.identify(states);
        this.row(
          [
            ['systemid', TEXT_OID],
            ['timeline', this.major >= 16 ? INT8_OID : INT4_OID],
            ['xlogpos', TEXT_OID],
            ['dbname', TEXT_OID],
          ],
          [[s.systemIdentifier, String(timeline), formatLsn(xlogpos), this.database]],
          'IDENTIFY_SYSTEM',
        );
        return;
      }
      case 'SHOW': {
        const v = this.show(cmd.name);
        this.row([[cmd.name, TEXT_OID]], [[v]], 'SHOW');
        return;
      }
      case 'START_REPLICATION': {
        if (!cmd.logical) throw new ServeError('0A000', 'pgwal serve serves logical replication only: physical START_REPLICATION is not supported');
        return this.startReplication(cmd.slot!, cmd.lsn, cmd.options);
      }
      case 'TIMELINE_HISTORY': {
        // see SendTimeLineHistory: the file's name and its content, both text; from the first folder holding it.
        const name = `${cmd.timeline.toString(16).toUpperCase().padStart(8, '0')}.history`;
        for (const dir of this.sender.options.path) {
          let content: Buffer;
          try {
            content = fs.readFileSync(path.join(dir, name));
          } catch {
            continue;
          }
          if (content.length > 16 * 1024 * 1024) throw new ServeError('54000', `timeline history file "${name}" is too large`);
          this.row([['filename', TEXT_OID], ['content', TEXT_OID]], [[name, content.toString('utf8')]], 'TIMELINE_HISTORY');
          return;
        }
        throw new ServeError('58P01', `could not open file "pg_wal/${name}": No such file or directory`);
      }
      case 'other':
        // A tablesync worker's slot (pg_<suboid>_sync_<relid>_<sysid>): the copy it is for cannot be served.
        if (cmd.keyword === 'CREATE_REPLICATION_SLOT' && /\bpg_\d+_sync_\d+_\d+\b/.test(this.lastSql)) throw new ServeError('0A000', TABLE_SYNC_UNSUPPORTED);
        throw new ServeError('0A000', `pgwal serve does not serve ${cmd.keyword}`);
      case 'sql':
        return this.sql(cmd.sql);
      default: {
        const never: never = cmd;
        return never;
      }
    }
  }

  private show(name: string): string {
    const known: Record<string, string> = Object.fromEntries(this.parameters().map(([k, v]) => [k.toLowerCase(), v]));
    known.search_path = this.searchPath;
    known.data_directory_mode = '0700';
    known.wal_segment_size = '16MB';
    known.server_version_num = String(this.major * 10000);
    const v = known[name.toLowerCase()];
    if (v === undefined) throw new ServeError('42704', `unrecognized configuration parameter "${name}"`);
    return v;
  }

  /** The SQL the replication clients send (libpqwalreceiver, pg_recvlogical): answered as the server would. */
  private async sql(sql: string): Promise<void> {
    const text = sql.trim().replace(/;\s*$/, '');
    const setConfig = /^SELECT\s+pg_catalog\.set_config\('([a-z_]+)',\s*'((?:[^']|'')*)',\s*(false|true)\)$/i.exec(text);
    if (setConfig !== null) {
      const value = setConfig[2]!.replace(/''/g, "'");
      if (setConfig[1] === 'search_path') this.searchPath = value;
      else this.show(setConfig[1]!);
      this.row([['set_config', TEXT_OID]], [[value]], 'SELECT 1');
      return;
    }
    // A subscriber's queries of the publisher's publications (CREATE SUBSCRIPTION, ALTER … REFRESH): answered
    // from the catalog of the slot's creation, the one pgoutput decodes with.
    if (/\bpg_publication\b/.test(text) || /\bpg_publication_tables\b/.test(text) || /\bpg_get_publication_tables\b/.test(text)) {
      const names = publicationNamesOf(text);
      const catalog = this.publicationCatalog();
      if (names !== undefined && catalog !== undefined) {
        if (/\bpg_get_publication_tables\b/.test(text) && /SELECT DISTINCT n\.nspname, c\.relname, gpt\.attrs\s/i.test(text)) {
          const rows = publishedTables(catalog, names).map((t) => [t.namespace, t.name, t.columns === null ? null : t.columns.join(' ')]);
          this.row([['nspname', NAME_OID], ['relname', NAME_OID], ['attrs', INT2VECTOR_OID]], rows, `SELECT ${rows.length}`);
          return;
        }
        if (/FROM pg_catalog\.pg_publication_tables t\s+WHERE t\.pubname IN/i.test(text) && /^SELECT DISTINCT t\.schemaname, t\.tablename\s*,\s*t\.attnames/i.test(text)) {
          const rows = publishedTables(catalog, names).map((t) => [t.namespace, t.name, `{${t.columnNames.join(',')}}`]);
          this.row([['schemaname', NAME_OID], ['tablename', NAME_OID], ['attnames', NAME_ARRAY_OID]], rows, `SELECT ${rows.length}`);
          return;
        }
        if (/^SELECT t\.pubname FROM\s+pg_catalog\.pg_publication t WHERE\s+t\.pubname IN/i.test(text)) {
          const rows = (catalog.publications ?? []).filter((p) => names.includes(p.name)).map((p) => [p.name]);
          this.row([['pubname', NAME_OID]], rows, `SELECT ${rows.length}`);
          return;
        }
      }
    }
    // The tablesync worker (copy_data = true) opens its snapshot's transaction first (tablesync.c).
    if (/^BEGIN\s+READ\s+ONLY\s+ISOLATION\s+LEVEL\s+REPEATABLE\s+READ$/i.test(text)) throw new ServeError('0A000', TABLE_SYNC_UNSUPPORTED);
    throw new ServeError('0A000', `pgwal serve does not run SQL: ${text.length > 60 ? `${text.slice(0, 60)}…` : text}`);
  }

  /** The catalog of a pgoutput slot served (the first: slots of one server share their publications). */
  private publicationCatalog(): DecoderCatalog | undefined {
    for (const f of this.sender.slots.values()) {
      const s = readSlotStateFile(f);
      if (s.plugin === 'pgoutput' && s.catalog.publications !== undefined && (s.database === undefined || s.database === this.database)) return s.catalog;
    }
    return undefined;
  }

  private async startReplication(name: string, lsn: Lsn, options: [string, string | null][]): Promise<void> {
    const file = this.slotFile(name);
    const holder = this.sender.active.get(name);
    if (holder !== undefined) throw new ServeError('55006', `replication slot "${name}" is active for PID ${holder}`);
    let slot: Slot;
    try {
      slot = openSlotFile(file);
    } catch (e) {
      if (e instanceof WalError && e.code === 'slot-lock') throw new ServeError('55006', `replication slot "${name}" is active: ${e.message}`);
      throw e;
    }
    try {
      const state = slot.state;
      if (state.database !== undefined && state.database !== this.database) {
        throw new ServeError('55000', `replication slot "${name}" was not created in this database`);
      }
      slot.assertUsable();
      const plugin = makeServePlugin(state, options);
      this.stream = new Stream(this.sender, slot, state, plugin, Math.max(lsn, slot.confirmedFlush), this.sock, this.processId, this.searchPath, this.user);
    } catch (e) {
      slot.release();
      if (e instanceof WalError && !(e instanceof ServeError)) throw new ServeError(e.code === 'invalid-argument' ? '22023' : '55000', e.message);
      throw e;
    }
    this.sender.active.set(name, this.processId);
    this.phase = 'copy';
    this.send({ type: 'CopyBothResponse', format: 0, columnFormats: [] });
    const stream = this.stream;
    void stream.run().then(
      (err) => {
        this.sender.active.delete(name);
        slot.release();
        this.stream = undefined;
        if (this.phase !== 'copy') return;
        if (err !== undefined) {
          this.fail(err);
          return;
        }
        this.phase = 'ready';
        this.send({ type: 'CommandComplete', tag: 'START_REPLICATION' });
        this.send({ type: 'ReadyForQuery', status: 'I' });
      },
      (e: unknown) => {
        this.sender.active.delete(name);
        slot.release();
        this.fail(e);
      },
    );
  }
}

/** The quoted names of `pubname IN ('a', 'b')`, as libpqwalreceiver quotes them; undefined when not of that shape. */
export function publicationNamesOf(sql: string): string[] | undefined {
  const m = /pubname\s+IN\s*\(\s*((?:'(?:[^']|'')*'\s*,?\s*)+)\)/i.exec(sql);
  if (m === null) return undefined;
  return [...m[1]!.matchAll(/'((?:[^']|'')*)'/g)].map((x) => x[1]!.replace(/''/g, "'"));
}

/** see pg_get_publication_tables: the tables the named publications publish (their column lists, or all columns). */
export function publishedTables(catalog: DecoderCatalog, names: string[]): { namespace: string; name: string; columns: number[] | null; columnNames: string[] }[] {
  const pubs = (catalog.publications ?? []).filter((p) => names.includes(p.name));
  const out: { namespace: string; name: string; columns: number[] | null; columnNames: string[] }[] = [];
  for (const r of catalog.relations) {
    if (r.kind !== 'r' && r.kind !== 'p') continue;
    if (r.namespace === 'pg_catalog' || r.namespace === 'information_schema' || r.namespace.startsWith('pg_toast') || r.oid < 16384) continue;
    let member = false;
    let columns: number[] | null = null;
    let all = false;
    for (const p of pubs) {
      const t = p.tables.find((x) => x.relid === r.oid);
      if (p.allTables || p.schemas.includes(r.namespace) || t !== undefined) {
        member = true;
        if (t?.columns == null) all = true;
        else columns = [...new Set([...(columns ?? []), ...t.columns])].sort((a, b) => a - b);
      }
    }
    if (!member) continue;
    const live = r.attributes.filter((a) => !a.dropped && a.attnum > 0);
    const cols = all || columns === null ? null : columns;
    out.push({ namespace: r.namespace, name: r.name, columns: cols ?? live.map((a) => a.attnum), columnNames: live.filter((a) => cols === null || cols.includes(a.attnum)).map((a) => a.name) });
  }
  return out;
}

/** The slot's plugin with the options START_REPLICATION named (each plugin checks its own, as the server's). */
function makeServePlugin(state: SlotState, options: [string, string | null][]): OutputPlugin {
  if (state.plugin === 'pgoutput') {
    return new PgOutputPlugin(parsePgOutputOptions(options, state.major), state.major, state.catalog.publications, state.catalog.partitions, new Map(state.catalog.replicationOrigins), state.catalog.databaseLocale);
  }
  if (state.plugin === 'wal2json') return new Wal2JsonPlugin(parseWal2JsonOptions(options));
  const known = ['include-xids', 'include-timestamp', 'skip-empty-xacts', 'only-local', 'stream-changes', 'include-rewrites'];
  const flags = new Map<string, boolean>();
  for (const [k, v] of options) {
    if (!known.includes(k)) throw new ServeError('22023', `option "${k}" = "${v ?? '(null)'}" is unknown`);
    const b = v === null ? true : parseBool(v);
    if (b === undefined) throw new ServeError('22023', `could not parse value "${v}" for parameter "${k}"`);
    flags.set(k, b);
  }
  const f = (k: string, d: boolean): boolean => flags.get(k) ?? d;
  return new TestDecodingPlugin({ includeXids: f('include-xids', true), includeTimestamp: f('include-timestamp', false), skipEmptyXacts: f('skip-empty-xacts', false), onlyLocal: f('only-local', false), streamChanges: f('stream-changes', false) });
}

/** One START_REPLICATION: decodes from the slot's restart_lsn, following the folders, and streams the plugin's output. */
class Stream {
  private readonly abort = new AbortController();
  private readonly commits: { commitEnd: Lsn; restart: Lsn; timeline: number }[] = [];
  private sentPtr: Lsn;
  private lastSend = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private catalogPagesAt: ((restart: Lsn) => SlotState['catalogPages']) | undefined;

  constructor(
    private readonly sender: WalSender,
    private readonly slot: Slot,
    private readonly state: SlotState,
    private readonly plugin: OutputPlugin,
    private readonly startAt: Lsn,
    private readonly sock: net.Socket,
    private readonly processId: number,
    /** The session's search_path and role: test_decoding and wal2json name types as format_type does under them. */
    private readonly searchPath: string,
    private readonly user: string,
  ) {
    this.sentPtr = startAt;
  }

  stop(): void {
    this.abort.abort(new Error('stopped'));
  }

  /** The client's CopyDone: streaming ends, CopyDone back. */
  async finish(): Promise<void> {
    // Sent when the stream stops, after the message being written (a spilled one goes out in pieces).
    this.copyDone = true;
    this.stop();
  }

  private copyDone = false;
  /** Spilled output is going out in pieces: nothing else may be written between them. */
  private sendingFile = false;

  private write(bytes: Uint8Array): void {
    this.sock.write(bytes);
    this.lastSend = Date.now();
  }

  private keepalive(replyRequested: boolean): void {
    if (this.sendingFile) return;
    this.write(serializeBackendMessage({ type: 'CopyData', data: serializeReplicationMessage({ type: 'PrimaryKeepalive', walEnd: this.sentPtr, sendTime: currentTimestamp(), replyRequested }) }));
  }

  /** A standby status update: the slot is confirmed up to the last commit sent that the client has flushed. */
  feedback(payload: Uint8Array): void {
    const m = parseWalReceiverMessage(payload);
    if (m.type !== 'StandbyStatusUpdate') return;
    if (m.replyRequested) this.keepalive(false);
    let upto: { commitEnd: Lsn; restart: Lsn; timeline: number } | undefined;
    while (this.commits.length > 0 && this.commits[0]!.commitEnd <= m.flushLsn) upto = this.commits.shift();
    if (upto === undefined) return;
    // A confirm rewrites the state file durably (with the catalog's pages): at most one per confirmInterval,
    // the latest one pending until then (confirming later only repeats more after a crash).
    this.pendingConfirm = upto;
    const wait = this.lastConfirm + (this.sender.options.confirmIntervalMs ?? 1000) - Date.now();
    if (wait <= 0) this.confirmNow();
    else if (this.confirmTimer === undefined) this.confirmTimer = setTimeout(() => this.confirmNow(), wait);
  }

  private pendingConfirm: { commitEnd: Lsn; restart: Lsn; timeline: number } | undefined;
  private lastConfirm = 0;
  private confirmTimer: NodeJS.Timeout | undefined;

  /** Writes the pending confirm (also when the stream ends). */
  confirmNow(): void {
    clearTimeout(this.confirmTimer);
    this.confirmTimer = undefined;
    const upto = this.pendingConfirm;
    this.pendingConfirm = undefined;
    if (upto === undefined) return;
    this.lastConfirm = Date.now();
    if (this.slot.confirm(upto.commitEnd, { restartLsn: Math.min(upto.restart, upto.commitEnd), timeline: upto.timeline, catalogPagesAt: this.catalogPagesAt })) {
      this.sender.emit('confirm', { slot: this.slot.name, processId: this.processId, confirmedFlush: formatLsn(upto.commitEnd) });
    }
  }

  private drained(): Promise<void> {
    return new Promise<void>((resolve) => {
      const go = (): void => {
        this.sock.off('drain', go);
        this.sock.off('close', go);
        resolve();
      };
      if (this.sock.destroyed) return resolve();
      this.sock.on('drain', go);
      this.sock.on('close', go);
    });
  }

  /** Spilled output, 1 MB at a time, as fast as the client takes it. */
  private async sendFile(fd: number, size: number): Promise<void> {
    this.sendingFile = true;
    try {
      await this.sendPieces(fd, size);
    } finally {
      this.sendingFile = false;
    }
  }

  private async sendPieces(fd: number, size: number): Promise<void> {
    for (let at = 0; at < size && !this.sock.destroyed; ) {
      const buf = Buffer.allocUnsafe(Math.min(1024 * 1024, size - at));
      const n = fs.readSync(fd, buf, 0, buf.length, at);
      if (n <= 0) throw new WalError('serve-spill', `could not read back spilled output at ${at} of ${size} bytes`);
      at += n;
      this.write(buf.subarray(0, n));
      if (this.sock.writableLength > HIGH_WATER) await this.drained();
    }
  }

  /** Resolves with an error to send (fatal), or undefined when the client ended streaming. */
  async run(): Promise<unknown> {
    const state = this.state;
    const profile = profileForMajor(state.major)!;
    const pages = readCatalogPages(state);
    const historic = pages !== undefined ? new HistoricCatalog(catalogSnapshotFromJson(pages), { defaults: state.catalog }) : undefined;
    if (historic !== undefined) this.catalogPagesAt = (restart) => catalogSnapshotToJson(historic.exportSnapshot(restart));
    // Rows go to the socket as the plugin writes them; past `maxQueued` bytes waiting in the socket (a large
    // transaction replayed at its commit, to a slow client) they go to a file, sent from there after the record.
    const maxQueued = this.sender.options.maxQueuedOutput ?? 16 * 1024 * 1024;
    let spill: { fd: number; file: string; size: number } | undefined;
    const emit = (lsn: Lsn, data: Uint8Array): void => {
      const msg = xlogDataMessage(lsn, lsn, currentTimestamp(), data);
      if (spill === undefined && this.sock.writableLength + msg.length <= maxQueued) {
        this.write(msg);
        return;
      }
      if (spill === undefined) {
        const file = path.join(os.tmpdir(), `pgwal-serve-${process.pid}-${this.processId}-${Date.now()}.out`);
        spill = { fd: fs.openSync(file, 'wx+', 0o600), file, size: 0 };
        this.sender.emit('spill', { slot: this.slot.name, processId: this.processId, file });
      }
      fs.writeSync(spill.fd, msg);
      spill.size += msg.length;
    };
    const plugin = this.plugin;
    const decoder = new LogicalDecoder({
      catalog:
        plugin instanceof PgOutputPlugin
          ? plugin.catalogView(historic ?? new StaticCatalog(state.catalog), state.catalog)
          : new SearchPathCatalog(historic ?? new StaticCatalog(state.catalog), searchPathSchemas(this.searchPath, this.user), state.major),
      major: profile.major,
      plugin,
      startAt: this.startAt,
      streaming: plugin instanceof TestDecodingPlugin ? plugin.options.streamChanges : plugin instanceof PgOutputPlugin && plugin.options.streaming !== 'off',
      ...(state.twoPhase ? { twoPhaseAt: parseLsn(state.twoPhaseAt ?? state.confirmedFlush) } : {}),
      ...(this.sender.options.memoryLimit !== undefined ? { memoryLimit: this.sender.options.memoryLimit } : {}),
      sink: (o) => emit(o.lsn, typeof o.data === 'string' ? TEXT.encode(o.data) : o.data),
      timezone: state.timezone,
    });
    const keepaliveMs = this.sender.options.keepaliveMs ?? 1000;
    this.timer = setInterval(() => {
      if (Date.now() - this.lastSend >= keepaliveMs && this.sock.writableLength < HIGH_WATER) this.keepalive(false);
    }, Math.max(50, keepaliveMs / 2));
    const expect = { systemIdentifier: BigInt(state.systemIdentifier), major: state.major, what: `the slot state of "${state.name}"` };
    let lastCommit = decoder.lastCommitEnd;
    let corked = false;
    const flush = (): void => {
      if (!corked) return;
      corked = false;
      this.sock.uncork();
    };
    try {
      const slot = this.slot;
      const records =
        this.sender.options.records !== undefined
          ? await this.sender.options.records({ start: slot.restartLsn, timeline: slot.timeline, signal: this.abort.signal, expect, flushLsn: () => slot.restartLsn, catalogXmin: () => slot.catalogXmin })
          : followFolders(this.sender.options.path, slot.restartLsn, slot.timeline, this.sender.options.pollMs ?? 200, this.abort.signal, expect);
      for await (const rec of records) {
        this.slot.checkRecord(rec, profile.major);
        // The messages of all records read without waiting go out in one write (one writev, not one per commit):
        // the socket stays corked until the loop waits for WAL or the client (setImmediate runs then).
        if (!corked) {
          corked = true;
          this.sock.cork();
          setImmediate(flush);
        }
        decoder.process(rec);
        if (spill !== undefined) {
          flush();
          const sp: { fd: number; file: string; size: number } = spill;
          spill = undefined;
          try {
            await this.sendFile(sp.fd, sp.size);
          } finally {
            fs.closeSync(sp.fd);
            fs.rmSync(sp.file, { force: true });
          }
        }
        this.sentPtr = rec.endLsn;
        if (rec.endLsn > this.sender.walEnd) this.sender.walEnd = rec.endLsn;
        if (decoder.lastCommitEnd > lastCommit) {
          lastCommit = decoder.lastCommitEnd;
          this.commits.push({ commitEnd: lastCommit, restart: decoder.restartPoint(rec.endLsn), timeline: rec.timeline });
          // A client that does not confirm must not grow this list without end: every other commit is dropped
          // (a confirm then lands on an earlier commit, which only repeats more after a restart).
          if (this.commits.length > MAX_UNCONFIRMED) {
            const kept = this.commits.filter((_, i) => i % 2 === 1 || i === this.commits.length - 1);
            this.commits.length = 0;
            this.commits.push(...kept);
          }
        }
        // Backpressure: a slow client stops the reading of WAL for it.
        if (this.sock.writableLength > HIGH_WATER) {
          flush();
          await this.drained();
        }
        if (this.abort.signal.aborted) break;
      }
      return undefined;
    } catch (e) {
      if (this.abort.signal.aborted) return undefined;
      return e;
    } finally {
      flush();
      try {
        this.confirmNow();
      } catch (e) {
        this.sender.emit('session-error', { processId: this.processId, error: e });
      }
      if (this.copyDone) this.sock.write(serializeBackendMessage({ type: 'CopyDone' }));
      clearInterval(this.timer);
      decoder.close();
    }
  }
}

/**
 * The folders' records from `start` (on `timeline`), followed as they grow and across timeline switches: the
 * newest timeline's history is followed, and when a newer history file appears (a promotion of the server
 * writing the folders), reading goes on from the next record on it, as decoding from files over a switch does.
 */
async function* followFolders(dirs: string[], start: Lsn, timeline: number, pollMs: number, signal: AbortSignal, expect: XLogReaderOptions['expect']): AsyncGenerator<DecodedRecord> {
  let next = start;
  let startTimeline = timeline;
  for (;;) {
    const wal = openWal({ path: dirs, timeline: 'latest' });
    const newest = wal.info.timeline;
    // Reading stops (its signal) when a newer timeline's history shows up.
    const switched = new AbortController();
    const onAbort = (): void => switched.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const look = setInterval(() => {
      try {
        if (newestTimeline(dirs) > newest) switched.abort(new Error('newer timeline'));
      } catch {
        /* looked at again */
      }
    }, Math.max(pollMs, 200));
    try {
      for await (const rec of wal.records({ start: next, startTimeline, follow: { pollMs }, signal: switched.signal, expect })) {
        yield rec;
        next = rec.endLsn;
        startTimeline = rec.timeline;
      }
      return;
    } catch (e) {
      if (signal.aborted || !switched.signal.aborted) throw e;
    } finally {
      clearInterval(look);
      signal.removeEventListener('abort', onAbort);
    }
  }
}
