import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import WebSocket from 'ws';
import { startServer, type TestServer } from './support/server.ts';
import { signUp, type TestUser } from './support/users.ts';

/**
 * The API rate limit: per user, or per client address when anonymous. Over it: HTTP 429,
 * Retry-After in whole seconds, code RATE_LIMITED; others are unaffected.
 */
const REDIS_URL = 'redis://127.0.0.1:6379';
/** Redis runs here and in CI; where it does not, the tests that need it are skipped, saying so. */
const redisUp = await new Promise<boolean>((resolve) => {
  const socket = connect(6379, '127.0.0.1');
  socket.setTimeout(1000);
  socket.once('connect', () => {
    socket.destroy();
    resolve(true);
  });
  socket.once('error', () => resolve(false));
  socket.once('timeout', () => {
    socket.destroy();
    resolve(false);
  });
});
if (!redisUp) console.warn(`Redis is not reachable at ${REDIS_URL}: skipping the shared-budget tests (CI runs them).`);
const withRedis = redisUp ? describe : describe.skip;

const servers: TestServer[] = [];
async function boot(env: Record<string, string>): Promise<TestServer> {
  const server = await startServer(env);
  servers.push(server);
  return server;
}
afterAll(async () => {
  for (const s of servers.reverse()) await s.stop();
});

async function ask(server: TestServer, headers: Record<string, string> = {}, query = '{ serverVersion }') {
  const res = await fetch(server.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });
  const body = (await res.json()) as { errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body };
}
const as = (user: TestUser) => ({ authorization: `Bearer ${user.token}` });

function expectRefused(res: Awaited<ReturnType<typeof ask>>, limit: number) {
  expect(res.status).toBe(429);
  expect(res.retryAfter).toMatch(/^[1-9]\d*$/);
  expect(Number(res.retryAfter)).toBeLessThanOrEqual(60);
  expect(res.body.errors).toEqual([
    {
      message: `Rate limit of ${limit} requests per minute reached; retry in ${res.retryAfter} s.`,
      extensions: { code: 'RATE_LIMITED', limit, retryAfterSeconds: Number(res.retryAfter) },
    },
  ]);
}

describe('per user, in memory', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  beforeAll(async () => {
    server = await boot({ RATE_LIMIT_PER_MINUTE: '5' });
    [alice, bob] = [await signUp(server.url), await signUp(server.url)];
  });

  it('refuses the request over the budget with 429, Retry-After and RATE_LIMITED; nothing runs', async () => {
    for (let i = 0; i < 5; i++) expect((await ask(server, as(alice))).status).toBe(200);
    const over = await ask(server, as(alice), 'mutation { createTask(input: { title: "over" }) { id } }');
    expectRefused(over, 5);
    // Other users, and anonymous callers, have budgets of their own.
    expect((await ask(server, as(bob), '{ tasks { totalCount } }')).status).toBe(200);
    expect((await ask(server)).status).toBe(200);
    // Nothing of the refused mutation ran.
    const client = new pg.Client({ connectionString: server.database.url });
    await client.connect();
    const { rows } = await client.query<{ n: number }>('select count(*)::int as n from task');
    await client.end();
    expect(rows[0]!.n).toBe(0);
  });
});

describe('anonymous callers, by client address', () => {
  it('ignores X-Forwarded-For without trusted proxies: one budget per connection address', async () => {
    const server = await boot({ RATE_LIMIT_PER_MINUTE: '3' });
    for (let i = 0; i < 3; i++) expect((await ask(server, { 'x-forwarded-for': `198.51.100.${i}` })).status).toBe(200);
    expectRefused(await ask(server, { 'x-forwarded-for': '198.51.100.99' }), 3);
  });

  it('believes X-Forwarded-For from a trusted proxy, from the right, skipping trusted hops', async () => {
    const server = await boot({ RATE_LIMIT_PER_MINUTE: '3', TRUSTED_PROXIES: '127.0.0.1,10.0.0.0/8' });
    // A client cannot pick its bucket by writing a left-most address: 203.0.113.7 is what the proxies saw.
    for (let i = 0; i < 3; i++) expect((await ask(server, { 'x-forwarded-for': `192.0.2.${i}, 203.0.113.7, 10.1.2.3` })).status).toBe(200);
    expectRefused(await ask(server, { 'x-forwarded-for': '203.0.113.7' }), 3);
    expect((await ask(server, { 'x-forwarded-for': '203.0.113.8' })).status).toBe(200);
  });
});

