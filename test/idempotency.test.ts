import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { print } from 'graphql';
import pg from 'pg';
import { pino } from 'pino';
import { createApp, type App } from '../src/app.ts';
import { freePort } from '../src/db/embedded.ts';
import { CreateTaskDocument, TasksDocument } from './generated/graphql.ts';
import { expectData } from './support/graphql.ts';
import { startServer, waitReady, type TestServer } from './support/server.ts';
import { signUp, type TestUser } from './support/users.ts';

const CREATE = print(CreateTaskDocument);

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
}

/** POST /graphql as a client that retries would: with an Idempotency-Key header. */
async function post(url: string, key: string | undefined, token: string, body: unknown): Promise<Reply> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...(key === undefined ? {} : { 'idempotency-key': key }) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: JSON.parse(text) as Reply['json'] };
}

const create = (title: string) => ({ query: CREATE, variables: { input: { title } } });

async function taskCount(server: TestServer, user: TestUser): Promise<number> {
  return (await expectData(server.graphqlUrl, TasksDocument, {}, user.token)).tasks.totalCount;
}

/** Polls `check` every 50 ms until it returns true; fails after `ms`. */
async function until(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Holds a lock on the user's row: creating a task checks its foreign key to "user" with a
 * KEY SHARE lock, so createTask waits until `release()`.
 */
async function holdUser(server: TestServer, user: TestUser) {
  const client = new pg.Client({ connectionString: server.database.url });
  await client.connect();
  await client.query('begin');
  await client.query('select 1 from "user" where id = $1 for update', [user.id]);
  return {
    /** Resolves once a statement of the server waits on this lock. */
    waitedOn: () =>
      until('a statement waits on the lock', 10_000, async () => {
        await client.query('select pg_stat_clear_snapshot()');
        const { rows } = await client.query(
          "select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()",
        );
        return rows.length > 0;
      }),
    release: async () => {
      await client.query('rollback');
      await client.end();
    },
  };
}

let server: TestServer;
beforeAll(async () => {
  // Long enough for a createTask held on a lock for the wait bound (5 s) and more.
  server = await startServer({ DB_STATEMENT_TIMEOUT_MS: '60000' });
});
afterAll(() => server.stop());

describe('Idempotency-Key on mutations', () => {
  it('runs a retried createTask once and replays the first response', async () => {
    const user = await signUp(server.url);
    const key = randomUUID();
    const first = await post(server.url, key, user.token, create('buy milk'));
    expect(first.status).toBe(200);
    expect(first.json.errors).toBeUndefined();
    expect(first.headers.get('idempotency-replayed')).toBeNull();

    const retry = await post(server.url, key, user.token, create('buy milk'));
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotency-replayed')).toBe('true');
    expect(retry.headers.get('content-type')).toBe(first.headers.get('content-type'));
    expect(retry.text).toBe(first.text);
    expect(await taskCount(server, user)).toBe(1);

    // The same request in another key order is the same request.
    const reordered = await post(server.url, key, user.token, { variables: { input: { title: 'buy milk' } }, query: CREATE });
    expect(reordered.headers.get('idempotency-replayed')).toBe('true');
    expect(await taskCount(server, user)).toBe(1);
  });

  it('refuses the same key with another body (422) and changes nothing', async () => {
    const user = await signUp(server.url);
    const key = randomUUID();
    expect((await post(server.url, key, user.token, create('first'))).status).toBe(200);
    const other = await post(server.url, key, user.token, create('second'));
    expect(other.status).toBe(422);
    expect(other.json.errors?.[0]?.extensions?.['code']).toBe('IDEMPOTENCY_KEY_REUSED');
    const { tasks } = await expectData(server.graphqlUrl, TasksDocument, {}, user.token);
    expect(tasks.nodes.map((t) => t.title)).toEqual(['first']);
  });

  it('keeps each user’s keys apart', async () => {
    const alice = await signUp(server.url);
    const bob = await signUp(server.url);
    const key = randomUUID();
    const a = await post(server.url, key, alice.token, create('same key'));
    const b = await post(server.url, key, bob.token, create('same key'));
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(b.headers.get('idempotency-replayed')).toBeNull();
    expect(b.text).not.toBe(a.text);
    expect([await taskCount(server, alice), await taskCount(server, bob)]).toEqual([1, 1]);
  });

  it('refuses an empty or too long key with 400 IDEMPOTENCY_KEY_INVALID and runs nothing', async () => {
    const user = await signUp(server.url);
    for (const key of ['', 'k'.repeat(256)]) {
      const res = await post(server.url, key, user.token, create('never'));
      expect({ key: key.length, status: res.status, code: res.json.errors?.[0]?.extensions?.['code'] }).toEqual({
        key: key.length,
        status: 400,
        code: 'IDEMPOTENCY_KEY_INVALID',
      });
    }
    expect((await post(server.url, 'k'.repeat(255), user.token, create('longest key'))).status).toBe(200);
    expect(await taskCount(server, user)).toBe(1);
  });

  it('just executes queries that carry a key (nothing to deduplicate)', async () => {
    const user = await signUp(server.url);
    const key = randomUUID();
    const query = { query: print(TasksDocument), variables: {} };
    const first = await post(server.url, key, user.token, query);
    const second = await post(server.url, key, user.token, query);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(second.headers.get('idempotency-replayed')).toBeNull();
    // And the key is still free for a mutation.
    expect((await post(server.url, key, user.token, create('after queries'))).headers.get('idempotency-replayed')).toBeNull();
  });

  it('releases the key when the first attempt failed on the server side, so the retry runs', async () => {
    const user = await signUp(server.url);
    const key = randomUUID();
    const admin = new pg.Client({ connectionString: server.database.url });
    await admin.connect();
    await admin.query('alter table task rename to task_away');
    let failed: Reply;
    try {
      failed = await post(server.url, key, user.token, create('after a failure'));
    } finally {
      await admin.query('alter table task_away rename to task');
      await admin.end();
    }
    expect(failed.json.errors?.[0]?.extensions?.['code']).toBe('INTERNAL_SERVER_ERROR');
    const retry = await post(server.url, key, user.token, create('after a failure'));
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotency-replayed')).toBeNull();
    expect(retry.json.errors).toBeUndefined();
    expect(await taskCount(server, user)).toBe(1);
  });

  it('does not run a duplicate that arrives while the first is still running', async () => {
    const user = await signUp(server.url);
    const key = randomUUID();
    const lock = await holdUser(server, user);
    let released = false;
    try {
      const first = post(server.url, key, user.token, create('held'));
      await lock.waitedOn();

      // Longer than the wait bound: 409 with Retry-After, and the first still holds the key.
      const impatient = await post(server.url, key, user.token, create('held'));
      expect(impatient.status).toBe(409);
      expect(impatient.json.errors?.[0]?.extensions?.['code']).toBe('IDEMPOTENCY_IN_PROGRESS');
      expect(Number(impatient.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

      const patient = post(server.url, key, user.token, create('held'));
      await lock.release();
      released = true;
      const [a, b] = await Promise.all([first, patient]);
      expect(a.status).toBe(200);
      expect(a.json.errors).toBeUndefined();
      expect(b.headers.get('idempotency-replayed')).toBe('true');
      expect(b.text).toBe(a.text);
      expect(await taskCount(server, user)).toBe(1);
    } finally {
      if (!released) await lock.release();
    }
  });
});

describe('two instances on one database', () => {
  let second: App;
  beforeAll(async () => {
    second = await createApp({ ...server.config, port: await freePort() }, { logger: pino({ level: 'silent' }) });
    await waitReady(second, 20_000);
  });
  afterAll(() => second.stop());

  it('replays on one instance what ran on the other, and runs simultaneous duplicates once', async () => {
    const user = await signUp(server.url);
    const key = randomUUID();
    const first = await post(server.url, key, user.token, create('on instance one'));
    const elsewhere = await post(second.url, key, user.token, create('on instance one'));
    expect(elsewhere.headers.get('idempotency-replayed')).toBe('true');
    expect(elsewhere.text).toBe(first.text);

    const both = randomUUID();
    const replies = await Promise.all([
      post(server.url, both, user.token, create('sent to both')),
      post(second.url, both, user.token, create('sent to both')),
    ]);
    expect(replies.map((r) => r.status)).toEqual([200, 200]);
    expect(replies[0].text).toBe(replies[1].text);
    expect(replies.filter((r) => r.headers.get('idempotency-replayed') === 'true')).toHaveLength(1);
    expect(await taskCount(server, user)).toBe(2);
  });
});
