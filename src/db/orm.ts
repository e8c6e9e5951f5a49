import type { EntitySchema } from '@mikro-orm/core';
import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { poolOptions, type ConnectionMode, type DatabaseBounds, type PoolHooks } from './connection.ts';
import type { Logger } from '../logger.ts';
import { migrations } from './migrations/index.ts';

/** Tables Better Auth creates and owns; MikroORM's schema tools must leave them alone. */
export const betterAuthTables = ['user', 'session', 'account', 'verification', 'jwks'];

/**
 * The ORM over `databaseUrl`; the entities come from the domains (app.ts hands them in). Its pg
 * Pool is the one pool of the application's data: repositories reach it through `em.getKysely()`.
 */
export function ormOptions(
  databaseUrl: string,
  entities: EntitySchema[],
  poolSize: number,
  bounds: DatabaseBounds,
  mode: ConnectionMode,
  logger?: Logger,
  hooks: PoolHooks = {},
): Options {
  return {
    // MikroORM prints (deprecation notices, debug output) with console.log unless given a writer:
    // into the JSON log instead, one line each, without colour codes.
    ...(logger ? { logger: (message: string) => logger.info({ component: 'mikro-orm' }, message), colors: false } : {}),
    entities,
    clientUrl: databaseUrl,
    // MikroORM parses clientUrl into host/user/database and drops query parameters such as
    // `sslmode`; pg's own parsing of the same URL keeps TLS settings identical to Better Auth's pool.
    // These options go to the pg Pool MikroORM creates: every wait on it is bounded.
    driverOptions: { ...poolOptions(databaseUrl, poolSize, bounds, mode, hooks.queries), ...(hooks.onPool ? { onPoolCreated: hooks.onPool } : {}) },
    pool: { min: 0, max: poolSize },
    extensions: [Migrator],
    migrations: {
      migrationsList: migrations,
      pathTs: 'src/db/migrations',
      path: 'src/db/migrations',
      emit: 'ts',
      snapshot: false,
      snapshotOnMigrate: false,
      silent: true,
    },
    schemaGenerator: { skipTables: betterAuthTables },
    // Each request forks its own EntityManager; using the global one is a bug.
    allowGlobalContext: false,
    debug: false,
  };
}

export async function createOrm(
  databaseUrl: string,
  entities: EntitySchema[],
  poolSize: number,
  bounds: DatabaseBounds,
  mode: ConnectionMode,
  logger?: Logger,
  hooks?: PoolHooks,
): Promise<MikroORM> {
  return MikroORM.init(ormOptions(databaseUrl, entities, poolSize, bounds, mode, logger, hooks));
}
