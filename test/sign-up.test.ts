import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeJwt } from 'jose';
import pg from 'pg';
import { bearer, postGraphQL } from './support/http.ts';
import { startServer, type TestServer } from './support/server.ts';
import { fetchToken, signUp } from './support/users.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.stop());

/** A sign-up (or any auth POST) as a page of the server's own origin sends it. */
async function authPost(path: string, body: unknown, cookie?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/api/auth${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: server.url, ...(cookie ? { cookie } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const uniqueEmail = () => `user-${randomUUID()}@example.test`;
const signUpBody = (fields: { name?: string; email?: string }) => ({
  name: fields.name ?? 'Grace',
  email: fields.email ?? uniqueEmail(),
  password: `pw-${randomUUID()}`,
});

/** The email, padded to exactly `length` characters with its local part. */
function emailOf(length: number): string {
  const domain = `@${randomUUID()}.example.test`;
  return `${'a'.repeat(length - domain.length)}${domain}`;
}

async function expectNoAccount(email: string): Promise<void> {
  const res = await authPost('/sign-in/email', { email, password: 'whatever-it-was' });
  expect(res.status).toBe(401);
}

describe('sign-up input', () => {
  it('refuses an email over 254 characters with 400 EMAIL_TOO_LONG, and creates no account', async () => {
    const email = emailOf(255);
    const res = await authPost('/sign-up/email', signUpBody({ email }));
    expect(res).toEqual({ status: 400, body: { code: 'EMAIL_TOO_LONG', message: 'The email address is longer than 254 characters.' } });
    await expectNoAccount(email);
  });

  it('refuses a name over 100 characters with 400 NAME_TOO_LONG: a 60 KB name never becomes an 80 KB token', async () => {
    for (const name of ['x'.repeat(101), '😀'.repeat(101), 'n'.repeat(60_000)]) {
      const email = uniqueEmail();
      const res = await authPost('/sign-up/email', signUpBody({ name, email }));
      expect(res).toEqual({ status: 400, body: { code: 'NAME_TOO_LONG', message: 'The name is longer than 100 characters.' } });
      await expectNoAccount(email);
    }
  });

  it('refuses control and invisible formatting characters in a name with 400 NAME_INVALID_CHARACTER', async () => {
    const cases: Array<[string, string]> = [
      ['Ada\u0000', 'U+0000'],
      ['Ada\nLovelace', 'U+000A'],
      ['Ada\u001b[31m', 'U+001B'],
      ['Ada\u0085', 'U+0085'],
      ['evil\u202Egnp.exe', 'U+202E'],
      ['Ad\u200Ba', 'U+200B'],
      ['\uFEFFAda', 'U+FEFF'],
      ['Ada\u2028', 'U+2028'],
      ['Ada\uD800', 'U+D800'],
    ];
    for (const [name, point] of cases) {
      const res = await authPost('/sign-up/email', signUpBody({ name }));
      expect({ name: JSON.stringify(name), ...res }).toEqual({
        name: JSON.stringify(name),
        status: 400,
        body: { code: 'NAME_INVALID_CHARACTER', message: `The name contains ${point}, a control or invisible formatting character.` },
      });
    }
  });

  it('refuses control characters in an email with 400 INVALID_EMAIL (Better Auth alone said VALIDATION_ERROR)', async () => {
    for (const email of [`a\u0000b@example.test`, `ab@exa\u202Emple.test`, `ab@example.test\n`]) {
      const res = await authPost('/sign-up/email', signUpBody({ email }));
      expect(res.status).toBe(400);
      expect(res.body['code']).toBe('INVALID_EMAIL');
    }
  });

  it('accepts names that need joiners (Persian ZWNJ, emoji sequences) and any script', async () => {
    for (const name of ['مهر\u200Cناز', '👩\u200D👩\u200D👧', 'Zoë Ødegård-Łukasz', '李小龍', 'O\'Brien "Bob" \\o/']) {
      const user = await signUp(server.url, { name });
      const me = await postGraphQL(server.graphqlUrl, '{ me { name } }', bearer(user.token));
      expect(me).toMatchObject({ status: 200, body: { data: { me: { name } } } });
    }
  });

  it('the largest legal email and name give a token the API accepts', async () => {
    // 100 four-byte characters and a 254-character address: the biggest claims sign-up can produce.
    const name = '😀'.repeat(100);
    const email = emailOf(254);
    const user = await signUp(server.url, { name, email });
    // Under half the API's 4,096-character bound on a token (1,247 here), whatever the user chose.
    expect(user.token.length).toBeLessThan(4096 / 2);
    const me = await postGraphQL(server.graphqlUrl, '{ me { email name } }', bearer(user.token));
    expect(me).toEqual({ status: 200, challenge: null, body: { data: { me: { email, name } } } });
  });

  it('a name stored before the bounds (or by hand) is cut to 100 characters in the token, which the API accepts', async () => {
    const user = await signUp(server.url);
    const long = '😀'.repeat(30_000);
    const client = new pg.Client({ connectionString: server.database.url });
    await client.connect();
    try {
      await client.query('update "user" set name = $1 where id = $2', [long, user.id]);
    } finally {
      await client.end();
    }
    const token = await fetchToken(server.url, user.cookie);
    expect(token.length).toBeLessThan(4096 / 2);
    expect(decodeJwt(token)['name']).toBe('😀'.repeat(100));
    const me = await postGraphQL(server.graphqlUrl, '{ me { id } }', bearer(token));
    expect(me.body).toEqual({ data: { me: { id: user.id } } });
  });

  it('update-user obeys the same bounds; a valid name change reaches the next token', async () => {
    const user = await signUp(server.url);
    expect(await authPost('/update-user', { name: 'y'.repeat(101) }, user.cookie)).toEqual({
      status: 400,
      body: { code: 'NAME_TOO_LONG', message: 'The name is longer than 100 characters.' },
    });
    expect(await authPost('/update-user', { name: 'Bob\u202E' }, user.cookie)).toMatchObject({
      status: 400,
      body: { code: 'NAME_INVALID_CHARACTER' },
    });
    expect((await authPost('/update-user', { name: 'Robert' }, user.cookie)).status).toBe(200);
    const me = await postGraphQL(server.graphqlUrl, '{ me { name } }', bearer(await fetchToken(server.url, user.cookie)));
    expect(me.body).toEqual({ data: { me: { name: 'Robert' } } });
  });
});

/** A raw request with the Host header the client chose (fetch always sends a valid one). */
function rawRequest(path: string, headers: Record<string, string>, method = 'GET', body?: string): Promise<{ status: number; body: string }> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers, setHost: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('a malformed Host header', () => {
  it('is a 400 BAD_REQUEST on /api/auth/*, and no route answers it with a 500 or logs an error', async () => {
    const before = server.logs.length;
    const json = { 'content-type': 'application/json', origin: server.url };
    for (const host of ['[', 'a b', 'ex ample.test:80', 'host/path', 'h:port', '[::1']) {
      for (const path of ['/api/auth/get-session', '/api/auth/jwks', '/api/auth/ok']) {
        const res = await rawRequest(path, { host });
        expect({ host, path, ...res }).toEqual({
          host,
          path,
          status: 400,
          body: JSON.stringify({ message: 'The Host header is not a valid host[:port].', code: 'BAD_REQUEST' }),
        });
      }
      const signUpRes = await rawRequest('/api/auth/sign-up/email', { host, ...json }, 'POST', JSON.stringify(signUpBody({})));
      expect({ host, status: signUpRes.status }).toEqual({ host, status: 400 });
      for (const path of ['/graphql?query=%7B__typename%7D', '/healthz', '/readyz', '/nowhere']) {
        const res = await rawRequest(path, { host, 'apollo-require-preflight': 'true' });
        expect({ host, path, server: res.status >= 500 }).toEqual({ host, path, server: false });
      }
    }
    expect(server.logs.slice(before).filter((line) => Number(line['level']) >= 50)).toEqual([]);
  });

  it('still serves a valid Host (names, IPv4, IPv6 literals, ports) and ignores an X-Forwarded-Proto it cannot use', async () => {
    for (const host of ['localhost', '127.0.0.1:4000', '[::1]:8080', 'api.example.test']) {
      const res = await rawRequest('/api/auth/ok', { host, 'x-forwarded-proto': 'a b' });
      expect({ host, ...res }).toEqual({ host, status: 200, body: JSON.stringify({ ok: true }) });
    }
  });
});
