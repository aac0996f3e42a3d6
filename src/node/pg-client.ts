// `pg` loaded on first use: commands that never connect (`pgwal decode -p`, `pgwal slot show`) start without it.
import type pg from 'pg';

/** A new (unconnected) `pg` client. */
export async function pgClient(config: pg.ClientConfig): Promise<pg.Client> {
  const { default: mod } = await import('pg');
  return new mod.Client(config);
}
