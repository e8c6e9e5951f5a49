import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { startServer, type TestServer } from './support/server.ts';
import { fetchToken, signIn, signUp } from './support/users.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.stop());

describe('Better Auth in the same process', () => {
  it('signs a user up and issues a 15-minute EdDSA JWT that verifies against its JWKS', async () => {
    const user = await signUp(server.url, { name: 'Ada Lovelace' });
    const jwks = createRemoteJWKSet(new URL(`${server.url}/api/auth/jwks`));
    const origin = new URL(server.config.auth.baseUrl).origin;

    const { payload, protectedHeader } = await jwtVerify(user.token, jwks, {
      issuer: origin,
      audience: origin,
      algorithms: ['EdDSA'],
    });

    expect(protectedHeader.alg).toBe('EdDSA');
    expect(payload.sub).toBe(user.id);
    expect(payload.email).toBe(user.email);
    expect(payload.name).toBe('Ada Lovelace');
    expect(payload.exp! - payload.iat!).toBe(15 * 60);
    // Trimmed payload: nothing of the user row beyond what the API needs.
    expect(Object.keys(payload).sort()).toEqual(['aud', 'email', 'exp', 'iat', 'iss', 'name', 'sub']);
  });

  it('lets a user sign in again with the same password, and refuses a wrong one', async () => {
    const user = await signUp(server.url);
    const cookie = await signIn(server.url, user.email, user.password);
    const token = await fetchToken(server.url, cookie);
    expect(token.split('.')).toHaveLength(3);

    const wrong = await fetch(`${server.url}/api/auth/sign-in/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: server.url },
      body: JSON.stringify({ email: user.email, password: 'not-the-password' }),
    });
    expect(wrong.status).toBe(401);
  });

  it('refuses a token request without a session', async () => {
    const res = await fetch(`${server.url}/api/auth/token`);
    expect(res.status).toBe(401);
  });

  it('signs every token with the one key created at start-up, even under concurrent first requests', async () => {
    const users = await Promise.all(Array.from({ length: 5 }, () => signUp(server.url)));
    const kids = new Set(users.map((u) => decodeProtectedHeader(u.token).kid));
    const { keys } = (await (await fetch(`${server.url}/api/auth/jwks`)).json()) as { keys: Array<{ kid: string }> };
    expect(keys).toHaveLength(1);
    expect([...kids]).toEqual([keys[0]!.kid]);
  });

  it('keeps the origin check on: a browser POST from an untrusted origin is refused', async () => {
    const user = await signUp(server.url);
    const res = await fetch(`${server.url}/api/auth/sign-in/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://evil.example', cookie: user.cookie },
      body: JSON.stringify({ email: user.email, password: user.password }),
    });
    expect(res.status).toBe(403);

    const trusted = await fetch(`${server.url}/api/auth/sign-in/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: new URL(server.url).origin, cookie: user.cookie },
      body: JSON.stringify({ email: user.email, password: user.password }),
    });
    expect(trusted.status).toBe(200);
  });

  it('refuses oversized request bodies with 413 before reading them into memory', async () => {
    const big = JSON.stringify({ email: 'a@example.test', password: 'x'.repeat(100_000) });
    const declared = await fetch(`${server.url}/api/auth/sign-in/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: big,
    });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toEqual({ message: 'The request body is larger than 65536 bytes.', code: 'PAYLOAD_TOO_LARGE' });

    // Without a declared length (chunked), the limit cuts the stream off instead.
    const chunked = await fetch(`${server.url}/api/auth/sign-in/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new Blob([big]).stream(),
      duplex: 'half',
    });
    expect(chunked.status).toBe(413);
    expect(await chunked.json()).toEqual({ message: 'The request body is larger than 65536 bytes.', code: 'PAYLOAD_TOO_LARGE' });
  });
});
