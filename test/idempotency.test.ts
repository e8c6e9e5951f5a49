import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { print } from 'graphql';
import pg from 'pg';
import { pino } from 'pino';
import { createApp, type App } from '../src/app.ts';
import { freePort } from '../src/db/embedded.ts';
import { CreateTaskDocument, TasksDocument } from './generated/graphql.ts';
import { expectData } from './support/graphql.ts';
import { waitsOnLock } from './support/locks.ts';
import { until } from './support/poll.ts';
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

/**
 * Holds a lock on the task table that lets reads (and idempotency keys) through but not inserts:
 * createTask waits until `release()`.
 */
async function holdTaskInserts(server: TestServer) {
  const client = new pg.Client({ connectionString: server.database.url });
  await client.connect();
  await client.query('begin');
  await client.query('lock table task in exclusive mode');
  return {
    /** Resolves once a statement of the server waits on this lock. */
    waitedOn: () => waitsOnLock(client),
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
    const lock = await holdTaskInserts(server);
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

/** Rows of the user's keys in the store, with whether each holds a response. */
async function storedKeys(server: TestServer, userId: string): Promise<Array<{ key: string; kept: boolean }>> {
  const client = new pg.Client({ connectionString: server.database.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ key: string; kept: boolean }>(
      'select key, body is not null as kept from idempotency_key where user_id = $1 order by created_at',
      [userId],
    );
    return rows;
  } finally {
    await client.end();
  }
}

describe('what is stored, and for whom', () => {
  it('stores nothing for a request that never ran (a variable that does not coerce): the key stays free', async () => {
    const user = await signUp(server.url);
    const key = randomUUID();
    // An enum value of a million characters: its error echoes it (2 MB), and nothing ran.
    const bad = await post(server.url, key, user.token, { query: CREATE, variables: { input: { title: 'x', priority: 'Z'.repeat(1_000_000) } } });
    expect(bad.status).toBe(400);
    expect(bad.json.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    expect(await storedKeys(server, user.id)).toEqual([]);
    // Not kept, so the same key with the corrected request runs.
    const good = await post(server.url, key, user.token, create('corrected'));
    expect(good.status).toBe(200);
    expect(good.headers.get('idempotency-replayed')).toBeNull();
    expect(await taskCount(server, user)).toBe(1);
  });

  it('refuses a body nested too deeply to hash with 400 BAD_USER_INPUT, not a 500', async () => {
    const user = await signUp(server.url);
    const deep = `{"query":${JSON.stringify(CREATE)},"variables":{"input":{"title":"deep"}},"extensions":{"x":${'['.repeat(400_000)}${']'.repeat(400_000)}}}`;
    const res = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}`, 'idempotency-key': randomUUID() },
      body: deep,
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as Reply['json'];
    expect(body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    expect(await taskCount(server, user)).toBe(0);
  });

  it("deletes a deleted user's keys and responses with the user: a replay returns nothing of the task", async () => {
    const user = await signUp(server.url);
    const key = randomUUID();
    const first = await post(server.url, key, user.token, create('a secret title'));
    expect(first.status).toBe(200);
    expect(await storedKeys(server, user.id)).toEqual([{ key, kept: true }]);

    const res = await fetch(`${server.url}/api/auth/delete-user`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: new URL(server.url).origin, cookie: user.cookie },
      body: JSON.stringify({ password: user.password }),
    });
    expect(res.status).toBe(200);
    const replay = await post(server.url, key, user.token, create('a secret title'));
    expect(replay.status).toBe(401);
    expect(replay.text).not.toContain('a secret title');
    expect(await storedKeys(server, user.id)).toEqual([]);
  });
});

describe('expired keys', () => {
  it('are deleted in batches until none is left (not 1,000 a minute), at the first claim of an instance', async () => {
    const fresh = await startServer();
    try {
      const [active, gone] = [await signUp(fresh.url), await signUp(fresh.url)];
      const client = new pg.Client({ connectionString: fresh.database.url });
      await client.connect();
      try {
        // 5,000 keys of a user who stopped using them a day ago.
        await client.query(
          `insert into idempotency_key (user_id, key, request_hash, locked_until, created_at, expires_at)
           select $1, 'old-' || i, repeat('0', 64), now(), now() - interval '2 days', now() - interval '1 day'
           from generate_series(1, 5000) as i`,
          [gone.id],
        );
        expect((await post(fresh.url, randomUUID(), active.token, create('a day later'))).status).toBe(200);
        await until('the expired keys to go', async () => {
          const { rows } = await client.query<{ n: number }>('select count(*)::int as n from idempotency_key where expires_at < now()');
          return rows[0]!.n === 0;
        });
      } finally {
        await client.end();
      }
    } finally {
      await fresh.stop();
    }
  });
});

describe('bounds on the store, and the rate limit first', () => {
  let bounded: TestServer;
  beforeAll(async () => {
    bounded = await startServer({ RATE_LIMIT_PER_MINUTE: '8', IDEMPOTENCY_MAX_RESPONSE_BYTES: '1024', IDEMPOTENCY_MAX_KEYS_PER_USER: '3' });
  });
  afterAll(() => bounded.stop());

  it('does not keep a response over IDEMPOTENCY_MAX_RESPONSE_BYTES: a retry is refused (409), and does not run again', async () => {
    const user = await signUp(bounded.url);
    const key = randomUUID();
    const body = { query: CREATE, variables: { input: { title: 'long', description: 'd'.repeat(2_000) } } };
    const first = await post(bounded.url, key, user.token, body);
    expect(first.status).toBe(200);
    const retry = await post(bounded.url, key, user.token, body);
    expect(retry.status).toBe(409);
    expect(retry.json.errors?.[0]?.extensions).toEqual({
      code: 'IDEMPOTENCY_RESPONSE_NOT_KEPT',
      limit: 1024,
      setting: 'IDEMPOTENCY_MAX_RESPONSE_BYTES',
    });
    expect(await taskCount(bounded, user)).toBe(1);
  });

  it('holds IDEMPOTENCY_MAX_KEYS_PER_USER keys per user: a new key past it is QUOTA_EXCEEDED and runs nothing; a held key still replays', async () => {
    const user = await signUp(bounded.url);
    const keys = [randomUUID(), randomUUID(), randomUUID()];
    for (const [i, key] of keys.entries()) expect((await post(bounded.url, key, user.token, create(`t${i}`))).status).toBe(200);
    const over = await post(bounded.url, randomUUID(), user.token, create('one too many'));
    expect(over.status).toBe(403);
    expect(over.json.errors?.[0]?.extensions).toEqual({ code: 'QUOTA_EXCEEDED', limit: 3, setting: 'IDEMPOTENCY_MAX_KEYS_PER_USER' });
    expect((await post(bounded.url, keys[0], user.token, create('t0'))).headers.get('idempotency-replayed')).toBe('true');
    expect(await taskCount(bounded, user)).toBe(3);
    // Another user's quota is their own.
    const other = await signUp(bounded.url);
    expect((await post(bounded.url, randomUUID(), other.token, create('mine'))).status).toBe(200);
  });

  it('applies the rate limit first: replays and new keys of a user over it get 429 and run nothing', async () => {
    const user = await signUp(bounded.url);
    const key = randomUUID();
    const first = await post(bounded.url, key, user.token, create('once'));
    expect(first.status).toBe(200);
    // 8 a minute: the first request and 7 replays, then refusals.
    for (let i = 0; i < 7; i++) expect((await post(bounded.url, key, user.token, create('once'))).headers.get('idempotency-replayed')).toBe('true');
    const replay = await post(bounded.url, key, user.token, create('once'));
    expect(replay.status).toBe(429);
    expect(replay.headers.get('idempotency-replayed')).toBeNull();
    expect(replay.json.errors?.[0]?.extensions?.['code']).toBe('RATE_LIMITED');
    expect(Number(replay.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const fresh = await post(bounded.url, randomUUID(), user.token, create('over the limit'));
    expect(fresh.status).toBe(429);
    expect(await storedKeys(bounded, user.id)).toEqual([{ key, kept: true }]);
  });
});
