// A row value that cannot be printed, as a typed error naming the table, column, type and the change's LSN: what
// an output plugin throws instead of a guessed value.
import { WalError, WalFormatError } from '../errors.js';
import { formatLsn } from '../lsn.js';
import type { RowChange } from './plugin.js';
import type { RawValue } from './tuple.js';
import { outputValue, type TypeInfo, type TypeLookup } from './values.js';

/**
 * A value that cannot be printed, as a typed error naming the table, column, type and the change's LSN. Only
 * on that failure are the columns printed once more, one by one, to find which one it was.
 */
export function rowValueError(e: unknown, ch: RowChange, types: TypeLookup): unknown {
  // A malformed tuple is named by its own error; its values cannot be looked at again.
  if (!(e instanceof WalError) || e.code === 'invalid-tuple') return e;
  const where = `${ch.relation.namespace}.${ch.relation.name}`;
  const failing = (v: RawValue, type: TypeInfo | undefined): boolean => {
    if (type === undefined) return true;
    if (v.kind !== 'bytes') return false;
    try {
      outputValue(v.bytes, type, types);
      return false;
    } catch {
      return true;
    }
  };
  for (const tuple of [ch.newTuple, ch.oldTuple]) {
    for (let i = 0; tuple !== undefined && i < ch.relation.attributes.length; i++) {
      const c = ch.relation.attributes[i]!;
      const v = tuple[i];
      const type = types(c.typeOid);
      if (c.dropped || v === undefined || !failing(v, type)) continue;
      const typeName = type === undefined ? `${c.typeOid}` : `${type.name} (oid ${c.typeOid})`;
      return new WalFormatError(e.code, `cannot print column ${c.name} of type ${typeName} of table ${where} in the change at ${formatLsn(ch.lsn)}: ${e.message}`, { lsn: ch.lsn, cause: e });
    }
  }
  return new WalFormatError(e.code, `cannot print a row of table ${where} in the change at ${formatLsn(ch.lsn)}: ${e.message}`, { lsn: ch.lsn, cause: e });
}
