import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cacheExchange, Client, fetchExchange, gql } from '@urql/core';
import { BODY_TIMEOUT_MS } from '../src/http/body.ts';
import { bearer, INVALID_TOKEN, postGraphQL } from './support/http.ts';
import { startServer, type TestServer } from './support/server.ts';
import { fetchToken, signIn, signUp, type TestUser } from './support/users.ts';

/** HTTP hygiene: headers, timeouts, CORS, CSRF with a real urql client, and account deletion. */
let server: TestServer;
let user: TestUser;
beforeAll(async () => {
  server = await startServer();
  user = await signUp(server.url);
});
afterAll(() => server.stop());
const origin = () => new URL(server.url).origin;

describe('headers', () => {
  it('marks every /graphql answer no-store and every answer nosniff, and keeps connections alive for 65 s', async () => {
    const ok = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(user.token) },
      body: '{"query":"{ me { id } }"}',
    });
    const bad = await fetch(server.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{"}' });
    const refused = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer nope' },
      body: '{"query":"{ me { id } }"}',
    });
    for (const res of [ok, bad, refused]) {
      expect({ status: res.status, cache: res.headers.get('cache-control'), nosniff: res.headers.get('x-content-type-options') }).toEqual({
        status: res.status,
        cache: 'no-store',
        nosniff: 'nosniff',
      });
    }
    for (const path of ['/healthz', '/readyz', '/nowhere', '/api/auth/jwks']) {
      expect((await fetch(`${server.url}${path}`)).headers.get('x-content-type-options')).toBe('nosniff');
    }
    expect(ok.headers.get('keep-alive')).toBe('timeout=65');
  });

  it('serves GET /api/auth/token with Cache-Control: no-store', async () => {
    const res = await fetch(`${server.url}/api/auth/token`, { headers: { origin: origin(), cookie: user.cookie } });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('lets browser scripts read WWW-Authenticate, X-Request-Id and Retry-After', async () => {
    for (const path of ['/graphql', '/api/auth/get-session']) {
      const res = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { origin: origin(), 'content-type': 'application/json' },
        body: '{}',
      });
      const exposed = (res.headers.get('access-control-expose-headers') ?? '').toLowerCase().split(/\s*,\s*/);
      expect({ path, exposed }).toEqual({ path, exposed: expect.arrayContaining(['www-authenticate', 'x-request-id', 'retry-after']) });
    }
  });
});

describe('a slow client', () => {
  it(
    `gets 408 when its body does not arrive within ${BODY_TIMEOUT_MS / 1000} s, and the connection is closed`,
    async () => {
      const { port } = new URL(server.url);
      const socket = connect(Number(port), '127.0.0.1');
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.write(`POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"query":`);
      await closed;
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(answer).toContain('"code":"REQUEST_TIMEOUT"');
    },
    BODY_TIMEOUT_MS + 10_000,
  );
});

describe('CSRF prevention with the real urql client', () => {
  it("lets urql's default GET queries through when they carry Authorization", async () => {
    const client = new Client({
      url: server.graphqlUrl,
      exchanges: [cacheExchange, fetchExchange],
      fetchOptions: () => ({ headers: { authorization: `Bearer ${user.token}` } }),
    });
    const result = await client
      .query(
        gql`
          query Me {
            me {
              id
              email
            }
          }
        `,
        {},
      )
      .toPromise();
    expect(result.error).toBeUndefined();
    expect(result.data).toEqual({ me: { __typename: 'User', id: user.id, email: user.email } });
    // It really was a GET (urql's default for queries within the URL limit).
    const line = server.logs.find((l) => (l['req'] as { url?: string } | undefined)?.url?.startsWith('/graphql?'));
    expect((line?.['req'] as { method: string }).method).toBe('GET');
  });

  it('still refuses a bare GET (no Authorization, no preflight header)', async () => {
    const res = await fetch(`${server.graphqlUrl}?query=${encodeURIComponent('{ serverVersion }')}`);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('CSRF');
  });
});

describe('account deletion', () => {
  const deleteUser = (who: TestUser, body: unknown) =>
    fetch(`${server.url}/api/auth/delete-user`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: origin(), cookie: who.cookie },
      body: JSON.stringify(body),
    });

  it('needs the password even with a fresh session; a deleted account is refused at once', async () => {
    const doomed = await signUp(server.url);
    for (const body of [{}, { password: '' }, { callbackURL: '/' }]) {
      const res = await deleteUser(doomed, body);
      expect({ body, status: res.status, json: await res.json() }).toEqual({
        body,
        status: 400,
        json: { code: 'PASSWORD_REQUIRED', message: 'Deleting an account needs its password: send { "password": "..." }.' },
      });
    }
    const wrong = await deleteUser(doomed, { password: 'wrong-password' });
    expect({ status: wrong.status, code: ((await wrong.json()) as { code?: string }).code }).toEqual({ status: 400, code: 'INVALID_PASSWORD' });
    // Still there: signs in, gets tokens, uses the API.
    await signIn(server.url, doomed.email, doomed.password);
    expect((await postGraphQL(server.graphqlUrl, '{ me { id } }', bearer(await fetchToken(server.url, doomed.cookie)))).status).toBe(200);

    expect((await deleteUser(doomed, { password: doomed.password })).status).toBe(200);
    expect(await postGraphQL(server.graphqlUrl, '{ me { id } }', bearer(doomed.token))).toEqual(INVALID_TOKEN);
  });
});

describe('in production', () => {
  let prod: TestServer;
  beforeAll(async () => {
    prod = await startServer({ NODE_ENV: 'production', BETTER_AUTH_SECRET: randomBytes(32).toString('base64'), RATE_LIMIT_PER_MINUTE: '1000' });
  });
  afterAll(() => prod.stop());

  const send = async (query: string, variables: Record<string, unknown> = {}) => {
    const res = await fetch(prod.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, body: await res.text() };
  };

  it('never suggests schema names, in validation or variable errors', async () => {
    const cases = [
      await send('{ serverVersoin }'),
      await send('query ($o: TaskOrder) { tasks(orderBy: $o) { totalCount } }', { o: 'NEWST' }),
      await send('mutation ($i: CreateTaskInput!) { createTask(input: $i) { id } }', { i: { titel: 'x' } }),
      await send('{ tasks(orderBy: NEWST) { totalCount } }'),
    ];
    for (const c of cases) {
      expect(c.status).toBe(400);
      expect(c.body).not.toMatch(/did you mean/i);
    }
  });

  it("answers Better Auth's 429 with the standard Retry-After", async () => {
    const attempt = () =>
      fetch(`${prod.url}/api/auth/sign-in/email`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: new URL(prod.url).origin },
        body: JSON.stringify({ email: 'nobody@example.test', password: 'wrong-password' }),
      });
    let res = await attempt();
    for (let i = 0; i < 10 && res.status !== 429; i++) res = await attempt();
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(res.headers.get('retry-after')).toBe(res.headers.get('x-retry-after'));
  });
});
