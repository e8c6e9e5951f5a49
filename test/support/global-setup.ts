import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded.ts';

declare global {
  var __embeddedPostgres: { db: EmbeddedDatabase; dir: string } | undefined;
}

/**
 * Tests need a PostgreSQL server where they may create and drop databases: DATABASE_URL's when
 * set (its database is used only to issue CREATE/DROP DATABASE), else a throwaway embedded cluster.
 * Workers inherit TEST_ADMIN_DATABASE_URL from this process's environment.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env['DATABASE_URL']) {
    process.env['TEST_ADMIN_DATABASE_URL'] = process.env['DATABASE_URL'];
    return;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'taskgraph-test-pg-'));
  // PostgreSQL runs as the `postgres` user when tests run as root: it must reach the folder.
  chmodSync(dir, 0o755);
  const db = await startEmbeddedPostgres({
    dataDir: path.join(dir, 'data'),
    database: 'postgres',
    logger: pino({ level: 'silent' }),
  });
  globalThis.__embeddedPostgres = { db, dir };
  process.env['TEST_ADMIN_DATABASE_URL'] = db.adminUrl;
}
