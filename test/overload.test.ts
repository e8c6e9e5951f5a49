import { once } from 'node:events';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import WebSocket from 'ws';
import { LeanConnection, httpRequest, type LeanResponse } from '../bench/lean-client.ts';
import { freePort } from '../src/db/embedded.ts';
import { createOverloadGuard, MIN_CONCURRENCY } from '../src/http/overload.ts';
import { execute, expectData } from './support/graphql.ts';
import { eventually, until } from './support/poll.ts';
import { parseSamples, valueOf } from './support/prometheus.ts';
import { startServer, type TestServer } from './support/server.ts';
import { signIn, signUp, type TestUser } from './support/users.ts';

/**
 * Issue 21 item 4: while the server is saturated, new requests are refused at once (503,
 * Retry-After, SERVICE_UNAVAILABLE) before any work is done for them; /healthz and /readyz still
 * answer; once the pressure goes, requests are admitted again. Saturation is made for real: queued
 * database work (the pool's connections held by statements waiting on row locks the test holds), or
 * a late event loop (the test shares the server's process, and keeps its loop busy).
 */

const CREATE = 'mutation ($input: CreateTaskInput!) { createTask(input: $input) { id } }';
const UPDATE = 'mutation ($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { id } }';

/** A request that does no work when admitted (no token, no database: a syntax error, 400) and gets 503 when shed. */
const probe = async (graphqlUrl: string) =>
  (await fetch(graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{"}' })).status;

async function taskCount(graphqlUrl: string, token: string): Promise<number> {
  return (await expectData<{ tasks: { totalCount: number } }>(graphqlUrl, '{ tasks(first: 1) { totalCount } }', undefined, token)).tasks.totalCount;
}

/** What a shed request gets: 503, Retry-After, and SERVICE_UNAVAILABLE saying the server is busy. */
function expectShed(status: number, retryAfter: string | null | undefined, body: unknown) {
  expect(status).toBe(503);
  expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  expect(body).toEqual({
    errors: [
      {
        message: expect.stringMatching(/too busy/) as unknown,
        extensions: { code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: Number(retryAfter) },
      },
    ],
  });
}

/** Resolves with the status (and Retry-After) of a refused WebSocket upgrade, or 101 when it opens. */
function upgrade(url: string): Promise<{ status: number; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    ws.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] });
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      resolve({ status: 101, retryAfter: undefined });
      ws.close();
    });
    ws.on('error', (err) => reject(err));
  });
}

