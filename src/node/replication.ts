// A replication connection over node:net (unix socket or TCP, TLS when the server offers it): start-up,
// authentication, replication commands by simple query, and the CopyBoth stream of START_REPLICATION.
// The bytes are the protocol module's; this file owns only the socket, timers and flow control.
//
//   connect ─▶ [SSLRequest ─▶ TLS] ─▶ StartupMessage ─▶ auth (trust | password | md5 | SCRAM) ─▶ idle
//   idle ─▶ query(sql) ─▶ idle                  idle ─▶ startReplication ─▶ copy ─▶ endCopy() ─▶ idle
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import { WalError } from '../errors.js';
import { formatLsn, parseLsn, type Lsn } from '../lsn.js';
import {
  BackendParser,
  ConnectionError,
  ProtocolError,
  PROTOCOL_3_0,
  ScramClient,
  SCRAM_SHA_256,
  ServerError,
  parseConnectionString,
  parseWalSenderMessage,
  serializeFrontendMessage,
  serializeReplicationMessage,
  serverAddresses,
  currentTimestamp,
  type BackendMessage,
  type ConnectionParameters,
  type FieldDescription,
  type FrontendMessage,
  type NoticeFields,
  type ServerAddress,
  type WalSenderMessage,
} from '../protocol/index.js';

export interface ReplicationConnectOptions {
  /** A libpq connection string, `key=value …` or `postgresql://…`. */
  connectionString: string;
  /** PGHOST, PGPORT, PGUSER, PGPASSWORD, PGSSLMODE, PGAPPNAME, PGCONNECT_TIMEOUT as libpq reads them. */
  env?: Record<string, string | undefined>;
  /** `true` (physical) or `database` (logical); default `true`. */
  replication?: 'true' | 'database';
  /** Default application_name when the string names none. */
  applicationName?: string;
  /** Longest message accepted from the server (default: the parser's 16 MB). */
  maxMessageLength?: number;
  /** NoticeResponse messages (warnings) from the server. */
  onNotice?: (fields: NoticeFields) => void;
  /**
   * Milliseconds a wait for the server may go without a byte from it before the connection is ended with a
   * ConnectionError (wal_receiver_timeout; 0 or undefined: no limit). A stream keeps it alive by asking the
   * server for a reply (WalStream does at half of it); while the consumer is slow the clock does not run.
   */
  receiveTimeoutMs?: number;
}

export interface QueryResult {
  fields: FieldDescription[];
  /** Text values (the simple query protocol sends text), null for NULL. */
  rows: (string | null)[][];
  /** The CommandComplete tag of the last statement. */
  command: string;
}

export interface IdentifySystem {
  systemId: string;
  timeline: number;
  xlogpos: Lsn;
  dbname: string | null;
}

/** The result set a walsender sends when the timeline it streamed has ended (next_tli, next_tli_startpos). */
export interface EndOfTimeline {
  nextTimeline: number;
  nextTimelineStart: Lsn;
}

/** Messages queued before the socket is paused: bounds memory while the consumer is slower than the server. */
const HIGH_WATER = 64;
const LOW_WATER = 16;

const utf8 = new TextDecoder();

function md5hex(text: string | Uint8Array): string {
  return crypto.createHash('md5').update(text).digest('hex');
}

/** A quoted identifier for replication commands (slot names are [a-z0-9_] but quoting costs nothing). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** `1MB`, `16MB`, `1GB` as SHOW prints wal_segment_size: bytes. */
export function parseSizeSetting(text: string): number {
  const m = /^(\d+)\s*(B|kB|MB|GB|TB)?$/.exec(text.trim());
  if (m === null) throw new ProtocolError('protocol-violation', `could not parse the server's size setting "${text}"`);
  const unit = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 }[(m[2] ?? 'B') as 'B'];
  return Number(m[1]) * unit;
}

