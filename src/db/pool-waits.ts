import { performance } from 'node:perf_hooks';
import type pg from 'pg';

/**
 * How long the oldest request for a connection of some pools has waited: queued database work,
 * one of the measures of saturation the overload guard reads (src/http/overload.ts). node-postgres
 * counts its waiters (`waitingCount`) but keeps no time for them, and MikroORM creates the
 * application's pool itself (its instance reaches us through `onPoolCreated`), so `watch` wraps
 * that instance's `connect`: each call that has to wait for a connection is timed until it has one
 * or fails.
 */
export class PoolWaits {
  /** Outstanding `connect` calls, oldest first (a Set keeps insertion order). */
  readonly #waiting = new Set<{ since: number }>();

  watch(pool: pg.Pool): void {
    const connect = pool.connect.bind(pool) as (callback?: (...args: unknown[]) => void) => unknown;
    const waiting = this.#waiting;
    // pg-pool's own `query` passes a callback; Kysely (MikroORM, Better Auth) awaits the promise.
    const { max } = pool.options;
    pool.connect = ((callback?: (...args: unknown[]) => void) => {
      // Only a call that finds every connection taken waits in the pool's queue; one that opens a
      // new connection (a pool warming up) is not queued work, however slow the connecting.
      if (pool.totalCount < max || pool.idleCount > 0) return callback ? connect(callback) : connect();
      const entry = { since: performance.now() };
      waiting.add(entry);
      if (typeof callback === 'function') {
        return connect((...args: unknown[]) => {
          waiting.delete(entry);
          callback(...args);
        });
      }
      const connected = connect() as Promise<pg.PoolClient>;
      const done = () => waiting.delete(entry);
      connected.then(done, done);
      return connected;
    }) as typeof pool.connect;
  }

  /** Milliseconds the oldest outstanding request for a connection has waited; 0 when none waits. */
  oldestMs(now = performance.now()): number {
    for (const entry of this.#waiting) return now - entry.since;
    return 0;
  }
}