describe('queued database work (OVERLOAD_MAX_DB_WAIT_MS)', () => {
  let server: TestServer;
  let admin: pg.Pool;
  let metricsUrl: string;
  let stuck: TestUser[];
  let reader: TestUser;
  let writer: TestUser;

  beforeAll(async () => {
    const metricsPort = await freePort();
    metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    // A pool of 3, one connection per user (a third): three users each stuck on a row lock hold the
    // whole pool, and whatever comes next queues for a connection. Statements and waits may last
    // as long as the test needs; only OVERLOAD_MAX_DB_WAIT_MS is short.
    server = await startServer({
      DB_POOL_SIZE: '3',
      DB_STATEMENT_TIMEOUT_MS: '120000',
      DB_POOL_ACQUIRE_TIMEOUT_MS: '120000',
      OVERLOAD_MAX_DB_WAIT_MS: '100',
      METRICS_PORT: String(metricsPort),
    });
    admin = new pg.Pool({ connectionString: server.database.url, max: 3 });
    // One at a time: three connections are little, and work queued for them is what this test is about.
    const users: TestUser[] = [];
    for (let i = 0; i < 5; i++) users.push(await signUp(server.url));
    [reader, writer] = users as [TestUser, TestUser];
    stuck = users.slice(2);
  });
  afterAll(async () => {
    await admin.end();
    await server.stop();
  });

  it('refuses new requests with 503 before doing anything, answers health checks, and admits again once the queue is gone', async () => {
    expect(server.config.db.maxPerUser).toBe(1);
    const taskIds: string[] = [];
    for (const u of stuck) {
      const { createTask } = await expectData<{ createTask: { id: string } }, object>(server.graphqlUrl, CREATE, { input: { title: 'x' } }, u.token);
      taskIds.push(createTask.id);
    }
    // The writer's user is looked up (and cached) now: its later requests need no connection to be admitted.
    expect(await taskCount(server.graphqlUrl, writer.token)).toBe(0);
    expect(await probe(server.graphqlUrl)).toBe(400);

    const holder = await admin.connect();
    let pending: Array<Promise<unknown>> = [];
    try {
      await holder.query('begin');
      await holder.query('select id from task where id = any($1::uuid[]) for update', [taskIds]);
      pending = stuck.map((u, i) => execute(server.graphqlUrl, UPDATE, { id: taskIds[i]!, input: { title: 'y' } }, u.token));
      await until("the three stuck users' updates to wait on the locks", async () => {
        const { rows } = await admin.query<{ n: string }>(
          "select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like 'update%'",
        );
        return Number(rows[0]?.n) === 3;
      });
      // The pool is held; the reader's request queues for a connection, and keeps waiting.
      pending.push(execute(server.graphqlUrl, '{ tasks(first: 5) { totalCount } }', undefined, reader.token));
      await until('new requests to be refused', async () => (await probe(server.graphqlUrl)) === 503);

      const res = await fetch(server.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${writer.token}` },
        body: JSON.stringify({ query: CREATE, variables: { input: { title: 'refused' } } }),
      });
      expectShed(res.status, res.headers.get('retry-after'), await res.json());
      // Health checks are never shed; readiness has a connection of its own.
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      // A new socket would authenticate against the same database: refused before the upgrade.
      const ws = await upgrade(server.url);
      expect(ws.status).toBe(503);
      expect(Number(ws.retryAfter)).toBeGreaterThanOrEqual(1);
      // Sign-in uses Better Auth's own pool, which is not queued: /api/auth is not refused.
      expect(await signIn(server.url, writer.email, writer.password)).toContain('better-auth');
    } finally {
      await holder.query('rollback');
      holder.release();
    }
    await Promise.all(pending);
    await until('requests to be admitted again', async () => (await probe(server.graphqlUrl)) === 400);
    // Nothing of the refused create was stored; the same create now runs.
    expect(await taskCount(server.graphqlUrl, writer.token)).toBe(0);
    await expectData<unknown, object>(server.graphqlUrl, CREATE, { input: { title: 'admitted' } }, writer.token);
    expect(await taskCount(server.graphqlUrl, writer.token)).toBe(1);

    const samples = parseSamples(await (await fetch(metricsUrl)).text());
    expect(valueOf(samples, 'http_requests_shed_total', { route: '/graphql', reason: 'database' })).toBeGreaterThanOrEqual(2);
    expect(valueOf(samples, 'http_requests_shed_total', { route: 'websocket', reason: 'database' })).toBe(1);
    expect(server.logs.some((l) => l['msg'] === 'overloaded (queued database work): refusing new requests with 503')).toBe(true);
  });
});

describe('event-loop delay (OVERLOAD_MAX_EVENT_LOOP_DELAY_MS)', () => {
  let server: TestServer;
  let user: TestUser;
  const connections: LeanConnection[] = [];

  beforeAll(async () => {
    // Far above what this machine's own hiccups reach on average over half a second: only the
    // test's long turns pass it.
    server = await startServer({ OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '400' });
    user = await signUp(server.url);
  });
  const sockets: net.Socket[] = [];
  afterEach(() => {
    for (const c of connections.splice(0)) c.close();
    for (const socket of sockets.splice(0)) socket.destroy();
  });
  afterAll(async () => {
    await server.stop();
  });

  /** A keep-alive connection to the server, opened and ready. */
  const connect = async () => {
    const { hostname, port } = new URL(server.url);
    const conn = new LeanConnection(hostname === 'localhost' ? '127.0.0.1' : hostname, Number(port));
    connections.push(conn);
    await conn.connected;
    return conn;
  };

  it('refuses what arrives while the loop runs late, answers health checks, and admits again', async () => {
    const host = new URL(server.url).host;
    const create = httpRequest(
      'POST',
      '/graphql',
      host,
      { 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
      JSON.stringify({ query: CREATE, variables: { input: { title: 'refused' } } }),
    );
    await expectData(server.graphqlUrl, '{ me { id } }', undefined, user.token);
    const [graphql, health, ready] = await Promise.all([connect(), connect(), connect()]);

    // Requests in flight, admitted and doing nothing (their bodies never finish arriving): a late
    // loop still admits a few (MIN_CONCURRENCY), so that clients retrying at once cannot keep every
    // request out; past those it refuses. Once a request sent after them is answered, they are in.
    const { hostname, port } = new URL(server.url);
    for (let i = 0; i < MIN_CONCURRENCY; i++) {
      const socket = net.connect(Number(port), hostname === 'localhost' ? '127.0.0.1' : hostname);
      sockets.push(socket);
      await once(socket, 'connect');
      socket.write(`POST /graphql HTTP/1.1\r\nhost: ${host}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"query":`);
    }
    expect(await probe(server.graphqlUrl)).toBe(400);

    // This process is also the server's: its event loop is kept busy, turn after turn, each turn
    // longer than the bound (and than the window the delay is averaged over), as a server buried in
    // work is. Then the requests are written (they wait in the server's socket buffers) and the
    // loop is held up once more.
    const busyTurn = () => {
      const until = performance.now() + 700;
      while (performance.now() < until) {
        // a long synchronous turn, as a burst of work makes
      }
      return new Promise((resolve) => setImmediate(resolve));
    };
    for (let turn = 0; turn < 3; turn++) await busyTurn();
    const answers: Array<Promise<LeanResponse>> = [
      graphql.send(create),
      health.send(httpRequest('GET', '/healthz', host)),
      ready.send(httpRequest('GET', '/readyz', host)),
    ];
    await busyTurn();
    const [shed, healthz, readyz] = await Promise.all(answers);
    expectShed(shed!.status, shed!.retryAfter, JSON.parse(shed!.body));
    expect(healthz!.status).toBe(200);
    expect(readyz!.status).toBe(200);

    for (const socket of sockets.splice(0)) socket.destroy();
    await eventually(async () => ((await probe(server.graphqlUrl)) === 400 ? true : undefined), undefined, 'requests to be admitted again');
    expect(await taskCount(server.graphqlUrl, user.token)).toBe(0);
    const again = await graphql.send(create);
    expect(again.status).toBe(200);
    expect(await taskCount(server.graphqlUrl, user.token)).toBe(1);
  });
});

describe('the overload guard', () => {
  it('after saturation admits at most what the route answers in a quarter second, then lifts the limit', async () => {
    let wait = 0;
    const guard = createOverloadGuard({ maxEventLoopDelayMs: 0, maxDbWaitMs: 100, dbWaitMs: { '/graphql': () => wait, '/api/auth': () => 0 } });
    try {
      expect(guard.check('/graphql')).toBeUndefined();
      guard.done('/graphql');
      wait = 150;
      expect(guard.check('/graphql')).toBe('database');
      expect(guard.check('/api/auth')).toBeUndefined();
      guard.done('/api/auth');
      await until('the limit to be set', () => guard.state().limits['/graphql'] !== null);
      wait = 0;
      // Nothing completed while saturated: the least limit.
      const admitted = Array.from({ length: MIN_CONCURRENCY + 10 }, () => guard.check('/graphql')).filter((r) => r === undefined).length;
      expect(admitted).toBe(MIN_CONCURRENCY);
      for (let i = 0; i < admitted; i++) guard.done('/graphql');
      expect(guard.state().limits['/api/auth']).toBeNull();
      await until('the limit to be lifted, a while without saturation', () => guard.state().limits['/graphql'] === null);
      expect(Array.from({ length: MIN_CONCURRENCY + 10 }, () => guard.check('/graphql')).every((r) => r === undefined)).toBe(true);
    } finally {
      guard.stop();
    }
  });
});
