// LogicalMessage rmgr (id 21): pg_logical_emit_message, transactional or not.
import { WalFormatError } from '../../errors.js';
import { formatLsn } from '../../lsn.js';
import type { DecodedRecord } from '../record.js';
import type { RmgrDescriptor } from './types.js';

export const XLOG_LOGICAL_MESSAGE = 0x00;

/** xl_logical_message; the prefix (without its NUL) and the payload stay in `rec.bytes`. */
export interface LogicalMessage {
  dbId: number;
  transactional: boolean;
  prefix: string;
  /** The message payload: `messageSize` bytes at `messageOffset` in `rec.bytes`. */
  messageOffset: number;
  messageSize: number;
}

const decoder = new TextDecoder();

// xl_logical_message: dbId, transactional (bool, padded), prefix_size and message_size (Size), then
// the prefix with its NUL, then the payload.
export function parseLogicalMessage(rec: DecodedRecord): LogicalMessage {
  const v = rec.view;
  const b = rec.mainDataOffset;
  const prefixSize = Number(v.getBigUint64(b + 8, true));
  const messageSize = Number(v.getBigUint64(b + 16, true));
  const prefixStart = b + 24;
  // The sizes come from the record: they must account for exactly its main data.
  if (rec.mainDataLength < 24 || prefixSize + messageSize !== rec.mainDataLength - 24) {
    throw new WalFormatError(
      'short-record',
      `logical message at ${formatLsn(rec.lsn)} declares ${prefixSize} + ${messageSize} bytes of prefix and payload, but its main data has ${Math.max(0, rec.mainDataLength - 24)}`,
      { lsn: rec.lsn },
    );
  }
  let nul = prefixStart;
  while (nul < prefixStart + prefixSize && rec.bytes[nul] !== 0) nul++;
  return {
    dbId: v.getUint32(b, true),
    transactional: v.getUint8(b + 4) !== 0,
    prefix: decoder.decode(rec.bytes.subarray(prefixStart, nul)),
    messageOffset: prefixStart + prefixSize,
    messageSize,
  };
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).toUpperCase().padStart(2, '0'));

export const logicalMsgRmgr: RmgrDescriptor = {
  id: 21,
  name: 'LogicalMessage',
  identify: (info) => ((info & 0xf0) === XLOG_LOGICAL_MESSAGE ? 'MESSAGE' : undefined),
  // see logicalmsg_desc (logicalmsgdesc.c)
  describe(rec) {
    if ((rec.info & 0xf0) !== XLOG_LOGICAL_MESSAGE) return '';
    const m = parseLogicalMessage(rec);
    const hex: string[] = new Array(m.messageSize);
    for (let i = 0; i < m.messageSize; i++) hex[i] = HEX[rec.bytes[m.messageOffset + i]];
    return `${m.transactional ? 'transactional' : 'non-transactional'}, prefix "${m.prefix}"; payload (${m.messageSize} bytes): ${hex.join(' ')}`;
  },
};
