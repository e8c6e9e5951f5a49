import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { CreateTaskDocument, TaskDocument, TasksDocument, UpdateTaskDocument } from './generated/graphql.ts';
import { codes, execute, expectData, type GraphQLResult } from './support/graphql.ts';
import { startServer, type TestServer } from './support/server.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';
import { fetchToken, signIn, signUp, type TestUser } from './support/users.ts';
import { until } from './support/poll.ts';

/**
 * The database goes away under the running server (a TCP proxy between them is cut, or goes
 * silent), or a row stays locked. Every answer comes within a bound, says SERVICE_UNAVAILABLE with
 * HTTP 503 and Retry-After while the database cannot serve, and everything works again soon after
 * it is back, however many outages there were.
 */

function postgresAddress(): { host: string; port: number } {
  const url = new URL(process.env['TEST_ADMIN_DATABASE_URL']!);
  return { host: url.hostname, port: Number(url.port || 5432) };
}

async function startBehindProxy(env: Record<string, string> = {}): Promise<{ server: TestServer; proxy: TcpProxy }> {
  const { host, port } = postgresAddress();
  const proxy = await startTcpProxy(host, port);
  const server = await startServer(env, { databaseUrl: (url) => proxy.urlFor(url) });
  return { server, proxy };
}

/** Waits until `fn` returns true (a failing call counts as false). */
const recovered = (what: string, fn: () => Promise<boolean>) => until(what, () => fn().catch(() => false));

/**
 * Runs `fn` and fails the test if it takes longer than `ms`: for the bounds the server promises on
 * every wait in an outage (the configured few seconds, with room to spare on a busy machine), which
 * is what these tests are about. Ordinary requests are never timed.
 */
async function timed<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await fn();
  expect(Date.now() - started).toBeLessThan(ms);
  return result;
}

function expectUnavailable(res: GraphQLResult<unknown>): void {
  expect({ status: res.status, errors: res.errors }).toEqual({
    status: 503,
    errors: [expect.objectContaining({ extensions: expect.objectContaining({ code: 'SERVICE_UNAVAILABLE' }) })],
  });
  expect(codes(res)).toEqual(['SERVICE_UNAVAILABLE']);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
}

async function expectAuthUnavailable(res: Response): Promise<void> {
  expect(res.status).toBe(503);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(await res.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
}

const authHeaders = (server: TestServer, extra: Record<string, string> = {}) => ({
  'content-type': 'application/json',
  origin: new URL(server.url).origin,
  ...extra,
});

describe('repeated outages (connections reset, new ones refused) with writes in flight', () => {
  let server: TestServer;
  let proxy: TcpProxy;
  let user: TestUser;
  let taskId: string;
  beforeAll(async () => {
    ({ server, proxy } = await startBehindProxy());
    user = await signUp(server.url);
    taskId = (await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: 'survives outages' } }, user.token)).createTask.id;
  });
  afterAll(async () => {
    await server.stop();
    await proxy.close();
  });

  it('answers 503 + Retry-After during each of 4 outages and serves reads and writes within 10 s after each', async () => {
    for (let outage = 1; outage <= 4; outage++) {
      // A burst of writes; the database goes away while they run.
      const burst = Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          i % 2
            ? execute(server.graphqlUrl, CreateTaskDocument, { input: { title: `in flight ${outage}.${i}` } }, user.token)
            : execute(server.graphqlUrl, UpdateTaskDocument, { id: taskId, input: { description: `outage ${outage}.${i}` } }, user.token),
        ),
      );
      await new Promise((r) => setImmediate(r));
      proxy.cut();
      // Whatever was in flight either succeeded or was told to retry: never a masked error.
      for (const res of await timed(10_000, () => burst)) {
        if (res.errors) expectUnavailable(res);
        else expect(res.status).toBe(200);
      }

      expectUnavailable(await timed(10_000, () => execute(server.graphqlUrl, TasksDocument, {}, user.token)));
      expectUnavailable(
        await timed(10_000, () => execute(server.graphqlUrl, CreateTaskDocument, { input: { title: 'during the outage' } }, user.token)),
      );
      await expectAuthUnavailable(
        await timed(10_000, () => fetch(`${server.url}/api/auth/token`, { headers: authHeaders(server, { cookie: user.cookie }) })),
      );
      await expectAuthUnavailable(
        await timed(10_000, () =>
          fetch(`${server.url}/api/auth/sign-in/email`, {
            method: 'POST',
            headers: authHeaders(server),
            body: JSON.stringify({ email: user.email, password: user.password }),
          }),
        ),
      );
      // /readyz reuses a probe's answer for a second: it turns within its bound.
      await recovered(`/readyz 503 in outage ${outage}`, async () => (await fetch(`${server.url}/readyz`)).status === 503);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

      proxy.restore();
      await recovered(`writes after outage ${outage}`, async () => {
        const res = await execute(server.graphqlUrl, UpdateTaskDocument, { id: taskId, input: { title: `after outage ${outage}` } }, user.token);
        return res.data?.updateTask.title === `after outage ${outage}`;
      });
      await recovered(`reads after outage ${outage}`, async () => {
        const res = await execute(server.graphqlUrl, TaskDocument, { id: taskId }, user.token);
        return res.data?.task?.title === `after outage ${outage}`;
      });
      await recovered(`/readyz 200 after outage ${outage}`, async () => (await fetch(`${server.url}/readyz`)).status === 200);
    }

    // No connection leaked on the way: more concurrent writes than the pool has connections all
    // succeed, and sign-in and tokens work.
    // (A leaked connection shows as writes refused for want of one, not as slowness.)
    const writes = await Promise.all(
      Array.from({ length: 40 }, (_, i) => execute(server.graphqlUrl, CreateTaskDocument, { input: { title: `after all ${i}` } }, user.token)),
    );
    expect(writes.filter((r) => r.errors)).toEqual([]);
    const cookie = await signIn(server.url, user.email, user.password);
    expect(await fetchToken(server.url, cookie)).toMatch(/^ey/);
  });
});