withRedis('RATE_LIMIT_STORE=redis', () => {
  it('gives two instances one shared budget per user', async () => {
    const prefix = `test:rl:${randomUUID()}`;
    const env = { RATE_LIMIT_PER_MINUTE: '6', RATE_LIMIT_STORE: 'redis', REDIS_URL, RATE_LIMIT_KEY_PREFIX: prefix };
    const a = await boot(env);
    // The second instance serves the same users: same database, secret and public URL.
    const b = await boot({
      ...env,
      DATABASE_URL: a.config.databaseUrl!,
      BETTER_AUTH_SECRET: a.config.auth.secret,
      BETTER_AUTH_URL: a.config.auth.baseUrl,
    });
    const user = await signUp(a.url);
    for (let i = 0; i < 3; i++) {
      expect((await ask(a, as(user))).status).toBe(200);
      expect((await ask(b, as(user))).status).toBe(200);
    }
    expectRefused(await ask(b, as(user)), 6);
    expectRefused(await ask(a, as(user)), 6);
  });

  it('falls back to an in-memory budget when Redis is unreachable: never a 500, still limited', async () => {
    const server = await boot({
      RATE_LIMIT_PER_MINUTE: '4',
      RATE_LIMIT_STORE: 'redis',
      REDIS_URL: 'redis://127.0.0.1:1',
      RATE_LIMIT_KEY_PREFIX: `test:rl:${randomUUID()}`,
    });
    for (let i = 0; i < 4; i++) expect((await ask(server)).status).toBe(200);
    expectRefused(await ask(server), 4);
    expect(server.logs.some((l) => String(l['msg']).includes('rate limit store (Redis) unreachable'))).toBe(true);
  });
});

describe('refused tokens, by client address', () => {
  it('counts a request with an invalid token against its address; over the budget, the address gets 429 before any token is verified', async () => {
    const server = await boot({ RATE_LIMIT_PER_MINUTE: '3', TRUSTED_PROXIES: '127.0.0.1' });
    const user = await signUp(server.url);
    const from = (ip: string) => ({ 'x-forwarded-for': ip });
    const bad = { authorization: 'Bearer not.a.token' };

    for (let i = 0; i < 3; i++) expect((await ask(server, { ...bad, ...from('203.0.113.7') })).status).toBe(401);
    expectRefused(await ask(server, { ...bad, ...from('203.0.113.7') }), 3);
    // The address's one budget: anonymous requests from it are over too, and so is a valid token,
    // refused without being looked at.
    expectRefused(await ask(server, from('203.0.113.7')), 3);
    expectRefused(await ask(server, { ...as(user), ...from('203.0.113.7') }), 3);
    const code = await new Promise<{ code: number; reason: string }>((resolve) => {
      const ws = new WebSocket(server.graphqlUrl.replace(/^http/, 'ws'), 'graphql-transport-ws', { headers: from('203.0.113.7') });
      ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${user.token}` } })));
      ws.on('close', (c, reason) => resolve({ code: c, reason: reason.toString() }));
      ws.on('error', () => {});
    });
    expect(code).toEqual({ code: 1013, reason: expect.stringMatching(/^too many invalid tokens from this address: retry in \d+ s$/) as unknown });

    // Other addresses are not affected.
    expect((await ask(server, { ...as(user), ...from('203.0.113.8') })).status).toBe(200);
    expect((await ask(server, { ...bad, ...from('203.0.113.8') })).status).toBe(401);
  });
});
