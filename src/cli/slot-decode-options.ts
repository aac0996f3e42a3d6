// What `pgwal decode` takes for its slot (confirms, failover handling, hold-back): its options, help lines and
// their parse. Apart from the slot commands (slot.ts), so that decode does not load them.
import fs from 'node:fs';
import path from 'node:path';
import { WalError } from '../errors.js';
import { parseLsn, segmentStart, type Lsn } from '../lsn.js';
import { pgClient } from '../node/pg-client.js';
import type { DurabilitySource, SlotDecodeOptions } from '../node/slot-decode.js';
import { DEFAULT_KEEP_RESTARTS } from '../slot/slot.js';
import type { OptionSpec, Parsed } from './getopt.js';
import type { DumpIo } from './dump.js';

/** The options `pgwal decode` takes for its slot. */
export const SLOT_DECODE_OPTIONS: OptionSpec[] = [
  { long: 'confirm-every', arg: 'required' },
  { long: 'rewind', arg: 'none' },
  { long: 'accept-orphans', arg: 'none' },
  { long: 'hold-back-standby', arg: 'required' },
  { long: 'hold-back-archive', arg: 'required' },
  { long: 'orphan-window', arg: 'required' },
  { long: 'failover-standby', arg: 'required' },
];

export const SLOT_DECODE_HELP = `  --confirm-every N   confirm after every N commits written to stdout (implies --advance): a killed
                      decode restarts after the last confirmed commit, repeating at most what followed it
  --rewind            after a failover, move a slot that consumed transactions the new timeline never had
                      back to the switch point, for a consumer that undoes them (default: refuse, listing
                      them: xids and commit LSNs, read from the old timeline's WAL when present); it restarts
                      at a kept restart point at or before the switch point when there is one (--orphan-window)
  --accept-orphans    after a failover, go on from the switch point, keeping those as consumed (listed on stderr)
  --orphans FILE      when the slot consumed orphaned transactions: write their changes to FILE first (as
                      pgwal slot orphans prints them; its report on stderr), then refuse, rewind or accept
  --orphan-window SIZE  keep the slot's earlier restart points (and their catalog pages) back to SIZE of WAL
                      before confirmed_flush (default 64MB; 0: none), so that after a failover whose switch
                      point lies within it every orphaned transaction's changes can be decoded again
  --failover-standby URL  instead of a window: keep restart points back to the newest one whose confirmed_flush
                      that standby has flushed (asked as decoding goes; output is not held back); with
                      --hold-back-*, the hold-back source is used the same way
  --hold-back-standby URL   print a commit only once that server has flushed it (pg_last_wal_receive_lsn)
  --hold-back-archive DIR   print a commit only once its segment is complete in that archive
`;

/** A size of WAL: a number with an optional unit (B, kB, MB, GB; default bytes). */
function parseWalSize(text: string): number {
  const m = /^\s*(\d+)\s*(B|kB|MB|GB)?\s*$/.exec(text);
  if (m === null) return bad(`invalid size "${text}": expected a number with a unit B, kB, MB or GB`);
  return Number(m[1]) * { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[(m[2] ?? 'B') as 'B'];
}

const bad = (m: string): never => {
  throw new WalError('invalid-argument', m);
};

/** The standby's flushed position over a connection (pg_last_wal_receive_lsn, or the flush LSN when not in recovery). */
export function standbyFlushSource(dsn: string): DurabilitySource {
  return {
    describe: () => `the standby at ${dsn.replace(/:[^:@/]*@/, ':***@')}`,
    async covered(): Promise<Lsn> {
      const c = await pgClient({ connectionString: dsn });
      await c.connect();
      try {
        const r = await c.query(`select coalesce(pg_last_wal_receive_lsn(), case when pg_is_in_recovery() then null else pg_current_wal_flush_lsn() end)::text as l`);
        return r.rows[0].l === null ? 0 : parseLsn(r.rows[0].l);
      } finally {
        await c.end().catch(() => undefined);
      }
    },
  };
}

/** The end of the last complete segment in an archive folder (any timeline; `.partial` files do not count). */
export function archiveSource(dir: string, segmentSize: number): DurabilitySource {
  return {
    describe: () => `the archive ${dir}`,
    async covered(): Promise<Lsn> {
      let best = -1;
      for (const name of fs.readdirSync(dir)) {
        const m = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/.exec(name);
        if (m === null) continue;
        const segsPerId = 0x1_0000_0000 / segmentSize;
        best = Math.max(best, parseInt(m[2]!, 16) * segsPerId + parseInt(m[3]!, 16));
      }
      return best < 0 ? 0 : segmentStart(best + 1, segmentSize);
    },
  };
}

/** `pgwal decode`'s slot options, parsed. */
export function slotDecodeArgs(options: Parsed['options'], io: DumpIo, segmentSize = 16 * 1024 * 1024): SlotDecodeOptions {
  const get = (n: string): string | undefined => options.find((o) => o.name === n)?.value;
  const every = get('confirm-every');
  const confirmEvery = every === undefined ? 0 : Number(every);
  if (!Number.isInteger(confirmEvery) || confirmEvery < 0) bad(`--confirm-every "${every}" is not a count`);
  const standby = get('hold-back-standby');
  const archive = get('hold-back-archive');
  if (standby !== undefined && archive !== undefined) bad('give one of --hold-back-standby and --hold-back-archive');
  const window = get('orphan-window');
  const candidate = get('failover-standby');
  return {
    confirmEvery,
    advance: options.some((o) => o.name === 'advance'),
    rewind: options.some((o) => o.name === 'rewind'),
    acceptOrphans: options.some((o) => o.name === 'accept-orphans'),
    holdBack: standby !== undefined ? standbyFlushSource(standby) : archive !== undefined ? archiveSource(path.resolve(io.cwd, archive), segmentSize) : undefined,
    ...(window !== undefined ? { keepRestarts: { ...DEFAULT_KEEP_RESTARTS, window: parseWalSize(window) } } : {}),
    ...(candidate !== undefined ? { failoverCandidate: standbyFlushSource(candidate) } : {}),
  };
}
