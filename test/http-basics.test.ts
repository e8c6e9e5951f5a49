import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { freePort } from '../src/db/embedded.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { runServer, type ServerProcess } from './support/process.ts';
import { startServer, type TestServer } from './support/server.ts';

/** What every HTTP client meets before GraphQL or Better Auth: body limits, CORS, client addresses. */

const GRAPHQL_MAX_BODY_BYTES = 1024 * 1024;
const TRUSTED_APP = 'https://app.example.com';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ TRUSTED_ORIGINS: TRUSTED_APP });
});
afterAll(() => server.stop());

/** A valid operation whose JSON body is exactly `bytes` long (padded with an unused variable). */
function operationOfSize(bytes: number): string {
  const frame = (pad: string) => JSON.stringify({ query: '{ serverVersion }', variables: { pad } });
  const body = frame('x'.repeat(bytes - frame('').length));
  expect(Buffer.byteLength(body)).toBe(bytes);
  return body;
}

const post = (body: string | ReadableStream, init: RequestInit = {}) =>
  fetch(server.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body, ...init });

describe('request bodies on /graphql', () => {
  it('runs an operation whose body is exactly 1 MiB', async () => {
    const res = await post(operationOfSize(GRAPHQL_MAX_BODY_BYTES));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { serverVersion: expect.stringMatching(/^\d+\.\d+\.\d+/) } });
  });

  const tooLarge = {
    errors: [{ message: `The request body is larger than ${GRAPHQL_MAX_BODY_BYTES} bytes.`, extensions: { code: 'PAYLOAD_TOO_LARGE' } }],
  };

  it('refuses one byte more with 413 PAYLOAD_TOO_LARGE, declared or chunked', async () => {
    const body = operationOfSize(GRAPHQL_MAX_BODY_BYTES + 1);
    const declared = await post(body);
    expect({ status: declared.status, body: await declared.json() }).toEqual({ status: 413, body: tooLarge });

    const chunked = await post(new Blob([body]).stream(), { duplex: 'half' });
    expect({ status: chunked.status, body: await chunked.json() }).toEqual({ status: 413, body: tooLarge });
  });

  it('answers a body that is not JSON with 400 BAD_REQUEST', async () => {
    const res = await post('{"query": "{ serverVersion }"');
    expect({ status: res.status, body: await res.json() }).toEqual({
      status: 400,
      body: { errors: [{ message: 'The request body is not valid JSON.', extensions: { code: 'BAD_REQUEST' } }] },
    });
  });
});

describe('CORS', () => {
  const preflight = (path: string, origin: string) =>
    fetch(`${server.url}${path}`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' },
    });

  it('lets any origin call /graphql, without credentials (tokens, not cookies, authenticate it)', async () => {
    for (const origin of ['https://anywhere.example', TRUSTED_APP]) {
      const res = await preflight('/graphql', origin);
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(res.headers.get('access-control-allow-methods')).toContain('POST');
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();

      const actual = await post(JSON.stringify({ query: '{ serverVersion }' }), {
        headers: { 'content-type': 'application/json', origin },
      });
      expect(actual.status).toBe(200);
      expect(actual.headers.get('access-control-allow-origin')).toBe('*');
      expect(actual.headers.get('access-control-allow-credentials')).toBeNull();
    }
  });

  it('lets only trusted origins call /api/auth, with credentials', async () => {
    for (const origin of [TRUSTED_APP, new URL(server.url).origin]) {
      const res = await preflight('/api/auth/sign-in/email', origin);
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
      expect(res.headers.get('access-control-allow-credentials')).toBe('true');
      expect(res.headers.get('vary')).toMatch(/origin/i);

      const session = await fetch(`${server.url}/api/auth/get-session`, { headers: { origin } });
      expect(session.status).toBe(200);
      expect(session.headers.get('access-control-allow-origin')).toBe(origin);
      expect(session.headers.get('access-control-allow-credentials')).toBe('true');
    }
  });

  it('gives an untrusted origin no Access-Control-Allow-Origin on /api/auth', async () => {
    const res = await preflight('/api/auth/sign-in/email', 'https://evil.example');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const session = await fetch(`${server.url}/api/auth/get-session`, { headers: { origin: 'https://evil.example' } });
    expect(session.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('TRUSTED_PROXIES (Better Auth rate-limits sign-in in production: 3 attempts per 10 s per client)', () => {
  // The test talks to the server from two loopback addresses: 127.0.0.1 is the trusted proxy,
  // 127.0.0.2 a client connecting directly.
  const PROXY = '127.0.0.1';
  const DIRECT = '127.0.0.2';
  let database: TestDatabase;
  let proc: ServerProcess;
  let url: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    const port = await freePort();
    proc = runServer({
      NODE_ENV: 'production',
      PORT: String(port),
      DATABASE_URL: database.url,
      BETTER_AUTH_SECRET: randomBytes(32).toString('base64'),
      BETTER_AUTH_URL: `http://localhost:${port}`,
      TRUSTED_PROXIES: PROXY,
    });
    await proc.ready;
    // By address, not `localhost`: the requests below choose their source address on 127.0.0.0/8.
    url = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    proc.child.kill('SIGTERM');
    await proc.exited;
    await database.drop();
  });

  /** One wrong-password sign-in sent from `localAddress`, claiming `forwardedFor`; its status. */
  const signInFrom = (localAddress: string, forwardedFor: string) =>
    new Promise<number>((resolve, reject) => {
      const body = JSON.stringify({ email: `nobody-${forwardedFor}@example.test`, password: 'wrong-password' });
      const req = http.request(
        `${url}/api/auth/sign-in/email`,
        {
          method: 'POST',
          localAddress,
          agent: false,
          headers: { 'content-type': 'application/json', origin: url.replace('127.0.0.1', 'localhost'), 'x-forwarded-for': forwardedFor },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  it('keys a trusted proxy’s requests on the X-Forwarded-For client: each client has its own bucket', async () => {
    const first = [];
    for (let i = 0; i < 4; i++) first.push(await signInFrom(PROXY, '203.0.113.1'));
    expect(first).toEqual([401, 401, 401, 429]);
    expect(await signInFrom(PROXY, '203.0.113.2')).toBe(401);
  });

  it('ignores X-Forwarded-For from a client that is not a trusted proxy: spoofed values share one bucket', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await signInFrom(DIRECT, `198.51.100.${i + 1}`));
    expect(statuses).toEqual([401, 401, 401, 429]);
  });
});