function defaultSocketDir(): string {
  // Debian's libpq looks in /var/run/postgresql, upstream's in /tmp.
  return fs.existsSync('/var/run/postgresql') ? '/var/run/postgresql' : '/tmp';
}

function describeAddress(a: ServerAddress): string {
  return a.unixSocket ? `socket "${a.host}/.s.PGSQL.${a.port}"` : `server at "${a.host}", port ${a.port}`;
}

export class ReplicationConnection {
  /** ParameterStatus values: server_version, integer_datetimes, in_hot_standby, … */
  readonly parameters = new Map<string, string>();
  processId = 0;
  private secretKey: Uint8Array = new Uint8Array(0);
  private readonly parser: BackendParser;
  private readonly queue: BackendMessage[] = [];
  private waiter: (() => void) | undefined;
  private failure: WalError | undefined;
  private closed = false;
  private paused = false;
  private inCopy = false;
  private copyDoneSent = false;
  /** Date.now() of the last bytes from the server, and of the start of the current wait for a message (0: none). */
  private lastReceive = Date.now();
  private waitingSince = 0;
  private timeoutTimer: NodeJS.Timeout | undefined;

  private constructor(
    private sock: net.Socket,
    readonly address: ServerAddress,
    readonly user: string,
    private readonly onNotice: ((f: NoticeFields) => void) | undefined,
    maxMessageLength: number | undefined,
    /** wal_receiver_timeout in milliseconds, 0: none. */
    readonly receiveTimeoutMs: number,
  ) {
    this.parser = new BackendParser(maxMessageLength === undefined ? {} : { maxMessageLength });
  }

  /** Milliseconds since the server last sent anything, counted from the start of the current wait. */
  get silentMs(): number {
    return Date.now() - Math.max(this.lastReceive, this.waitingSince);
  }

  /** Connects to the first server of the host list that accepts (and matches target_session_attrs). */
  static async connect(options: ReplicationConnectOptions): Promise<ReplicationConnection> {
    const env = options.env ?? process.env;
    const params: ConnectionParameters = parseConnectionString(options.connectionString);
    const fromEnv: [string, string][] = [
      ['host', 'PGHOST'], ['port', 'PGPORT'], ['user', 'PGUSER'], ['password', 'PGPASSWORD'], ['sslmode', 'PGSSLMODE'],
      ['application_name', 'PGAPPNAME'], ['connect_timeout', 'PGCONNECT_TIMEOUT'], ['target_session_attrs', 'PGTARGETSESSIONATTRS'],
    ];
    for (const [k, e] of fromEnv) if (params[k] === undefined && env[e] !== undefined && env[e] !== '') params[k] = env[e]!;
    const addresses = serverAddresses(params, { host: defaultSocketDir(), port: 5432 });
    const target = params.target_session_attrs ?? 'any';
    if (!['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby'].includes(target)) {
      throw new WalError('invalid-argument', `invalid target_session_attrs value: "${target}"`);
    }
    const failures: string[] = [];
    const tryAll = async (want: string): Promise<ReplicationConnection | undefined> => {
      for (const a of addresses) {
        let c: ReplicationConnection;
        try {
          c = await ReplicationConnection.open(a, params, options);
        } catch (e) {
          // Authentication and protocol errors end the attempt as libpq's do; refusals move on to the next host.
          if (!(e instanceof ConnectionError) || addresses.length === 1) throw e;
          failures.push(e.message);
          continue;
        }
        if (c.matches(want)) return c;
        failures.push(`${describeAddress(a)}: session is not ${want}`);
        c.close();
      }
      return undefined;
    };
    const c = (await tryAll(target === 'prefer-standby' ? 'standby' : target)) ?? (target === 'prefer-standby' ? await tryAll('any') : undefined);
    if (c === undefined) throw new ConnectionError(`could not connect to any server: ${failures.join('; ')}`);
    return c;
  }

