import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { projectRoot } from '../src/config.ts';
import { migrations } from '../src/db/migrations/index.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

/** `npm run db:migrate`, as an operator runs it before starting a new release. */

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());

interface Run {
  code: number;
  output: string;
}

function migrate(): Promise<Run> {
  const { DATABASE_URL: _ignored, ...inherited } = process.env;
  return new Promise((resolve) => {
    execFile(
      'npm',
      ['run', '--silent', 'db:migrate'],
      {
        cwd: projectRoot,
        timeout: 60_000,
        env: {
          ...inherited,
          NODE_ENV: 'production',
          DATABASE_URL: database.url,
          BETTER_AUTH_SECRET: randomBytes(32).toString('base64'),
          BETTER_AUTH_URL: 'https://api.example.com',
        },
      },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, output: `${stdout}${stderr}` }),
    );
  });
}

async function inDatabase<T>(query: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query(query)).rows as T[];
  } finally {
    await client.end();
  }
}

const tables = async () =>
  (await inDatabase<{ table_name: string }>("select table_name from information_schema.tables where table_schema = 'public' order by 1")).map(
    (r) => r.table_name,
  );

describe('npm run db:migrate', () => {
  it('creates the tables of Better Auth and of the tasks in a fresh database, and exits 0', async () => {
    expect(await tables()).toEqual([]);
    const run = await migrate();
    expect(run).toEqual({ code: 0, output: expect.stringContaining('migrations applied: Migration20261121000000_create_task') });
    expect(await tables()).toEqual(expect.arrayContaining(['account', 'jwks', 'session', 'task', 'user', 'verification']));
    // The task table is usable as the server uses it: owned by a user, cascading on delete.
    const [fk] = await inDatabase<{ delete_rule: string }>(
      "select delete_rule from information_schema.referential_constraints rc join information_schema.table_constraints tc using (constraint_name) where tc.table_name = 'task'",
    );
    expect(fk?.delete_rule).toBe('CASCADE');
  });

  it('is idempotent: a second run changes nothing and exits 0', async () => {
    const before = await tables();
    const executed = await inDatabase<{ name: string }>('select name from mikro_orm_migrations order by id');
    const keys = await inDatabase<{ id: string }>('select id from jwks order by id');
    const run = await migrate();
    expect(run.code).toBe(0);
    expect(await tables()).toEqual(before);
    expect(await inDatabase<{ name: string }>('select name from mikro_orm_migrations order by id')).toEqual(executed);
    expect(executed).toEqual(migrations.map(({ name }) => ({ name })));
    // The signing key made by the first run is kept, not replaced by a second one.
    expect(await inDatabase<{ id: string }>('select id from jwks order by id')).toEqual(keys);
    expect(keys).toHaveLength(1);
  });
});
