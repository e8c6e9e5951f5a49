import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Config } from '../config.ts';

/** The bounds on every wait of a database connection, from config.db. */
export type DatabaseBounds = Config['db'];

/** The client-side backstop on one query: past statement_timeout, for a server that never answers. */
export function queryTimeoutMs(bounds: DatabaseBounds): number {
  return bounds.statementTimeoutMs + 1_000;
}

/**
 * SQL texts that run as named prepared statements: PostgreSQL parses and plans each once per
 * connection instead of on every request. Repositories register the few fixed texts of their hot
 * queries; everything else (Better Auth, migrations) stays unnamed.
 */
const statementNames = new Map<string, string>();

export function prepareStatement(text: string): void {
  if (!statementNames.has(text)) statementNames.set(text, `s_${createHash('sha1').update(text).digest('base64url').slice(0, 20)}`);
}

/**
 * A pg Client that (1) runs registered texts as named prepared statements and (2) drops its
 * connection when a query outlives query_timeout. node-postgres only stops waiting on a read
 * timeout: the connection stays in the pool with the late answer still to come (a black-holed
 * server never sends it), so every later query on it would wait the timeout again or read the
 * wrong answer. Destroying the socket makes the pool discard the client on release.
 */
class BoundedClient extends pg.Client {
  override query(...args: unknown[]): never {
    const [text, values] = args;
    if (typeof text === 'string' && Array.isArray(values) && args.length === 2) {
      const name = statementNames.get(text);
      if (name) args = [{ name, text, values }];
    }
    const result = (super.query as (...a: unknown[]) => unknown)(...args);
    if (typeof (result as Promise<unknown> | undefined)?.then === 'function') {
      (result as Promise<unknown>).catch((err: unknown) => {
        if (String((err as { message?: unknown } | undefined)?.message).startsWith('Query read timeout')) {
          (this as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
        }
      });
    }
    return result as never;
  }
}

/**
 * Told of every query a pool's connections send (tracing's PostgreSQL spans). `start` is called
 * as the query is sent and returns what to call when it ends, or undefined to leave it alone.
 */
export interface QueryObserver {
  start(text: string, target: pg.Client): ((err?: unknown) => void) | undefined;
}

/** What app.ts hooks into a pool: an observer of its queries, and the pool once it exists (metrics). */
export interface PoolHooks {
  queries?: QueryObserver | undefined;
  onPool?: ((pool: pg.Pool) => void) | undefined;
}

/** BoundedClient that reports each query to `observer`; used only when there is one (tracing on). */
function observedClient(observer: QueryObserver): typeof pg.Client {
  return class ObservedClient extends BoundedClient {
    override query(...args: unknown[]): never {
      const [first] = args;
      const text = typeof first === 'string' ? first : (first as { text?: unknown } | null | undefined)?.text;
      const done = typeof text === 'string' ? observer.start(text, this) : undefined;
      if (!done) return super.query(...args);
      const last = args.length - 1;
      const callback = args[last];
      if (typeof callback === 'function') {
        args[last] = (err: unknown, res: unknown) => {
          done(err ?? undefined);
          (callback as (e: unknown, r: unknown) => void)(err, res);
        };
        return super.query(...args);
      }
      const result: unknown = super.query(...args);
      if (typeof (result as Promise<unknown> | undefined)?.then === 'function') {
        (result as Promise<unknown>).then(
          () => done(),
          (err: unknown) => done(err),
        );
      }
      return result as never;
    }
  };
}

/**
 * node-postgres pool options with every wait bounded: connecting and waiting for a free
 * connection (`connectionTimeoutMillis`), each statement (`statement_timeout`, and `lock_timeout`
 * for row locks, both set at connection start), a transaction left open (`idle_in_transaction_
 * session_timeout`), and the client-side `query_timeout` as a backstop for a server that never answers.
 */
export function poolOptions(url: string, max: number, bounds: DatabaseBounds, queries?: QueryObserver): pg.PoolConfig {
  return {
    connectionString: url,
    max,
    // pg-pool uses one timer for both waits: acquiring a pooled connection, and opening a new one.
    connectionTimeoutMillis: Math.max(bounds.acquireTimeoutMs, bounds.connectTimeoutMs),
    idleTimeoutMillis: 30_000,
    statement_timeout: bounds.statementTimeoutMs,
    lock_timeout: bounds.statementTimeoutMs,
    idle_in_transaction_session_timeout: Math.max(10_000, 2 * bounds.statementTimeoutMs),
    query_timeout: queryTimeoutMs(bounds),
    keepAlive: true,
    Client: queries ? observedClient(queries) : BoundedClient,
  };
}

/**
 * Whether the database answers `select 1` within `timeoutMs`, on a connection of its own (not
 * from a pool: a pool busy with slow queries must not make the answer wrong).
 */
async function probeDatabase(url: string, timeoutMs: number): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs, statement_timeout: timeoutMs });
  // A connection reset while connecting or querying is reported here too; the promise says it.
  client.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const attempt = (async () => {
    await client.connect();
    await client.query('select 1');
    return true;
  })().catch(() => false);
  try {
    return await Promise.race([attempt, deadline]);
  } finally {
    clearTimeout(timer);
    // end() waits for the server's goodbye, which a black-holed connection never sends.
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    void client.end().catch(() => {});
  }
}

/** Bound on one probe: /readyz must answer within 5 s, auth failures within 10 s. */
export const PROBE_TIMEOUT_MS = 2_000;
/** A "down" answer is reused this long. */
const DOWN_CACHE_MS = 1_000;

/**
 * `probeDatabase` for /readyz, which anyone can call: concurrent callers join the probe in flight,
 * and a "down" answer is reused for a second, so that a flood of checks during an outage does not
 * pile up connection attempts. An "up" answer is not reused: readiness must see an outage at once.
 */
export function databaseProbe(url: string): () => Promise<boolean> {
  let inFlight: Promise<boolean> | undefined;
  let downAt = 0;
  return () => {
    if (Date.now() - downAt < DOWN_CACHE_MS) return Promise.resolve(false);
    return (inFlight ??= probeDatabase(url, PROBE_TIMEOUT_MS).then((up) => {
      inFlight = undefined;
      if (!up) downAt = Date.now();
      return up;
    }));
  };
}

/**
 * Whether `pool` answers `select 1` within PROBE_TIMEOUT_MS: a cheap check (a pooled connection,
 * no new backend) for paths that run often, such as every refused sign-in.
 */
export function poolProbe(pool: pg.Pool): () => Promise<boolean> {
  return async () => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS);
    });
    try {
      return await Promise.race([
        pool.query('select 1').then(
          () => true,
          () => false,
        ),
        deadline,
      ]);
    } finally {
      clearTimeout(timer);
    }
  };
}