  /** target_session_attrs from the ParameterStatus values servers 14+ report (in_hot_standby, default_transaction_read_only). */
  private matches(target: string): boolean {
    const standby = this.parameters.get('in_hot_standby') === 'on';
    const readOnly = standby || this.parameters.get('default_transaction_read_only') === 'on';
    switch (target) {
      case 'any':
        return true;
      case 'primary':
        return !standby;
      case 'standby':
        return standby;
      case 'read-write':
        return !readOnly;
      case 'read-only':
        return readOnly;
      default:
        return true;
    }
  }

  private static async open(a: ServerAddress, params: ConnectionParameters, options: ReplicationConnectOptions): Promise<ReplicationConnection> {
    const timeoutMs = params.connect_timeout !== undefined && Number(params.connect_timeout) > 0 ? Math.max(2, Number(params.connect_timeout)) * 1000 : 0;
    const sock = await new Promise<net.Socket>((resolve, reject) => {
      const s = a.unixSocket ? net.connect({ path: `${a.host}/.s.PGSQL.${a.port}` }) : net.connect({ host: a.host, port: a.port });
      let timer: NodeJS.Timeout | undefined;
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          s.destroy();
          reject(new ConnectionError(`connection to ${describeAddress(a)} failed: timeout expired`));
        }, timeoutMs);
      }
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const why = e.code === 'ECONNREFUSED' ? 'Connection refused' : e.code === 'ENOENT' ? 'No such file or directory' : e.message;
        reject(new ConnectionError(`connection to ${describeAddress(a)} failed: ${why}`, { cause: e }));
      });
    });
    if (!a.unixSocket) sock.setNoDelay(true);
    const user = params.user ?? os.userInfo().username;
    const c = new ReplicationConnection(sock, a, user, options.onNotice, options.maxMessageLength, options.receiveTimeoutMs ?? 0);
    try {
      await c.startup(params, options, a);
    } catch (e) {
      c.close();
      throw e;
    }
    return c;
  }

  private attach(): void {
    const t = this.receiveTimeoutMs;
    if (t > 0) {
      // see WalReceiverMain's wal_receiver_timeout check: only a wait for the server counts, not a slow consumer.
      this.timeoutTimer = setInterval(() => {
        if (this.waiter === undefined || this.queue.length > 0 || this.silentMs < t) return;
        this.fail(new ConnectionError(`terminating the connection due to timeout: no message from the server for ${t / 1000} s (wal_receiver_timeout)`));
        this.sock.destroy();
      }, Math.max(10, Math.min(1000, t / 4)));
      this.timeoutTimer.unref();
    }
    this.sock.on('data', (chunk: Buffer) => this.onData(chunk));
    this.sock.on('error', (e: Error) => this.fail(new ConnectionError(`could not receive data from server: ${e.message}`, { cause: e })));
    this.sock.on('close', () => {
      if (!this.closed) this.fail(new ConnectionError('server closed the connection unexpectedly'));
    });
  }

  private onData(chunk: Uint8Array): void {
    this.lastReceive = Date.now();
    this.parser.push(chunk);
    try {
      for (let m = this.parser.next(); m !== undefined; m = this.parser.next()) this.queue.push(m);
    } catch (e) {
      this.fail(e as WalError);
      this.sock.destroy();
      return;
    }
    if (this.queue.length >= HIGH_WATER && !this.paused) {
      this.paused = true;
      this.sock.pause();
    }
    this.wake();
  }

  private fail(e: WalError): void {
    if (this.failure === undefined) this.failure = e;
    clearInterval(this.timeoutTimer);
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** The next message from the server, waiting for it; notices and parameter changes are handled here. */
  private async take(): Promise<BackendMessage> {
    for (;;) {
      const m = this.queue.shift();
      if (m !== undefined) {
        if (this.paused && this.queue.length <= LOW_WATER) {
          this.paused = false;
          this.sock.resume();
        }
        if (m.type === 'NoticeResponse') {
          this.onNotice?.(m.fields);
          continue;
        }
        if (m.type === 'ParameterStatus') {
          this.parameters.set(m.name, m.value);
          continue;
        }
        if (m.type === 'NotificationResponse') continue;
        this.waitingSince = 0;
        return m;
      }
      if (this.failure !== undefined) throw this.failure;
      if (this.waitingSince === 0) this.waitingSince = Date.now();
      await new Promise<void>((r) => (this.waiter = r));
    }
  }

  send(m: FrontendMessage): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.closed) throw new ConnectionError('the connection was closed');
    this.sock.write(serializeFrontendMessage(m));
  }

  private async startup(params: ConnectionParameters, options: ReplicationConnectOptions, a: ServerAddress): Promise<void> {
    const sslmode = params.sslmode ?? 'prefer';
    if (!['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'].includes(sslmode)) {
      throw new WalError('invalid-argument', `invalid sslmode value: "${sslmode}"`);
    }
    // libpq never negotiates TLS over a unix socket.
    if (!a.unixSocket && sslmode !== 'disable' && sslmode !== 'allow') await this.negotiateTls(sslmode, params, a);
    this.attach();
    const startup: Record<string, string> = { user: this.user };
    if (params.dbname !== undefined && params.dbname !== '') startup.database = params.dbname;
    startup.replication = params.replication ?? options.replication ?? 'true';
    startup.application_name = params.application_name ?? params.fallback_application_name ?? options.applicationName ?? 'pgwal';
    if (params.options !== undefined) startup.options = params.options;
    this.send({ type: 'StartupMessage', protocolVersion: PROTOCOL_3_0, parameters: startup });
    const password = params.password;
    let scram: ScramClient | undefined;
    for (;;) {
      const m = await this.take();
      switch (m.type) {
        case 'AuthenticationOk':
          break;
        case 'AuthenticationCleartextPassword':
          this.send({ type: 'PasswordMessage', password: this.needPassword(password) });
          continue;
        case 'AuthenticationMD5Password': {
          const inner = md5hex(this.needPassword(password) + this.user);
          const salted = Buffer.concat([Buffer.from(inner), m.salt]);
          this.send({ type: 'PasswordMessage', password: `md5${md5hex(salted)}` });
          continue;
        }
        case 'AuthenticationSASL': {
          if (!m.mechanisms.includes(SCRAM_SHA_256)) {
            throw new ProtocolError('unexpected-message', `none of the server's SASL authentication mechanisms are supported: ${m.mechanisms.join(', ')}`);
          }
          scram = new ScramClient(this.needPassword(password));
          const first = scram.initialResponse();
          this.send({ type: 'SASLInitialResponse', mechanism: first.mechanism, data: first.data });
          continue;
        }
        case 'AuthenticationSASLContinue':
          if (scram === undefined) throw new ProtocolError('unexpected-message', 'AuthenticationSASLContinue without a SASL exchange');
          this.send({ type: 'SASLResponse', data: await scram.continue(m.data) });
          continue;
        case 'AuthenticationSASLFinal':
          if (scram === undefined) throw new ProtocolError('unexpected-message', 'AuthenticationSASLFinal without a SASL exchange');
          scram.finish(m.data);
          continue;
        case 'AuthenticationOther':
          throw new ProtocolError('unexpected-message', `authentication method ${m.method} (Kerberos, GSSAPI or SSPI) is not supported`);
        case 'ErrorResponse':
          throw new ServerError(m.fields);
        default:
          throw new ProtocolError('unexpected-message', `unexpected message "${m.type}" during authentication`);
      }
      break;
    }
    for (;;) {
      const m = await this.take();
      if (m.type === 'BackendKeyData') {
        this.processId = m.processId;
        this.secretKey = m.secretKey;
      } else if (m.type === 'ReadyForQuery') return;
      else if (m.type === 'ErrorResponse') throw new ServerError(m.fields);
      else if (m.type === 'NegotiateProtocolVersion') continue;
      else throw new ProtocolError('unexpected-message', `unexpected message "${m.type}" during start-up`);
    }
  }

  private needPassword(password: string | undefined): string {
    if (password === undefined) {
      throw new ServerError({ S: 'FATAL', V: 'FATAL', C: '28P01', M: `password authentication failed for user "${this.user}": no password supplied` });
    }
    return password;
  }

  private async negotiateTls(sslmode: string, params: ConnectionParameters, a: ServerAddress): Promise<void> {
    this.sock.write(serializeFrontendMessage({ type: 'SSLRequest' }));
    const answer = await new Promise<number>((resolve, reject) => {
      const onData = (b: Buffer): void => {
        this.sock.off('data', onData);
        this.sock.off('error', onErr);
        if (b.length !== 1) reject(new ProtocolError('protocol-violation', 'received unencrypted data after SSL response'));
        else resolve(b[0]!);
      };
      const onErr = (e: Error): void => reject(new ConnectionError(`could not send SSL negotiation packet: ${e.message}`, { cause: e }));
      this.sock.on('data', onData);
      this.sock.once('error', onErr);
    });
    if (answer === 0x4e /* N */) {
      if (sslmode === 'prefer') return;
      throw new ConnectionError(`server does not support SSL, but SSL was required (${describeAddress(a)})`);
    }
    if (answer !== 0x53 /* S */) throw new ProtocolError('protocol-violation', `received invalid response to SSL negotiation: ${String.fromCharCode(answer)}`);
    const verify = sslmode === 'verify-ca' || sslmode === 'verify-full';
    const secure = tls.connect({
      socket: this.sock,
      servername: net.isIP(a.host) === 0 ? a.host : undefined,
      rejectUnauthorized: verify,
      ca: params.sslrootcert !== undefined && verify ? fs.readFileSync(params.sslrootcert) : undefined,
      checkServerIdentity: sslmode === 'verify-full' ? tls.checkServerIdentity : () => undefined,
    });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => {
        secure.removeAllListeners('error');
        resolve();
      });
      secure.once('error', (e) => reject(new ConnectionError(`SSL connection to ${describeAddress(a)} failed: ${e.message}`, { cause: e })));
    });
    this.sock = secure;
  }

  /** One simple-query command and its result set; the server's ErrorResponse becomes a ServerError. */
  async query(sql: string): Promise<QueryResult> {
    if (this.inCopy) throw new WalError('invalid-argument', 'the connection is streaming: end the COPY first');
    this.send({ type: 'Query', sql });
    return this.readResult(sql);
  }

  private async readResult(what: string): Promise<QueryResult> {
    const result: QueryResult = { fields: [], rows: [], command: '' };
    let error: ServerError | undefined;
    for (;;) {
      const m = await this.take();
      switch (m.type) {
        case 'RowDescription':
          result.fields = m.fields;
          result.rows = [];
          continue;
        case 'DataRow':
          result.rows.push(m.values.map((v) => (v === null ? null : utf8.decode(v))));
          continue;
        case 'CommandComplete':
          result.command = m.tag;
          continue;
        case 'EmptyQueryResponse':
          continue;
        case 'ErrorResponse':
          error = new ServerError(m.fields);
          continue;
        case 'ReadyForQuery':
          if (error !== undefined) throw error;
          return result;
        case 'CopyBothResponse':
        case 'CopyOutResponse':
        case 'CopyInResponse':
          throw new ProtocolError('unexpected-message', `unexpected ${m.type} in answer to "${what}"`);
        default:
          throw new ProtocolError('unexpected-message', `unexpected message "${m.type}" in answer to "${what}"`);
      }
    }
  }

  async identifySystem(): Promise<IdentifySystem> {
    const r = await this.query('IDENTIFY_SYSTEM');
    const row = r.rows[0];
    if (r.rows.length !== 1 || row === undefined || row.length < 4) {
      throw new ProtocolError('protocol-violation', `could not identify system: got ${r.rows.length} rows and ${r.fields.length} fields, expected 1 rows and 4 or more fields`);
    }
    return { systemId: row[0]!, timeline: Number(row[1]), xlogpos: parseLsn(row[2]!), dbname: row[3] ?? null };
  }

  /** TIMELINE_HISTORY: the history file's name and its bytes. */
  async timelineHistory(timeline: number): Promise<{ filename: string; content: string }> {
    const r = await this.query(`TIMELINE_HISTORY ${timeline}`);
    const row = r.rows[0];
    if (r.rows.length !== 1 || row === undefined || row.length !== 2 || row[0] === null || row[1] === null) {
      throw new ProtocolError('protocol-violation', `unexpected response to TIMELINE_HISTORY command: got ${r.rows.length} rows and ${r.fields.length} fields, expected 1 rows and 2 fields`);
    }
    return { filename: row[0]!, content: row[1]! };
  }

  async show(setting: string): Promise<string> {
    const r = await this.query(`SHOW ${setting}`);
    const v = r.rows[0]?.[0];
    if (v === undefined || v === null) throw new ProtocolError('protocol-violation', `SHOW ${setting} returned no value`);
    return v;
  }

  /** wal_segment_size, as pg_receivewal's RetrieveWalSegSize asks for it. */
  async walSegmentSize(): Promise<number> {
    return parseSizeSetting(await this.show('wal_segment_size'));
  }

  /** READ_REPLICATION_SLOT (15+): the physical slot's restart_lsn and its timeline, undefined when the slot does not exist. */
  async readReplicationSlot(slot: string): Promise<{ slotType: string | null; restartLsn: Lsn | null; restartTimeline: number | null }> {
    const r = await this.query(`READ_REPLICATION_SLOT ${quoteIdent(slot)}`);
    const row = r.rows[0] ?? [null, null, null];
    return {
      slotType: row[0] ?? null,
      restartLsn: row[1] === null || row[1] === undefined ? null : parseLsn(row[1]),
      restartTimeline: row[2] === null || row[2] === undefined ? null : Number(row[2]),
    };
  }

  async createPhysicalSlot(slot: string, options: { reserveWal?: boolean } = {}): Promise<void> {
    await this.query(`CREATE_REPLICATION_SLOT ${quoteIdent(slot)} PHYSICAL${options.reserveWal ? ' RESERVE_WAL' : ''}`);
  }

  async dropSlot(slot: string): Promise<void> {
    await this.query(`DROP_REPLICATION_SLOT ${quoteIdent(slot)}`);
  }

  /**
   * START_REPLICATION [SLOT s] PHYSICAL X/X TIMELINE n; resolves when the server enters CopyBoth (undefined),
   * or with the next timeline when the start point is the end of a historic timeline: the walsender then
   * answers with the (next_tli, next_tli_startpos) result set and no COPY at all.
   */
  async startPhysical(start: { slot?: string; lsn: Lsn; timeline: number }): Promise<EndOfTimeline | undefined> {
    const sql = `START_REPLICATION ${start.slot !== undefined ? `SLOT ${quoteIdent(start.slot)} ` : ''}PHYSICAL ${formatLsn(start.lsn)} TIMELINE ${start.timeline}`;
    this.send({ type: 'Query', sql });
    let error: ServerError | undefined;
    let row: (string | null)[] | undefined;
    for (;;) {
      const m = await this.take();
      switch (m.type) {
        case 'CopyBothResponse':
          this.inCopy = true;
          this.copyDoneSent = false;
          return undefined;
        case 'ErrorResponse':
          error = new ServerError(m.fields);
          continue;
        case 'RowDescription':
        case 'CommandComplete':
          continue;
        case 'DataRow':
          row = m.values.map((v) => (v === null ? null : utf8.decode(v)));
          continue;
        case 'ReadyForQuery':
          if (error !== undefined) throw error;
          if (row === undefined || row.length < 2 || row[0] === null || row[1] === null) {
            throw new ProtocolError('unexpected-message', 'START_REPLICATION ended without a COPY and without a next timeline');
          }
          return { nextTimeline: Number(row[0]), nextTimelineStart: parseLsn(row[1]!) };
        default:
          throw new ProtocolError('unexpected-message', `unexpected message "${m.type}" in answer to START_REPLICATION`);
      }
    }
  }

  /**
   * The next message of the stream: XLogData or a keepalive, or `end` when the server ended the COPY
   * (end of its timeline, or shutdown): then call `endCopy`.
   */
  async nextStreamMessage(): Promise<WalSenderMessage | { type: 'CopyDone' }> {
    for (;;) {
      const m = await this.take();
      if (m.type === 'CopyData') return parseWalSenderMessage(m.data);
      if (m.type === 'CopyDone') return m;
      if (m.type === 'ErrorResponse') {
        this.inCopy = false;
        throw new ServerError(m.fields);
      }
      throw new ProtocolError('unexpected-message', `unexpected message "${m.type}" in the replication stream`);
    }
  }

  /** Sends a CopyData with a standby status update. */
  sendStatus(write: Lsn, flush: Lsn, apply: Lsn, replyRequested = false): void {
    this.send({
      type: 'CopyData',
      data: serializeReplicationMessage({ type: 'StandbyStatusUpdate', writeLsn: write, flushLsn: flush, applyLsn: apply, sendTime: currentTimestamp(), replyRequested }),
    });
  }

  /** Sends hot standby feedback: xmin and catalog_xmin with their epochs (0/0 for none). */
  sendHotStandbyFeedback(f: { xmin: number; xminEpoch: number; catalogXmin: number; catalogXminEpoch: number }): void {
    this.send({ type: 'CopyData', data: serializeReplicationMessage({ type: 'HotStandbyFeedback', sendTime: currentTimestamp(), ...f }) });
  }

  /** Asks the server to end the COPY (CopyDone); the stream then ends with the server's CopyDone. */
  requestEndCopy(): void {
    if (!this.inCopy || this.copyDoneSent) return;
    this.send({ type: 'CopyDone' });
    this.copyDoneSent = true;
  }

  /**
   * Ends the COPY (sending CopyDone if not yet sent; XLogData still arriving is dropped) and reads what
   * follows: the next timeline when the server's timeline ended, else undefined.
   */
  async endCopy(serverEnded: boolean): Promise<EndOfTimeline | undefined> {
    if (!this.copyDoneSent) {
      this.send({ type: 'CopyDone' });
      this.copyDoneSent = true;
    }
    if (!serverEnded) {
      // XLogData still in flight before the server's CopyDone is dropped.
      for (;;) {
        const m = await this.nextStreamMessage();
        if (m.type === 'CopyDone') break;
      }
    }
    this.inCopy = false;
    const r = await this.readResult('START_REPLICATION');
    if (r.rows.length === 0) return undefined;
    const row = r.rows[0]!;
    if (row.length < 2 || row[0] === null || row[1] === null) {
      throw new ProtocolError('protocol-violation', `unexpected result set after end-of-timeline: got ${r.rows.length} rows and ${r.fields.length} fields, expected 1 rows and 2 fields`);
    }
    return { nextTimeline: Number(row[0]), nextTimelineStart: parseLsn(row[1]!) };
  }

  /** Terminate and close; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timeoutTimer);
    try {
      if (this.failure === undefined && !this.sock.destroyed) this.sock.end(serializeFrontendMessage({ type: 'Terminate' }));
    } catch {
      /* closing anyway */
    }
    this.sock.destroy();
    // A reader waiting for the next message learns that none will come.
    this.failure ??= new ConnectionError('the connection was closed');
    this.wake();
  }

  /** Messages received and not yet taken (bounded: the socket is paused at 64). */
  get queued(): number {
    return this.queue.length;
  }

  /** The cancel key, for a CancelRequest on another connection. */
  get cancelKey(): { processId: number; secretKey: Uint8Array } {
    return { processId: this.processId, secretKey: this.secretKey };
  }
}
