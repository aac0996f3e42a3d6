// The typed errors every layer throws: one base class carrying a code, and the LSN / file it concerns.
import { formatLsn, type Lsn } from './lsn.js';

export interface WalErrorContext {
  /** The WAL position the error concerns, when there is one. */
  lsn?: Lsn;
  /** The file (segment, history file, slot file) the error concerns, when there is one. */
  file?: string;
  cause?: unknown;
}

/**
 * The names of an error's classes, WalError's subclasses up to WalError, under a key shared by every copy of
 * pgwal in a process: the ES module and CommonJS builds are two copies of each class (the dual-package
 * hazard), and `instanceof` answers by these names when the classes differ.
 */
const CLASS_NAMES = Symbol.for('pgwal.WalError.classes');

/** Base class of all errors pgwal throws on purpose. `code` is stable; the message is worded like PostgreSQL's. */
export class WalError extends Error {
  /** `instanceof` also holds for an error of the same class from the other build (ESM / CommonJS) of pgwal. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    if (typeof value !== 'object' || value === null) return false;
    const names = (value as { [CLASS_NAMES]?: unknown })[CLASS_NAMES];
    return Array.isArray(names) && names.includes(this.name);
  }

  readonly code: string;
  readonly lsn: Lsn | undefined;
  readonly file: string | undefined;

  constructor(code: string, message: string, context: WalErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = new.target.name;
    const names: string[] = [];
    for (let c: unknown = new.target; typeof c === 'function' && c !== Error; c = Object.getPrototypeOf(c)) names.push((c as { name: string }).name);
    Object.defineProperty(this, CLASS_NAMES, { value: names });
    this.code = code;
    this.lsn = context.lsn;
    this.file = context.file;
  }

  /** The LSN as PostgreSQL prints it, or undefined. */
  get lsnText(): string | undefined {
    return this.lsn === undefined ? undefined : formatLsn(this.lsn);
  }
}

/** A value handed to pgwal (an LSN string, a file name, an option) is not of the expected shape. */
export class InvalidArgumentError extends WalError {
  constructor(message: string, context: WalErrorContext = {}) {
    super('invalid-argument', message, context);
  }
}

/**
 * WAL that is not what it claims to be, where PostgreSQL would not simply stop: a file from another system,
 * another segment size, an unsupported version, an image that does not decompress.
 */
export class WalFormatError extends WalError {}

/** A source could not deliver WAL: a failing restore_command, an unreadable file. */
export class WalSourceError extends WalError {}

/**
 * Reading stopped short of where it had to get: a slot's restart_lsn or confirmed_flush, a requested end, or at
 * damage with WAL after it. The server raises an error in each case; a normal end of the WAL is not this.
 */
export class WalEndedEarlyError extends WalError {
  constructor(message: string, context: WalErrorContext = {}) {
    super('wal-ended-early', message, context);
  }
}
