// The typed errors of the slot: a state file that cannot be trusted, a slot the WAL invalidated, an import
// refused, transactions the new timeline never had.
import { WalError, type WalErrorContext } from '../errors.js';
import { formatLsn, type Lsn } from '../lsn.js';

/**
 * A slot state file that is not a complete, checksummed pgwal state: `slot-state-torn` (cut short: a write that
 * did not finish), `slot-state-corrupt` (checksum or content wrong), `slot-state-version` (a format this
 * pgwal does not read); or one that cannot be used: `slot-state-write` (a write failed: nothing moved),
 * `slot-active` (another process holds its lock), `slot-lock` (its lock file cannot be made or taken over).
 */
export class SlotStateError extends WalError {}

/** The slot's catalog_xmin is no longer safe: what it needs of the catalog may have been removed. */
export class SlotInvalidatedError extends WalError {
  constructor(
    readonly slotName: string,
    readonly reason: string,
    message: string,
    context: WalErrorContext & { catalogXmin?: number; horizon?: number; record?: string } = {},
  ) {
    super('slot-invalidated', message, context);
    this.catalogXmin = context.catalogXmin;
    this.horizon = context.horizon;
    this.record = context.record;
  }
  readonly catalogXmin: number | undefined;
  readonly horizon: number | undefined;
  /** The record that removed the rows: `Heap2/PRUNE at 0/1234 on 1663/5/1259`. */
  readonly record: string | undefined;
}

/**
 * An exported slot (or a server slot) that cannot be taken over here: `slot-import-system` (another
 * cluster), `timeline-diverged` (not on our history), `slot-import-unsafe` (catalog_xmin not safe),
 * `slot-import-future` (its LSN is past the WAL we have), `slot-import-invalid` (a bad blob).
 */
export class SlotImportError extends WalError {}

/** A transaction committed on the old timeline after the switch point, consumed by this slot. */
export interface OrphanedTransaction {
  xid: number;
  /** Where its commit record starts and ends (the end is what a consumer confirms). */
  commitLsn: Lsn;
  commitEndLsn: Lsn;
  /** Its committed subtransactions (from the commit record). */
  subxacts?: number[];
}

/**
 * The slot's confirmed_flush lies past the point where the followed history left its timeline: it consumed
 * transactions the new timeline does not have. Decoding refuses to go on until told to rewind or accept.
 */
export class OrphanedTransactionsError extends WalError {
  constructor(
    readonly slotName: string,
    readonly timeline: number,
    readonly switchPoint: Lsn,
    readonly confirmedFlush: Lsn,
    /** Undefined when the old timeline's WAL past the switch point could not be read. */
    readonly orphans: OrphanedTransaction[] | undefined,
  ) {
    const list =
      orphans === undefined
        ? 'the old timeline\'s WAL past the switch point is not available to list them'
        : orphans.length === 0
          ? 'no transaction committed there'
          : orphans.map((o) => `xid ${o.xid} committed at ${formatLsn(o.commitLsn)}`).join(', ');
    super(
      'orphaned-transactions',
      `slot "${slotName}" confirmed ${formatLsn(confirmedFlush)} on timeline ${timeline}, past its switch point ${formatLsn(switchPoint)}: ` +
        `${orphans?.length ?? 'unknown'} transaction(s) consumed that the new timeline never had (${list}); ` +
        'rewind the slot to the switch point (--rewind) or accept the loss (--accept-orphans); ' +
        'their changes: pgwal slot orphans, or decode --orphans FILE',
      { lsn: switchPoint },
    );
  }
}
