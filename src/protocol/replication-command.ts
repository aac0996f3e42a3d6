// The walsender's command grammar (repl_gram.y, repl_scanner.l): which Query text is a replication command,
// and the parse of those pgwal serves. Anything whose first word is not a replication keyword is SQL.
import { ProtocolError } from './errors.js';
import { parseLsn, type Lsn } from '../lsn.js';

/** The first words replication_scanner_is_replication_command (repl_scanner.l) takes as a replication command. */
export const REPLICATION_KEYWORDS = [
  'IDENTIFY_SYSTEM',
  'BASE_BACKUP',
  'START_REPLICATION',
  'CREATE_REPLICATION_SLOT',
  'DROP_REPLICATION_SLOT',
  'ALTER_REPLICATION_SLOT',
  'TIMELINE_HISTORY',
  'SHOW',
  'READ_REPLICATION_SLOT',
  'UPLOAD_MANIFEST',
] as const;

export type ReplicationKeyword = (typeof REPLICATION_KEYWORDS)[number];

export type ReplicationCommand =
  | { kind: 'IDENTIFY_SYSTEM' }
  | { kind: 'START_REPLICATION'; slot: string | undefined; logical: boolean; lsn: Lsn; timeline: number | undefined; options: [string, string | null][] }
  | { kind: 'TIMELINE_HISTORY'; timeline: number }
  | { kind: 'SHOW'; name: string }
  /** A replication command pgwal recognizes and does not serve (CREATE_REPLICATION_SLOT, BASE_BACKUP, …). */
  | { kind: 'other'; keyword: ReplicationKeyword }
  /** Not a replication command: SQL, which a walsender of a database connection hands to the executor. */
  | { kind: 'sql'; sql: string };

type Token = { t: 'word'; v: string } | { t: 'ident'; v: string } | { t: 'string'; v: string } | { t: 'lsn'; v: string } | { t: 'num'; v: string } | { t: 'punct'; v: string };

/** see repl_scanner.l: identifiers fold to lower case unless quoted, '' and "" double their quote. */
function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const syntax = (): never => {
    throw new ProtocolError('protocol-violation', `syntax error at or near "${text.slice(i, i + 20)}"`);
  };
  while (i < text.length) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === '(' || ch === ')' || ch === ',' || ch === ';') {
      out.push({ t: 'punct', v: ch });
      i++;
      continue;
    }
    if (ch === "'" || ch === '"') {
      let v = '';
      let j = i + 1;
      for (;;) {
        if (j >= text.length) {
          throw new ProtocolError('protocol-violation', ch === "'" ? 'unterminated quoted string' : 'unterminated quoted identifier');
        }
        if (text[j] === ch) {
          if (text[j + 1] === ch) {
            v += ch;
            j += 2;
            continue;
          }
          break;
        }
        v += text[j++];
      }
      if (ch === '"' && v === '') throw new ProtocolError('protocol-violation', 'zero-length delimited identifier');
      out.push({ t: ch === "'" ? 'string' : 'ident', v });
      i = j + 1;
      continue;
    }
    const lsn = /^[0-9A-Fa-f]+\/[0-9A-Fa-f]+/.exec(text.slice(i));
    if (lsn !== null) {
      out.push({ t: 'lsn', v: lsn[0] });
      i += lsn[0].length;
      continue;
    }
    const num = /^[0-9]+/.exec(text.slice(i));
    if (num !== null) {
      out.push({ t: 'num', v: num[0] });
      i += num[0].length;
      continue;
    }
    const word = /^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$.\u0080-\uffff]*/.exec(text.slice(i));
    if (word !== null) {
      out.push({ t: 'word', v: word[0] });
      i += word[0].length;
      continue;
    }
    syntax();
  }
  return out;
}

