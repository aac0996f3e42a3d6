// The typed errors of the wire codec: a message that breaks the protocol, or one longer than allowed.
import { WalError, type WalErrorContext } from '../errors.js';

/**
 * Bytes on a connection that are not a valid protocol message: a length below 4 or above the limit, a
 * field running past its message, an unknown message type, a string without its terminator.
 */
export class ProtocolError extends WalError {
  constructor(code: 'protocol-violation' | 'message-too-long' | 'unexpected-message', message: string, context: WalErrorContext = {}) {
    super(code, message, context);
  }
}
