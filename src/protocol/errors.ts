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

/** The server's ErrorResponse, kept whole: `sqlState` (C), `severity` (V or S), the message (M), detail, hint. */
export class ServerError extends WalError {
  readonly sqlState: string;
  readonly severity: string;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  readonly fields: Readonly<Record<string, string>>;

  constructor(fields: Record<string, string>, context: WalErrorContext = {}) {
    const sqlState = fields.C ?? 'XX000';
    // Class 28 is invalid authorization: a wrong password, an unknown role, a pg_hba.conf refusal.
    super(sqlState.startsWith('28') ? 'authentication-failed' : 'server-error', fields.M ?? 'the server sent an error without a message', context);
    this.sqlState = sqlState;
    this.severity = fields.V ?? fields.S ?? 'ERROR';
    this.detail = fields.D;
    this.hint = fields.H;
    this.fields = fields;
  }
}

/** No connection, or it broke: refused, unreachable, timed out, closed by the server. */
export class ConnectionError extends WalError {
  constructor(message: string, context: WalErrorContext = {}) {
    super('connection-failed', message, context);
  }
}
