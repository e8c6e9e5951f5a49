import type pg from 'pg';
import { until } from './poll.ts';

/**
 * Resolves once a statement of another session of `client`'s database waits on a lock: a request
 * of the server is held where the test wants it (behind a row lock the test holds on `client`).
 */
export async function waitsOnLock(client: pg.Client, what = 'a statement of the server to wait on the lock'): Promise<void> {
  await until(what, async () => {
    // Inside a transaction pg_stat_activity is a snapshot taken at its first read: take a new one each time.
    await client.query('select pg_stat_clear_snapshot()');
    const { rows } = await client.query(
      "select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()",
    );
    return rows.length > 0;
  });
}
