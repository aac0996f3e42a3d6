// WAL file names: segments, partial segments, timeline history and backup history files.
import { InvalidArgumentError } from './errors.js';
import { assertWalSegmentSize } from './lsn.js';

const TWO_32 = 0x1_0000_0000;

/** How an archive may have compressed a file: the suffix after the name proper. */
export type WalFileCompression = 'gz' | 'lz4' | 'zst' | undefined;

export type WalFileKind = 'segment' | 'partial' | 'history' | 'backup';

export interface ParsedWalFileName {
  kind: WalFileKind;
  /** Timeline ID. */
  tli: number;
  /** For segments, partial segments and backup files: the high and low parts of the segment number. */
  log: number;
  seg: number;
  /** For backup history files: the backup's start offset within the segment. */
  backupOffset: number;
  compression: WalFileCompression;
}

const hex8 = (n: number): string => n.toString(16).toUpperCase().padStart(8, '0');

function checkTli(tli: number): void {
  if (!Number.isInteger(tli) || tli < 1 || tli > 0xffff_ffff) {
    throw new InvalidArgumentError(`invalid timeline ID ${tli}: expected 1 .. 4294967295`);
  }
}

/** segsPerXlogId: how many segments one "log" number spans. */
export function segmentsPerXlogId(segSize: number): number {
  return TWO_32 / segSize;
}

/** XLogFileName: e.g. (1, 6, 1 MB) → `000000010000000000000006`. */
export function walFileName(tli: number, segno: number, segSize: number): string {
  checkTli(tli);
  assertWalSegmentSize(segSize);
  if (!Number.isSafeInteger(segno) || segno < 0) {
    throw new InvalidArgumentError(`invalid segment number ${segno}`);
  }
  const per = segmentsPerXlogId(segSize);
  return hex8(tli) + hex8(Math.floor(segno / per)) + hex8(segno % per);
}

/** TLHistoryFileName: `00000002.history`. */
export function historyFileName(tli: number): string {
  checkTli(tli);
  return `${hex8(tli)}.history`;
}

/** BackupHistoryFileName: `<segment>.<offset>.backup`. */
export function backupHistoryFileName(tli: number, segno: number, offset: number, segSize: number): string {
  return `${walFileName(tli, segno, segSize)}.${hex8(offset)}.backup`;
}

// PostgreSQL accepts only upper-case hex in WAL file names (IsXLogFileName and friends).
const NAME = /^([0-9A-F]{8})(?:([0-9A-F]{8})([0-9A-F]{8})(?:\.([0-9A-F]{8})\.backup)?)?(\.history)?(\.partial)?(\.(?:gz|lz4|zst))?(\.partial)?$/;

/**
 * Parses any WAL-directory or archive file name. Throws a typed error naming the input when the name is
 * not one PostgreSQL (or an archiver compressing its files) would produce.
 */
export function parseWalFileName(name: string): ParsedWalFileName {
  const m = NAME.exec(name);
  const bad = (): never => {
    throw new InvalidArgumentError(
      `"${name}" is not a WAL file name: expected 24 upper-case hex digits (segment), optionally followed by .partial, ` +
        `or 8 hex digits + .history, or a segment name + .XXXXXXXX.backup`,
      { file: name },
    );
  };
  if (m === null) return bad();
  const [, tliHex, logHex, segHex, backupHex, history, partialBefore, compressed, partialAfter] = m;
  const tli = parseInt(tliHex!, 16);
  const compression = compressed === undefined ? undefined : (compressed.slice(1) as WalFileCompression);
  const partial = partialBefore !== undefined || partialAfter !== undefined;
  if (partialBefore !== undefined && partialAfter !== undefined) return bad();
  let kind: WalFileKind;
  if (history !== undefined) {
    // `TTTTTTTT.history` only; no segment part, not partial.
    if (logHex !== undefined || partial) return bad();
    kind = 'history';
  } else if (logHex === undefined) {
    return bad();
  } else if (backupHex !== undefined) {
    if (partial) return bad();
    kind = 'backup';
  } else {
    kind = partial ? 'partial' : 'segment';
  }
  if (tli === 0) return bad();
  return {
    kind,
    tli,
    log: logHex === undefined ? 0 : parseInt(logHex, 16),
    seg: segHex === undefined ? 0 : parseInt(segHex, 16),
    backupOffset: backupHex === undefined ? 0 : parseInt(backupHex, 16),
    compression,
  };
}

/** XLogFromFileName: the segment number of a parsed segment name, checked against the segment size. */
export function segmentNumberOf(parsed: ParsedWalFileName, segSize: number, name = ''): number {
  assertWalSegmentSize(segSize);
  const per = segmentsPerXlogId(segSize);
  if (parsed.seg >= per) {
    throw new InvalidArgumentError(
      `"${name}" is not a WAL file name for ${segSize}-byte segments: its last 8 digits must be below ${hex8(per)}`,
      { file: name },
    );
  }
  return parsed.log * per + parsed.seg;
}

/** Parses a segment (or partial segment) name into (tli, segno). */
export function parseSegmentFileName(name: string, segSize: number): { tli: number; segno: number; partial: boolean; compression: WalFileCompression } {
  const p = parseWalFileName(name);
  if (p.kind !== 'segment' && p.kind !== 'partial') {
    throw new InvalidArgumentError(`"${name}" is a ${p.kind} file, not a WAL segment`, { file: name });
  }
  return { tli: p.tli, segno: segmentNumberOf(p, segSize, name), partial: p.kind === 'partial', compression: p.compression };
}
