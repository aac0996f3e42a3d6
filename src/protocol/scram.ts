// SCRAM-SHA-256 (RFC 5802, 7677) for the client side, as libpq's fe-auth-scram.c speaks it: no channel
// binding ("n,,"), empty user name (the server takes the start-up packet's). WebCrypto only, no node:.
import { WalError } from '../errors.js';
import { encodeUtf8, utf8 } from './bytes.js';
import { ProtocolError } from './errors.js';

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';

/** The server refused the proof, or proved it does not know the password (a man in the middle). */
export class AuthenticationError extends WalError {
  constructor(message: string) {
    super('authentication-failed', message);
  }
}

/** The part of WebCrypto used here (the core's lib has no DOM types). */
interface Subtle {
  importKey(format: 'raw', key: Uint8Array, alg: unknown, extractable: boolean, usages: string[]): Promise<unknown>;
  sign(alg: 'HMAC', key: unknown, data: Uint8Array): Promise<ArrayBuffer>;
  digest(alg: 'SHA-256', data: Uint8Array): Promise<ArrayBuffer>;
  deriveBits(alg: unknown, key: unknown, length: number): Promise<ArrayBuffer>;
}
interface WebCrypto {
  subtle: Subtle;
  getRandomValues(a: Uint8Array): Uint8Array;
}
const webCrypto = (): WebCrypto | undefined => (globalThis as { crypto?: WebCrypto }).crypto;

const subtle = (): Subtle => {
  const s = webCrypto()?.subtle;
  if (s === undefined) throw new WalError('unsupported', 'SCRAM authentication needs WebCrypto (globalThis.crypto.subtle)');
  return s;
};

function b64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return btoa(s);
}

function unb64(text: string, what: string): Uint8Array {
  try {
    const s = atob(text);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  } catch {
    throw new ProtocolError('protocol-violation', `malformed SCRAM message (invalid ${what})`);
  }
}

async function hmac(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const k = await subtle().importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await subtle().sign('HMAC', k, data));
}

async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().digest('SHA-256', data));
}

/** Hi() of RFC 5802: PBKDF2-HMAC-SHA-256 with one 32-byte block. */
async function saltedPassword(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const k = await subtle().importKey('raw', encodeUtf8(password), 'PBKDF2', false, ['deriveBits']);
  return new Uint8Array(await subtle().deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, k, 256));
}

/** `attr=value` pairs of a SCRAM message, in order. */
function attributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq !== 1) throw new ProtocolError('protocol-violation', `malformed SCRAM message (attribute expected, got "${part.slice(0, 20)}")`);
    out.set(part[0]!, part.slice(2));
  }
  return out;
}

/**
 * One SCRAM-SHA-256 exchange:
 *   initialResponse() ─▶ SASLInitialResponse;  AuthenticationSASLContinue ─▶ continue() ─▶ SASLResponse;
 *   AuthenticationSASLFinal ─▶ finish() (verifies the server's signature).
 */
export class ScramClient {
  private readonly clientNonce: string;
  private clientFirstBare = '';
  private serverSignature: Uint8Array | undefined;

  constructor(
    private readonly password: string,
    nonce?: string,
    /** The SCRAM user name: empty, as libpq sends it (PostgreSQL ignores it). */
    private readonly user = '',
  ) {
    if (nonce === undefined) {
      const raw = new Uint8Array(18);
      webCrypto()!.getRandomValues(raw);
      nonce = b64(raw);
    }
    this.clientNonce = nonce;
  }

  initialResponse(): { mechanism: string; data: Uint8Array } {
    this.clientFirstBare = `n=${this.user.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=${this.clientNonce}`;
    return { mechanism: SCRAM_SHA_256, data: encodeUtf8(`n,,${this.clientFirstBare}`) };
  }

  async continue(serverFirstBytes: Uint8Array): Promise<Uint8Array> {
    const serverFirst = utf8(serverFirstBytes);
    const a = attributes(serverFirst);
    const nonce = a.get('r');
    const salt = a.get('s');
    const iter = Number(a.get('i'));
    if (nonce === undefined || salt === undefined || !Number.isInteger(iter) || iter < 1) {
      throw new ProtocolError('protocol-violation', 'malformed SCRAM message (r, s and i expected in the server-first-message)');
    }
    if (!nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length) {
      throw new ProtocolError('protocol-violation', 'invalid SCRAM response (nonce mismatch)');
    }
    // SASLprep is NFKC plus prohibitions; a password it would refuse is used as-is, as the server does.
    const salted = await saltedPassword(this.password.normalize('NFKC'), unb64(salt, 'salt'), iter);
    const clientKey = await hmac(salted, encodeUtf8('Client Key'));
    const storedKey = await sha256(clientKey);
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = encodeUtf8(`${this.clientFirstBare},${serverFirst},${withoutProof}`);
    const signature = await hmac(storedKey, authMessage);
    const proof = clientKey.map((b, i) => b ^ signature[i]!);
    const serverKey = await hmac(salted, encodeUtf8('Server Key'));
    this.serverSignature = await hmac(serverKey, authMessage);
    return encodeUtf8(`${withoutProof},p=${b64(proof)}`);
  }

