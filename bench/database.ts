import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';

export interface BenchDatabase {
  /** URL of a fresh, empty database that only this run uses. */
  url: string;
  /** True when it lives on an embedded PostgreSQL started for this run (no DATABASE_URL). */
  embedded: boolean;
}

/**
 * A database of its own for a benchmark run: on DATABASE_URL's server when set, else on an embedded
 * PostgreSQL in a temporary folder. What it creates is undone by the functions it pushes on
 * `cleanups`, which the caller runs in reverse order at the end.
 */
export async function benchDatabase(cleanups: Array<() => unknown>, prefix = 'taskgraph_bench'): Promise<BenchDatabase> {
  let adminUrl = process.env['DATABASE_URL'];
  const embedded = !adminUrl;
  if (!adminUrl) {
    const dir = mkdtempSync(path.join(tmpdir(), 'taskgraph-bench-pg-'));
    chmodSync(dir, 0o755); // PostgreSQL runs as user postgres when this runs as root
    const cluster = await startEmbeddedPostgres({ dataDir: path.join(dir, 'data'), database: 'postgres', logger: pino({ level: 'silent' }) });
    cleanups.push(async () => {
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    adminUrl = cluster.adminUrl;
  }
  const admin = adminUrl;
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const asAdmin = async (sql: string) => {
    const client = new pg.Client({ connectionString: admin });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await asAdmin(`create database ${name}`);
  cleanups.push(() => asAdmin(`drop database if exists ${name} with (force)`));
  return { url: Object.assign(new URL(admin), { pathname: `/${name}` }).toString(), embedded };
}
