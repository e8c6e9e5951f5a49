import { randomBytes } from 'node:crypto';
import pg from 'pg';

function adminUrl(): string {
  const url = process.env['TEST_ADMIN_DATABASE_URL'];
  if (!url) throw new Error('TEST_ADMIN_DATABASE_URL is not set: run the tests through `npm test`');
  return url;
}

async function asAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  /** Drops the database, closing whatever connections are still open on it. */
  drop(): Promise<void>;
}

/** A fresh, empty database on the test server; one per test file, so no file sees another's rows. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `taskgraph_test_${randomBytes(6).toString('hex')}`;
  await asAdmin((c) => c.query(`create database ${c.escapeIdentifier(name)}`));
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => asAdmin((c) => c.query(`drop database if exists ${c.escapeIdentifier(name)} with (force)`)).then(() => {}),
  };
}