  /** Checks the server-final-message; a wrong signature means the server does not know the password. */
  finish(serverFinalBytes: Uint8Array): void {
    const a = attributes(utf8(serverFinalBytes));
    const e = a.get('e');
    if (e !== undefined) throw new AuthenticationError(`SCRAM authentication failed: ${e}`);
    const v = a.get('v');
    if (v === undefined || this.serverSignature === undefined) {
      throw new ProtocolError('protocol-violation', 'malformed SCRAM message (server signature expected)');
    }
    const got = unb64(v, 'server signature');
    const want = this.serverSignature;
    if (got.length !== want.length || got.some((b, i) => b !== want[i])) {
      throw new AuthenticationError('incorrect server signature');
    }
  }
}

/** A role's SCRAM secret as PostgreSQL stores it in pg_authid.rolpassword: `SCRAM-SHA-256$iter:salt$StoredKey:ServerKey`. */
export interface ScramSecret {
  iterations: number;
  salt: Uint8Array;
  storedKey: Uint8Array;
  serverKey: Uint8Array;
}

/** see parse_scram_secret (auth-scram.c) */
export function parseScramSecret(text: string): ScramSecret {
  const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(text);
  if (m === null) throw new WalError('invalid-argument', 'invalid SCRAM secret: expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>');
  const secret = { iterations: Number(m[1]), salt: unb64(m[2]!, 'salt'), storedKey: unb64(m[3]!, 'StoredKey'), serverKey: unb64(m[4]!, 'ServerKey') };
  if (secret.iterations < 1 || secret.storedKey.length !== 32 || secret.serverKey.length !== 32) {
    throw new WalError('invalid-argument', 'invalid SCRAM secret: iterations must be positive and both keys 32 bytes');
  }
  return secret;
}

/** see pg_be_scram_build_secret: the secret a server stores for `password` (16 random salt bytes unless given). */
export async function buildScramSecret(password: string, options: { salt?: Uint8Array; iterations?: number } = {}): Promise<string> {
  const salt = options.salt ?? webCrypto()!.getRandomValues(new Uint8Array(16));
  const iterations = options.iterations ?? 4096;
  const salted = await saltedPassword(password.normalize('NFKC'), salt, iterations);
  const storedKey = await sha256(await hmac(salted, encodeUtf8('Client Key')));
  const serverKey = await hmac(salted, encodeUtf8('Server Key'));
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}

/**
 * The server side of one SCRAM-SHA-256 exchange (for a walsender): SASLInitialResponse ─▶ `first()` ─▶
 * AuthenticationSASLContinue; SASLResponse ─▶ `final()` (checks the proof) ─▶ AuthenticationSASLFinal.
 * No channel binding: a client asking for it (`p=`) is refused.
 */
export class ScramServer {
  private serverFirst = '';
  private clientFirstBare = '';
  private gs2 = '';
  private nonce = '';

  constructor(
    private readonly secret: ScramSecret,
    private readonly serverNonce?: string,
  ) {}

  first(clientFirstBytes: Uint8Array): Uint8Array {
    const text = utf8(clientFirstBytes);
    // gs2-header: "n,," or "y,," (client could bind but thinks we cannot); "p=…" asks for binding.
    const m = /^([ny]),(?:a=[^,]*)?,(.*)$/.exec(text);
    if (m === null) throw new ProtocolError('protocol-violation', 'malformed SCRAM message (unexpected channel-binding flag or attributes)');
    this.gs2 = text.slice(0, text.length - m[2]!.length);
    this.clientFirstBare = m[2]!;
    const clientNonce = attributes(this.clientFirstBare).get('r');
    if (clientNonce === undefined || clientNonce === '') throw new ProtocolError('protocol-violation', 'malformed SCRAM message (client nonce expected)');
    let sn = this.serverNonce;
    if (sn === undefined) sn = b64(webCrypto()!.getRandomValues(new Uint8Array(18)));
    this.nonce = clientNonce + sn;
    this.serverFirst = `r=${this.nonce},s=${b64(this.secret.salt)},i=${this.secret.iterations}`;
    return encodeUtf8(this.serverFirst);
  }

  /** The server-final-message; an AuthenticationError when the proof is wrong (then send 28P01). */
  async final(clientFinalBytes: Uint8Array): Promise<Uint8Array> {
    const text = utf8(clientFinalBytes);
    const p = text.lastIndexOf(',p=');
    if (p < 0) throw new ProtocolError('protocol-violation', 'malformed SCRAM message (proof expected)');
    const withoutProof = text.slice(0, p);
    const a = attributes(withoutProof);
    if (a.get('c') !== b64(encodeUtf8(this.gs2))) throw new ProtocolError('protocol-violation', 'SCRAM channel binding check failed');
    if (a.get('r') !== this.nonce) throw new ProtocolError('protocol-violation', 'malformed SCRAM message (nonce mismatch)');
    const proof = unb64(text.slice(p + 3), 'proof');
    const authMessage = encodeUtf8(`${this.clientFirstBare},${this.serverFirst},${withoutProof}`);
    const signature = await hmac(this.secret.storedKey, authMessage);
    if (proof.length !== signature.length) throw new AuthenticationError('invalid SCRAM proof');
    const clientKey = proof.map((b, i) => b ^ signature[i]!);
    const stored = await sha256(clientKey);
    if (stored.some((b, i) => b !== this.secret.storedKey[i])) throw new AuthenticationError('invalid SCRAM proof');
    return encodeUtf8(`v=${b64(await hmac(this.secret.serverKey, authMessage))}`);
  }
}
