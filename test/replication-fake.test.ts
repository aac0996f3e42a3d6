// The replication client against a scripted walsender built on the same codec (FrontendParser,
// serializeBackendMessage): the end of a timeline followed exactly as receivelog.c expects it, keepalive
// replies, feedback, and a hostile server (oversized, malformed, cut) refused with typed errors.
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ReplicationConnection } from '../src/node/replication.js';
import { WalStream, type WalStreamEvent } from '../src/node/walreceiver.js';
import { receiveWal } from '../src/node/receivewal.js';
import {
  ConnectionError,
  FrontendParser,
  ProtocolError,
  ServerError,
  parseWalReceiverMessage,
  serializeBackendMessage,
  serializeReplicationMessage,
  xlogDataMessage,
  type BackendMessage,
  type FrontendMessage,
  type WalReceiverMessage,
} from '../src/protocol/index.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (s: string, oid = 25) => ({ name: s, tableOid: 0, columnAttr: 0, typeOid: oid, typeSize: -1, typeModifier: -1, format: 0 });

/** A scripted server: `script` gets each frontend message and a `send`. */
function fakeServer(script: (m: FrontendMessage, send: (...b: (BackendMessage | Uint8Array)[]) => void, parser: FrontendParser, sock: net.Socket) => void): Promise<{ socketDir: string; port: number; close(): void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-fake-'));
  const port = 5432;
  const server = net.createServer((sock) => {
    const parser = new FrontendParser();
    const send = (...msgs: (BackendMessage | Uint8Array)[]): void => {
      for (const m of msgs) sock.write(m instanceof Uint8Array ? m : serializeBackendMessage(m));
    };
    sock.on('data', (chunk) => {
      parser.push(chunk);
      try {
        for (let m = parser.next(); m !== undefined; m = parser.next()) script(m, send, parser, sock);
      } catch {
        sock.destroy();
      }
    });
    sock.on('error', () => {});
  });
  return new Promise((resolve) =>
    server.listen(path.join(dir, `.s.PGSQL.${port}`), () =>
      resolve({
        socketDir: dir,
        port,
        close: () => {
          server.close();
          fs.rmSync(dir, { recursive: true, force: true });
        },
      }),
    ),
  );
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const READY: BackendMessage = { type: 'ReadyForQuery', status: 'I' };
const SEG = 1024 * 1024;

describe('against a scripted walsender', () => {
  it('password authentication, IDENTIFY_SYSTEM, streaming, keepalive reply, feedback, end of timeline, next timeline', async () => {
    const received: WalReceiverMessage[] = [];
    const queries: string[] = [];
    let serverEnded = false;
    const page = (lsn: number, n: number): Uint8Array => new Uint8Array(n).fill(lsn & 0xff);
    const srv = await fakeServer((m, send, parser) => {
      switch (m.type) {
        case 'StartupMessage':
          expect(m.parameters).toMatchObject({ user: 'u', replication: 'true', application_name: 'pgwal' });
          parser.expectAuthResponse('password');
          send({ type: 'AuthenticationCleartextPassword' });
          return;
        case 'PasswordMessage':
          expect(m.password).toBe('secret');
          parser.expectAuthResponse(undefined);
          send({ type: 'AuthenticationOk' }, { type: 'ParameterStatus', name: 'server_version', value: '17.0' }, { type: 'BackendKeyData', processId: 7, secretKey: Uint8Array.of(1, 2, 3, 4) }, READY);
          return;
        case 'Query':
          queries.push(m.sql);
          if (m.sql === 'IDENTIFY_SYSTEM') {
            send(
              { type: 'RowDescription', fields: [text('systemid'), text('timeline', 23), text('xlogpos'), text('dbname')] },
              { type: 'DataRow', values: [enc('7400000000000000001'), enc('1'), enc('0/2000000'), null] },
              { type: 'CommandComplete', tag: 'IDENTIFY_SYSTEM' },
              READY,
            );
          } else if (m.sql === 'START_REPLICATION PHYSICAL 0/2000000 TIMELINE 1') {
            send({ type: 'CopyBothResponse', format: 0, columnFormats: [] });
            send(xlogDataMessage(0x2000000, 0x2000100, 1, page(0, 0x80)));
            send({ type: 'CopyData', data: serializeReplicationMessage({ type: 'PrimaryKeepalive', walEnd: 0x2000100, sendTime: 2, replyRequested: true }) });
            send(xlogDataMessage(0x2000080, 0x2000100, 3, page(1, 0x80)));
            // The timeline ends at 0/2000100: CopyDone, then wait for the client's.
            send({ type: 'CopyDone' });
            serverEnded = true;
          } else if (m.sql === 'TIMELINE_HISTORY 2') {
            send(
              { type: 'RowDescription', fields: [text('filename'), text('content')] },
              { type: 'DataRow', values: [enc('00000002.history'), enc('1\t0/20000C0\tno recovery target specified\n')] },
              { type: 'CommandComplete', tag: 'TIMELINE_HISTORY' },
              READY,
            );
          } else if (m.sql === 'START_REPLICATION PHYSICAL 0/2000000 TIMELINE 2') {
            send({ type: 'CopyBothResponse', format: 0, columnFormats: [] });
            send(xlogDataMessage(0x2000000, 0x2000200, 4, page(2, 0x200)));
          } else {
            send({ type: 'ErrorResponse', fields: { S: 'ERROR', V: 'ERROR', C: '42601', M: `syntax error: ${m.sql}` } }, READY);
          }
          return;
        case 'CopyData':
          received.push(parseWalReceiverMessage(m.data));
          return;
        case 'CopyDone':
          if (!serverEnded) {
            // The client ends the COPY: the server answers CopyDone, and no next timeline.
            send({ type: 'CopyDone' }, { type: 'CommandComplete', tag: 'START_STREAMING' }, READY);
            return;
          }
          serverEnded = false;
          // After the client's CopyDone: next_tli and its start, as walsender.c sends them.
          send(
            { type: 'RowDescription', fields: [text('next_tli', 20), text('next_tli_startpos')] },
            { type: 'DataRow', values: [enc('2'), enc('0/20000C0')] },
            { type: 'CommandComplete', tag: 'START_STREAMING' },
            READY,
          );
          return;
        case 'Terminate':
          return;
        default:
          throw new Error(`unexpected ${m.type}`);
      }
    });
    cleanups.push(srv.close);
    const conn = await ReplicationConnection.connect({ connectionString: `postgresql://u:secret@%2F${encodeURIComponent(srv.socketDir.slice(1))}:${srv.port}/`, env: {} });
    cleanups.push(() => conn.close());
    expect(conn.parameters.get('server_version')).toBe('17.0');
    expect(conn.processId).toBe(7);
    const id = await conn.identifySystem();
    expect(id).toEqual({ systemId: '7400000000000000001', timeline: 1, xlogpos: 0x2000000, dbname: null });
    await expect(conn.query('BOGUS')).rejects.toMatchObject({ sqlState: '42601', message: 'syntax error: BOGUS' });
    const stream = new WalStream(conn, {
      startLsn: id.xlogpos,
      timeline: 1,
      statusIntervalMs: 0,
      walSegmentSize: SEG,
      hotStandbyFeedback: () => ({ xmin: 0, xminEpoch: 0, catalogXmin: 4000000000, catalogXminEpoch: 2 }),
    });
    const events: WalStreamEvent[] = [];
    for await (const ev of stream) {
      events.push(ev);
      if (ev.type === 'data') stream.report({ write: ev.dataStart + ev.data.length });
      if (ev.type === 'data' && ev.timeline === 2) stream.stop();
    }
    expect(events.map((e) => (e.type === 'data' ? `data ${e.timeline} ${e.dataStart.toString(16)}+${e.data.length.toString(16)}` : e.type))).toEqual([
      'data 1 2000000+80',
      'data 1 2000080+80',
      'timeline-switch',
      'data 2 2000000+200',
      'end',
    ]);
    const sw = events[2]!;
    expect(sw).toMatchObject({ type: 'timeline-switch', timeline: 1, nextTimeline: 2, switchLsn: 0x20000c0, restartLsn: 0x2000000 });
    expect(queries).toEqual(['IDENTIFY_SYSTEM', 'BOGUS', 'START_REPLICATION PHYSICAL 0/2000000 TIMELINE 1', 'TIMELINE_HISTORY 2', 'START_REPLICATION PHYSICAL 0/2000000 TIMELINE 2']);
    // The keepalive asked for a reply: a status update with the write position then, and the feedback.
    expect(received[0]).toMatchObject({ type: 'StandbyStatusUpdate', writeLsn: 0x2000080, flushLsn: 0, replyRequested: false });
    expect(received[1]).toMatchObject({ type: 'HotStandbyFeedback', xmin: 0, catalogXmin: 4000000000, catalogXminEpoch: 2 });
  });

  it('a hostile server: oversized message, malformed message, a cut connection, an unknown auth method', async () => {
    type Send = (...b: (BackendMessage | Uint8Array)[]) => void;
    const cases: [(send: Send, sock: net.Socket) => void, (e: unknown) => void][] = [
      [(send) => send(Uint8Array.of(0x52, 0x7f, 0, 0, 0)), (e) => expect(e).toMatchObject({ code: 'message-too-long' })],
      [(send) => send(Uint8Array.of(0x52, 0, 0, 0, 6, 0, 0)), (e) => expect(e).toBeInstanceOf(ProtocolError)],
      [(send) => send(Uint8Array.of(0x21, 0, 0, 0, 4)), (e) => expect(e).toMatchObject({ message: 'unexpected message type "!" from the server' })],
      [
        (send, sock) => {
          send(Uint8Array.of(0x52, 0, 0, 0));
          sock.end();
        },
        (e) => expect(e).toMatchObject({ message: 'server closed the connection unexpectedly' }),
      ],
      [(send) => send({ type: 'AuthenticationOther', method: 7, data: new Uint8Array(0) }), (e) => expect(e).toMatchObject({ message: 'authentication method 7 (Kerberos, GSSAPI or SSPI) is not supported' })],
      [
        (send) => send({ type: 'ErrorResponse', fields: { S: 'FATAL', V: 'FATAL', C: '53300', M: 'number of requested standby connections exceeds "max_wal_senders" (currently 1)' } }),
        (e) => {
          expect(e).toBeInstanceOf(ServerError);
          expect(e).toMatchObject({ sqlState: '53300', severity: 'FATAL' });
        },
      ],
    ];
    for (const [act, check] of cases) {
      const srv = await fakeServer((m, send, _parser, sock) => {
        if (m.type === 'StartupMessage') act(send, sock);
      });
      cleanups.push(srv.close);
      let err: unknown;
      try {
        const c = await ReplicationConnection.connect({ connectionString: `host=${srv.socketDir} port=${srv.port} user=u`, env: {}, maxMessageLength: 1 << 20 });
        c.close();
      } catch (e) {
        err = e;
      }
      if (err === undefined) throw new Error('connected to a hostile server');
      check(err);
      srv.close();
    }
  }, 20_000);

  it('a slow consumer holds the server back: the client queue stays bounded, the server cannot write on', async () => {
    let serverSock: net.Socket | undefined;
    let sent = 0;
    const data = new Uint8Array(128 * 1024);
    const srv = await fakeServer((m, send, _p, sock) => {
      if (m.type === 'StartupMessage') send({ type: 'AuthenticationOk' }, READY);
      else if (m.type === 'Query') {
        send({ type: 'CopyBothResponse', format: 0, columnFormats: [] });
        serverSock = sock;
        // 64 MB as fast as the socket takes it: stop when write() says the buffer is full.
        const pump = (): void => {
          while (sent < 512) {
            const ok = sock.write(xlogDataMessage(0x1000000 + sent * data.length, 0, 0, data));
            sent++;
            if (!ok) {
              sock.once('drain', pump);
              return;
            }
          }
        };
        pump();
      }
    });
    cleanups.push(srv.close);
    const conn = await ReplicationConnection.connect({ connectionString: `host=${srv.socketDir} port=${srv.port} user=u`, env: {} });
    cleanups.push(() => conn.close());
    const stream = new WalStream(conn, { startLsn: 0x1000000, timeline: 1, statusIntervalMs: 0 });
    let got = 0;
    let maxQueued = 0;
    for await (const ev of stream) {
      if (ev.type !== 'data') continue;
      got++;
      maxQueued = Math.max(maxQueued, conn.queued);
      if (got === 20) {
        // The consumer stalls: the server fills its buffers and stops well short of all 512 messages.
        await new Promise((r) => setTimeout(r, 300));
        expect(sent).toBeLessThan(512);
        expect(serverSock!.writableLength).toBeGreaterThan(0);
      }
      if (got === 100) break;
    }
    expect(maxQueued).toBeLessThanOrEqual(64 + 16);
  });

  it('pgwal receive: a reconnection that reaches another system is refused, its WAL not written', async () => {
    let connections = 0;
    const srv = await fakeServer((m, send, _p, sock) => {
      if (m.type === 'StartupMessage') {
        connections++;
        send({ type: 'AuthenticationOk' }, READY);
      } else if (m.type === 'Query') {
        const row = (sql: string, values: string[]): void =>
          send({ type: 'RowDescription', fields: values.map((_, i) => text(`c${i}`)) }, { type: 'DataRow', values: values.map(enc) }, { type: 'CommandComplete', tag: sql }, READY);
        if (m.sql === 'IDENTIFY_SYSTEM') row('IDENTIFY_SYSTEM', [connections === 1 ? '1111' : '2222', '1', '0/1000000', '']);
        else if (m.sql === 'SHOW wal_segment_size') row('SHOW', ['1MB']);
        else if (m.sql.startsWith('START_REPLICATION')) {
          send({ type: 'CopyBothResponse', format: 0, columnFormats: [] }, xlogDataMessage(0x1000000, 0x1000100, 0, new Uint8Array(0x100).fill(7)));
          // Then the connection drops.
          setTimeout(() => sock.destroy(), 20);
        }
      }
    });
    cleanups.push(srv.close);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-fake-receive-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const lines: string[] = [];
    await expect(
      receiveWal({ connectionString: `host=${srv.socketDir} port=${srv.port} user=u`, directory: dir, env: {}, sleep: async () => {}, log: (l) => lines.push(l) }),
    ).rejects.toMatchObject({ code: 'system-mismatch', message: 'system identifier 2222 of the server does not match 1111, the system streamed so far' });
    expect(connections).toBe(2);
    expect(lines[0]).toBe('starting log streaming at 0/1000000 (timeline 1)');
    // What the first system sent stays, in the .partial, padded.
    const partial = fs.readFileSync(path.join(dir, '000000010000000000000010.partial'));
    expect(partial.length).toBe(1024 * 1024);
    expect(partial.subarray(0, 0x100).every((b) => b === 7) && partial.subarray(0x100).every((b) => b === 0)).toBe(true);
  });

  it('stop() while START_REPLICATION is on its way ends the COPY once it begins', async () => {
    const srv = await fakeServer((m, send) => {
      if (m.type === 'StartupMessage') send({ type: 'AuthenticationOk' }, READY);
      else if (m.type === 'Query') setTimeout(() => send({ type: 'CopyBothResponse', format: 0, columnFormats: [] }), 50);
      else if (m.type === 'CopyDone') send({ type: 'CopyDone' }, { type: 'CommandComplete', tag: 'START_STREAMING' }, READY);
    });
    cleanups.push(srv.close);
    const conn = await ReplicationConnection.connect({ connectionString: `host=${srv.socketDir} port=${srv.port} user=u`, env: {} });
    cleanups.push(() => conn.close());
    const stream = new WalStream(conn, { startLsn: 0x1000000, timeline: 1, statusIntervalMs: 0 });
    const it = stream[Symbol.asyncIterator]();
    const first = it.next();
    setTimeout(() => stream.stop(), 10);
    expect((await first).value).toEqual({ type: 'end', timeline: 1, lsn: 0x1000000 });
  });

  it('closing the connection ends a reader waiting for the stream', async () => {
    const srv = await fakeServer((m, send) => {
      if (m.type === 'StartupMessage') send({ type: 'AuthenticationOk' }, READY);
      else if (m.type === 'Query') send({ type: 'CopyBothResponse', format: 0, columnFormats: [] });
    });
    cleanups.push(srv.close);
    const conn = await ReplicationConnection.connect({ connectionString: `host=${srv.socketDir} port=${srv.port} user=u`, env: {} });
    const stream = new WalStream(conn, { startLsn: 0x1000000, timeline: 1, statusIntervalMs: 0 });
    const it = stream[Symbol.asyncIterator]();
    const next = it.next();
    setTimeout(() => conn.close(), 50);
    await expect(next).rejects.toThrow('the connection was closed');
  });

  it('a refused connection is a ConnectionError naming the socket', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-none-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    await expect(ReplicationConnection.connect({ connectionString: `host=${dir} port=9`, env: {} })).rejects.toBeInstanceOf(ConnectionError);
  });
});
