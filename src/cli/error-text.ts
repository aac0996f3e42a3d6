// An error as the one line a command prints: a server's message with its SQLSTATE, as psql's default VERBOSITY
// prints both (decode, receive and serve alike).
import { ServerError } from '../protocol/errors.js';

export function errorText(e: unknown): string {
  if (e instanceof ServerError) return `${e.message} (SQLSTATE ${e.sqlState})`;
  return e instanceof Error ? e.message : String(e);
}
