/**
 * `npm run db:migrate`: applies Better Auth's and this project's migrations to the configured
 * database (DATABASE_URL_UNPOOLED, else DATABASE_URL, else the embedded cluster) and exits. The server also does this at start.
 * `npm run db:migration:create -- name` writes a new, blank MikroORM migration into
 * src/db/migrations. Migrations are written by hand in SQL: the indexes, foreign key and checks
 * they create are tuned to the queries and are not described by the entity, so a generated
 * schema diff would try to drop them.
 */
import { prepareAuth } from './auth/auth.ts';
import { createIdentity } from './identity.ts';
import { ConfigError, loadConfig } from './config.ts';
import { ConnectionMode } from './db/connection.ts';
import { createPool, migrate, openDatabase } from './db/database.ts';
import { EmbeddedPostgresError } from './db/embedded.ts';
import { createOrm } from './db/orm.ts';
import { PoolShare } from './db/pool-share.ts';
import { createLogger } from './logger.ts';
import { TaskSchema } from './tasks/task.entity.ts';

async function main(): Promise<void> {
  const config = loadConfig((message) => console.warn(`warning: ${message}`));
  const logger = createLogger({ ...config, nodeEnv: 'production' });
  const database = await openDatabase(config, logger);
  // Migrations need a session: the direct connection when DATABASE_URL is a transaction pooler.
  const url = config.databaseUrlUnpooled ?? database.url;
  const mode = new ConnectionMode({
    preparedStatements: config.db.preparedStatements,
    variable: config.databaseUrlUnpooled ? 'DATABASE_URL_UNPOOLED' : 'DATABASE_URL',
    logger,
  });
  const pool = createPool(url, 2, config.db, mode, logger);
  const orm = await createOrm(url, [TaskSchema], 2, config.db, mode);
  try {
    await mode.detect(url, config.db);
    const share = new PoolShare({ perUser: config.db.maxPerUser, maxWaitMs: config.db.acquireTimeoutMs });
    const { auth } = await createIdentity(config, pool, orm.em.fork().getKysely(), share, logger);
    await migrate(url, orm, auth ? () => prepareAuth(auth) : undefined);
    if (process.argv[2] === '--create') {
      const result = await orm.migrator.create(undefined, true, false, process.argv[3]);
      console.log(`created src/db/migrations/${result.fileName}: write its SQL, then add it to src/db/migrations/index.ts`);
    } else {
      const executed = await orm.migrator.getExecuted();
      console.log(`migrations applied: ${executed.map((m) => m.name).join(', ') || 'none'}`);
    }
  } finally {
    await orm.close();
    await pool.end();
    await database.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError || err instanceof EmbeddedPostgresError ? err.message : err);
  process.exitCode = 1;
});
