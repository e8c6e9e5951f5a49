import path from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
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

export function createPool(url: string, max: number, logger: Logger): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 30_000 });
  // An idle client whose server connection drops emits 'error' on the pool; unhandled, it would
  // crash the process. The pool has already discarded the client: log and carry on.
  pool.on('error', (err) => logger.warn({ err }, 'PostgreSQL connection lost'));
  return pool;
}

// Any constant works; it only has to be the same for every instance of this server.
const MIGRATION_LOCK = 7_160_412_026;

/**
 * `before` first (Better Auth's tables, when it runs here: the task table then references "user"),
 * then MikroORM's migrations; under an advisory lock so that instances starting together migrate
 * one after the other.
 */
export async function migrate(pool: pg.Pool, orm: MikroORM, before?: () => Promise<void>): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    if (before) await before();
    await orm.migrator.up();
  } finally {
    await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    client.release();
  }
}
