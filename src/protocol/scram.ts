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
