// libpq connection strings, both forms: `key=value …` (quoted values, backslash escapes) and
// `postgresql://user:pw@host:port,host2/db?key=value` URIs. see conninfo_parse / conninfo_uri_parse (fe-connect.c)
import { InvalidArgumentError } from '../errors.js';

/** The keywords libpq 18 knows; another is refused as libpq refuses it. */
const KEYWORDS = new Set([
  'host', 'hostaddr', 'port', 'dbname', 'user', 'password', 'passfile', 'channel_binding', 'connect_timeout',
  'client_encoding', 'options', 'application_name', 'fallback_application_name', 'keepalives', 'keepalives_idle',
  'keepalives_interval', 'keepalives_count', 'tcp_user_timeout', 'replication', 'gssencmode', 'sslmode',
  'sslnegotiation', 'sslcompression', 'sslcert', 'sslkey', 'sslpassword', 'sslcertmode', 'sslrootcert', 'sslcrl',
  'sslcrldir', 'sslsni', 'requirepeer', 'require_auth', 'ssl_min_protocol_version', 'ssl_max_protocol_version',
  'min_protocol_version', 'max_protocol_version', 'krbsrvname', 'gsslib', 'gssdelegation', 'service',
  'target_session_attrs', 'load_balance_hosts', 'scram_client_key', 'scram_server_key', 'oauth_issuer',
  'oauth_client_id', 'oauth_client_secret', 'oauth_scope',
]);

/** Keywords and values as written (later ones win), nothing defaulted. */
export type ConnectionParameters = Record<string, string>;

function invalid(text: string, why: string): InvalidArgumentError {
  return new InvalidArgumentError(`invalid connection string "${redact(text)}": ${why}`);
}

/** The string with any password replaced, for error messages. */
function redact(text: string): string {
  return text.replace(/(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, '$1***').replace(/(:\/\/[^:/@]*:)[^@/]*@/, '$1***@');
}

function keyword(text: string, key: string): string {
  if (!KEYWORDS.has(key)) throw invalid(text, `invalid connection option "${key}"`);
  return key;
}

/** Parses either form; a string without "=" and not a URI is a database name, as libpq takes it. */
export function parseConnectionString(text: string): ConnectionParameters {
  if (/^postgres(ql)?:\/\//.test(text)) return parseUri(text);
  if (!text.includes('=')) return { dbname: text };
  return parseKeywordValue(text);
}

function parseKeywordValue(text: string): ConnectionParameters {
  const out: ConnectionParameters = {};
  let i = 0;
  const n = text.length;
  const space = (ch: string | undefined): boolean => ch !== undefined && /\s/.test(ch);
  for (;;) {
    while (space(text[i])) i++;
    if (i >= n) return out;
    const ks = i;
    while (i < n && text[i] !== '=' && !space(text[i])) i++;
    const key = text.slice(ks, i);
    while (space(text[i])) i++;
    if (text[i] !== '=') throw invalid(text, `missing "=" after "${key}"`);
    i++;
    while (space(text[i])) i++;
    let value = '';
    if (text[i] === "'") {
      i++;
      for (;;) {
        if (i >= n) throw invalid(text, 'unterminated quoted string');
        const ch = text[i]!;
        if (ch === '\\' && i + 1 < n) {
          value += text[i + 1];
          i += 2;
        } else if (ch === "'") {
          i++;
          break;
        } else {
          value += ch;
          i++;
        }
      }
    } else {
      while (i < n && !space(text[i])) {
        if (text[i] === '\\' && i + 1 < n) {
          value += text[i + 1];
          i += 2;
        } else value += text[i++];
      }
    }
    out[keyword(text, key)] = value;
  }
}

function decode(text: string, part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw invalid(text, `invalid percent-encoded token: "${part}"`);
  }
}

function parseUri(text: string): ConnectionParameters {
  const out: ConnectionParameters = {};
  let rest = text.replace(/^postgres(ql)?:\/\//, '');
  const q = rest.indexOf('?');
  const query = q < 0 ? '' : rest.slice(q + 1);
  if (q >= 0) rest = rest.slice(0, q);
  const slash = rest.indexOf('/');
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  if (slash >= 0 && slash + 1 < rest.length) out.dbname = decode(text, rest.slice(slash + 1));
  const at = authority.lastIndexOf('@');
  const hostspec = at < 0 ? authority : authority.slice(at + 1);
  if (at >= 0) {
    const userspec = authority.slice(0, at);
    const colon = userspec.indexOf(':');
    const user = colon < 0 ? userspec : userspec.slice(0, colon);
    if (user !== '') out.user = decode(text, user);
    if (colon >= 0) out.password = decode(text, userspec.slice(colon + 1));
  }
  if (hostspec !== '') {
    const hosts: string[] = [];
    const ports: string[] = [];
    for (const h of hostspec.split(',')) {
      let host = h;
      let port = '';
      if (h.startsWith('[')) {
        const end = h.indexOf(']');
        if (end < 0) throw invalid(text, `missing "]" in IPv6 host address "${h}"`);
        host = h.slice(1, end);
        if (h.length > end + 1) {
          if (h[end + 1] !== ':') throw invalid(text, `unexpected character "${h[end + 1]}" after IPv6 host address`);
          port = h.slice(end + 2);
        }
      } else {
        const colon = h.indexOf(':');
        if (colon >= 0) {
          host = h.slice(0, colon);
          port = h.slice(colon + 1);
        }
      }
      hosts.push(decode(text, host));
      ports.push(decode(text, port));
    }
    if (hosts.some((h) => h !== '')) out.host = hosts.join(',');
    if (ports.some((p) => p !== '')) out.port = ports.join(',');
  }
  if (query !== '') {
    for (const pair of query.split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      if (eq < 0) throw invalid(text, `missing key/value separator "=" in URI query parameter: "${pair}"`);
      let key = decode(text, pair.slice(0, eq));
      let value = decode(text, pair.slice(eq + 1));
      // libpq's JDBC-compatible spelling.
      if (key === 'ssl' && value === 'true') {
        key = 'sslmode';
        value = 'require';
      }
      out[keyword(text, key)] = value;
    }
  }
  return out;
}

/** One server to try: a unix socket folder (host starts with "/") or a TCP host. */
export interface ServerAddress {
  host: string;
  port: number;
  /** True when `host` names a folder holding the socket `.s.PGSQL.<port>`. */
  unixSocket: boolean;
}

/** The host list with its ports (one port for all, or one per host), as libpq pairs them. */
export function serverAddresses(params: ConnectionParameters, defaults: { host: string; port: number }): ServerAddress[] {
  const hosts = (params.host ?? params.hostaddr ?? defaults.host).split(',');
  const portText = (params.port ?? String(defaults.port)).split(',');
  if (portText.length !== 1 && portText.length !== hosts.length) {
    throw new InvalidArgumentError(`could not match ${portText.length} port numbers to ${hosts.length} hosts`);
  }
  return hosts.map((h, i) => {
    const p = portText.length === 1 ? portText[0]! : portText[i]!;
    const port = p === '' ? defaults.port : Number(p);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError(`invalid port number: "${p}"`);
    const host = h === '' ? defaults.host : h;
    return { host, port, unixSocket: host.startsWith('/') || host.startsWith('@') };
  });
}
