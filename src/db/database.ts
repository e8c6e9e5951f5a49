import path from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { poolOptions, type ConnectionMode, type DatabaseBounds, type PoolHooks } from './connection.ts';
import { startEmbeddedPostgres } from './embedded.ts';

export interface Database {
  url: string;
  /** True when this process started the PostgreSQL server (embedded mode). */
  embedded: boolean;
  stop(): Promise<void>;
}

/** DATABASE_URL when configured, else the embedded cluster in `<DATA_DIR>/postgres`. */
export async function openDatabase(config: Config, logger: Logger): Promise<Database> {
  if (config.databaseUrl) return { url: config.databaseUrl, embedded: false, stop: async () => {} };
  const db = await startEmbeddedPostgres({
    dataDir: path.join(config.dataDir, 'postgres'),
    database: 'taskgraph',
    port: config.embeddedPostgresPort,
    logger,
  });
  return { url: db.url, embedded: true, stop: () => db.stop() };
}

/**
 * A small pool of its own for Better Auth (embedded mode), bounded like the ORM's. Better Auth
 * cannot share the ORM's pg Pool: MikroORM installs type parsers on it that keep timestamps as
 * strings, where Better Auth expects Dates. Separate pools also keep a burst of slow task queries
 * from starving sign-in.
 */
export function createPool(url: string, max: number, bounds: DatabaseBounds, mode: ConnectionMode, logger: Logger, hooks: PoolHooks = {}): pg.Pool {
  const pool = new pg.Pool(poolOptions(url, max, bounds, mode, hooks.queries));
  hooks.onPool?.(pool);
  // An idle client whose server connection drops emits 'error' on the pool; unhandled, it would
  // crash the process. The pool has already discarded the client: log and carry on.
  pool.on('error', (err) => logger.warn({ err }, 'PostgreSQL connection lost'));
  // A checked-out client's own 'error' (connection reset mid-query) has no listener in pg-pool:
  // the query in flight rejects anyway, so only keep the event from crashing the process.
  pool.on('connect', (client) => client.on('error', (err) => logger.warn({ err }, 'PostgreSQL connection lost')));
  return pool;
}

// Any constant works; it only has to be the same for every instance of this server.
const MIGRATION_LOCK = 7_160_412_026;

/**
 * Runs `work` (Better Auth's tables, then MikroORM's migrations) under an advisory lock, so that
 * instances starting together migrate one after the other. The lock is transaction-scoped, held by
 * an open transaction on a connection of its own: through a transaction pooler a session lock
 * would stay with whichever server connection took it, and never be released. That connection has
 * no statement timeout: waiting for another instance's migrations may take longer, and a pool of
 * one connection would otherwise deadlock (the lock holding the only connection the migrator
 * needs). The migrations themselves run on a pool, under DB_STATEMENT_TIMEOUT_MS and lock_timeout.
 */
export async function withMigrationLock(url: string, work: () => Promise<void>): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {}); // a drop shows as the failure of the query in flight
  await client.connect();
  try {
    await client.query('begin');
    await client.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await work();
    await client.query('commit');
  } finally {
    await client.end().catch(() => {});
  }
}

/** `before` first (Better Auth's tables, when it runs here: the task table references "user"), then MikroORM's migrations, under the migration lock. */
export async function migrate(url: string, orm: MikroORM, before?: () => Promise<void>): Promise<void> {
  await withMigrationLock(url, async () => {
    if (before) await before();
    await orm.migrator.up();
  });
}
