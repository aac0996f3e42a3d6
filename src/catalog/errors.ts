// The historic catalog's typed error: what it cannot know, named by relation and LSN.
import { WalError, type WalErrorContext } from '../errors.js';

/**
 * The catalog cannot answer exactly: a page it needs was never seen (no starting snapshot of it, no image),
 * a record does not fit the page it applies to, or a catalog row uses what is not supported (a multixact xmax).
 */
export class CatalogError extends WalError {
  constructor(code: string, message: string, context: WalErrorContext = {}) {
    super(code, message, context);
  }
}