describe('a database that accepts connections but never answers', () => {
  let server: TestServer;
  let proxy: TcpProxy;
  let seen: TestUser;
  let unseen: TestUser;
  beforeAll(async () => {
    ({ server, proxy } = await startBehindProxy());
    [seen, unseen] = await Promise.all([signUp(server.url), signUp(server.url)]);
    await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: 'before the silence' } }, seen.token);
  });
  afterAll(async () => {
    await server.stop();
    await proxy.close();
  });

  it('gets 503 from /readyz within 5 s and /graphql within 10 s, and recovers when the connections are reset', async () => {
    proxy.blackhole();
    const [ready, known, fresh, signInRes] = await Promise.all([
      timed(5_000, () => fetch(`${server.url}/readyz`)),
      // A user already looked up (their record is cached): the query of tasks is what waits.
      timed(10_000, () => execute(server.graphqlUrl, TasksDocument, {}, seen.token)),
      // A token not seen before: the user lookup in the context is what waits.
      timed(10_000, () => execute(server.graphqlUrl, TasksDocument, {}, unseen.token)),
      timed(10_000, () =>
        fetch(`${server.url}/api/auth/sign-in/email`, {
          method: 'POST',
          headers: authHeaders(server),
          body: JSON.stringify({ email: seen.email, password: seen.password }),
        }),
      ),
    ]);
    expect(ready.status).toBe(503);
    expectUnavailable(known);
    expectUnavailable(fresh);
    await expectAuthUnavailable(signInRes);
    // Liveness does not depend on the database.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

    // The network path comes back and resets the connections it held: the server must not crash.
    proxy.restore();
    await recovered('reads and writes after the silence', async () => {
      const res = await execute(server.graphqlUrl, CreateTaskDocument, { input: { title: 'after the silence' } }, unseen.token);
      return res.data?.createTask.title === 'after the silence';
    });
    const { tasks } = await expectData(server.graphqlUrl, TasksDocument, {}, seen.token);
    expect(tasks.totalCount).toBe(1);
    await recovered('/readyz 200 after the silence', async () => (await fetch(`${server.url}/readyz`)).status === 200);
  });
});

describe('a row locked by another transaction', () => {
  let server: TestServer;
  let owner: TestUser;
  let other: TestUser;
  let locker: pg.Client | undefined;
  beforeAll(async () => {
    server = await startServer({ DB_STATEMENT_TIMEOUT_MS: '3000' });
    [owner, other] = await Promise.all([signUp(server.url), signUp(server.url)]);
  });
  afterEach(async () => {
    await locker?.query('rollback').catch(() => {});
    await locker?.end();
    locker = undefined;
  });
  afterAll(() => server.stop());

  it('makes updates of it answer after the lock timeout with SERVICE_UNAVAILABLE; other users and sign-in are unaffected', async () => {
    const task = (await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: 'locked' } }, owner.token)).createTask;
    locker = new pg.Client({ connectionString: server.database.url });
    await locker.connect();
    await locker.query('begin');
    await locker.query('select * from task where id = $1 for update', [task.id]);

    // Three of them (the owner's share of the pool, DB_POOL_MAX_PER_USER) wait on the lock at once;
    // the other two wait their turn, then the lock: each gives up within the acquire bound (3 s)
    // plus the lock timeout (3 s), and a margin.
    const updates = Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        timed(7_000, () => execute(server.graphqlUrl, UpdateTaskDocument, { id: task.id, input: { title: `waiting ${i}` } }, owner.token)),
      ),
    );
    // Meanwhile (the lock is held until the end), another user works as usual, and people can sign in.
    const created = await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: 'not locked' } }, other.token);
    const { tasks } = await expectData(server.graphqlUrl, TasksDocument, {}, other.token);
    expect(tasks.nodes.map((t) => t.id)).toEqual([created.createTask.id]);
    expect(await fetchToken(server.url, await signIn(server.url, other.email, other.password))).toMatch(/^ey/);

    for (const res of await updates) expectUnavailable(res);
    await locker.query('rollback');
    const { updateTask } = await expectData(server.graphqlUrl, UpdateTaskDocument, { id: task.id, input: { title: 'unlocked' } }, owner.token);
    expect(updateTask).toMatchObject({ title: 'unlocked', version: 2 });
  });
});