/** What the walsender does with one Query message's text. */
export function parseReplicationCommand(text: string): ReplicationCommand {
  const first = /^\s*([A-Za-z_]+)/.exec(text)?.[1]?.toUpperCase();
  const keyword = REPLICATION_KEYWORDS.find((k) => k === first);
  if (keyword === undefined) return { kind: 'sql', sql: text };
  const tokens = tokenize(text);
  // opt_semicolon
  if (tokens.at(-1)?.t === 'punct' && tokens.at(-1)!.v === ';') tokens.pop();
  let p = 1;
  const peek = (): Token | undefined => tokens[p];
  const syntax = (): never => {
    const t = peek();
    throw new ProtocolError('protocol-violation', t === undefined ? 'syntax error at end of input' : `syntax error at or near "${t.v}"`);
  };
  const isWord = (t: Token | undefined, w: string): boolean => t?.t === 'word' && t.v.toUpperCase() === w;
  const ident = (): string => {
    const t = peek();
    if (t?.t === 'ident') {
      p++;
      return t.v;
    }
    if (t?.t === 'word') {
      p++;
      return t.v.toLowerCase();
    }
    return syntax();
  };
  const done = <T>(v: T): T => {
    if (p !== tokens.length) syntax();
    return v;
  };
  switch (keyword) {
    case 'IDENTIFY_SYSTEM':
      return done({ kind: 'IDENTIFY_SYSTEM' });
    case 'SHOW': {
      // var_name: identifiers joined by dots (folded as a word is)
      const t = peek();
      if (t?.t !== 'word' && t?.t !== 'ident') return syntax();
      p++;
      return done({ kind: 'SHOW', name: t.t === 'word' ? t.v.toLowerCase() : t.v });
    }
    case 'TIMELINE_HISTORY': {
      const t = peek();
      if (t?.t !== 'num') return syntax();
      p++;
      const timeline = Number(t.v);
      if (timeline <= 0 || timeline > 0xffffffff) throw new ProtocolError('protocol-violation', `invalid timeline ${t.v}`);
      return done({ kind: 'TIMELINE_HISTORY', timeline });
    }
    case 'START_REPLICATION': {
      let slot: string | undefined;
      if (isWord(peek(), 'SLOT')) {
        p++;
        slot = ident();
      }
      let logical = false;
      if (isWord(peek(), 'LOGICAL')) {
        p++;
        logical = true;
      } else if (isWord(peek(), 'PHYSICAL')) p++;
      const l = peek();
      if (l?.t !== 'lsn') return syntax();
      p++;
      const lsn = parseLsn(l.v);
      let timeline: number | undefined;
      const options: [string, string | null][] = [];
      if (!logical && isWord(peek(), 'TIMELINE')) {
        p++;
        const t = peek();
        if (t?.t !== 'num') return syntax();
        p++;
        timeline = Number(t.v);
      }
      if (logical && peek()?.t === 'punct' && peek()!.v === '(') {
        p++;
        for (;;) {
          const name = ident();
          let value: string | null = null;
          const v = peek();
          if (v !== undefined && (v.t === 'string' || v.t === 'num' || v.t === 'word' || v.t === 'ident')) {
            value = v.t === 'word' ? v.v : v.v;
            p++;
          }
          options.push([name, value]);
          const sep = peek();
          if (sep?.t === 'punct' && sep.v === ',') {
            p++;
            continue;
          }
          if (sep?.t === 'punct' && sep.v === ')') {
            p++;
            break;
          }
          return syntax();
        }
      }
      if (logical && slot === undefined) return syntax();
      return done({ kind: 'START_REPLICATION', slot, logical, lsn, timeline, options });
    }
    case 'BASE_BACKUP':
    case 'CREATE_REPLICATION_SLOT':
    case 'DROP_REPLICATION_SLOT':
    case 'ALTER_REPLICATION_SLOT':
    case 'READ_REPLICATION_SLOT':
    case 'UPLOAD_MANIFEST':
      return { kind: 'other', keyword };
    default: {
      const never: never = keyword;
      return never;
    }
  }
}

/** see parse_bool (bool.c): a boolean option's value (true/false/yes/no/on/off/1/0, unique prefixes), or undefined. */
export function parseBool(text: string): boolean | undefined {
  const v = text.trim().toLowerCase();
  if (v.length === 0) return undefined;
  if (v === '1') return true;
  if (v === '0') return false;
  for (const [word, value] of [['true', true], ['false', false], ['yes', true], ['no', false]] as const) if (word.startsWith(v)) return value;
  // "o" alone is ambiguous (on / off).
  if (v.length >= 2 && 'on'.startsWith(v)) return true;
  if (v.length >= 2 && 'off'.startsWith(v)) return false;
  return undefined;
}
