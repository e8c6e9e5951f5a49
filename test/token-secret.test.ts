import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { CreateTaskDocument, MeDocument } from './generated/graphql.ts';
import { expectData } from './support/graphql.ts';
import { bearer, EXPIRED_TOKEN, INVALID_TOKEN, postGraphQL } from './support/http.ts';
import { claims, hmac, issuerKey, now, sign, unsigned } from './support/issuer.ts';
import { startServer, type TestServer } from './support/server.ts';

/** Shared-secret mode: an issuer signing HS256 with a secret this server shares. */
const ISSUER = 'https://legacy-auth.example.test';
const AUDIENCE = 'taskgraph';
const SECRET = randomBytes(32).toString('base64');
const key = new TextEncoder().encode(SECRET);

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ AUTH_MODE: 'shared-secret', AUTH_JWT_SECRET: SECRET, AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE });
});
afterAll(() => server.stop());

const valid = (overrides = {}) => claims(ISSUER, AUDIENCE, overrides);
const me = (token: string) => postGraphQL(server.graphqlUrl, '{ me { id } }', bearer(token));

describe('shared-secret mode', () => {
  it('accepts HS256 tokens of its issuer and works end to end', async () => {
    const payload = valid();
    const token = await hmac(key, payload);
    expect((await expectData(server.graphqlUrl, MeDocument, {}, token)).me.id).toBe(payload.sub);
    const { createTask } = await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: 'hs256' } }, token);
    expect(createTask.owner.id).toBe(payload.sub);
  });

  it('accepts only HS256: the same secret with HS384 or HS512 is refused', async () => {
    for (const alg of ['HS384', 'HS512']) expect(await me(await hmac(key, valid(), {}, alg))).toEqual(INVALID_TOKEN);
  });

  it('refuses asymmetric tokens, unsigned tokens and other secrets', async () => {
    expect(await me(await sign(await issuerKey('EdDSA'), valid()))).toEqual(INVALID_TOKEN);
    expect(await me(await sign(await issuerKey('ES256'), valid()))).toEqual(INVALID_TOKEN);
    expect(await me(unsigned(valid(), 'none'))).toEqual(INVALID_TOKEN);
    expect(await me(await hmac(randomBytes(32), valid()))).toEqual(INVALID_TOKEN);
  });

  it('checks the same claims as the other modes', async () => {
    expect(await me(await hmac(key, valid({ iss: 'https://other.example.test' })))).toEqual(INVALID_TOKEN);
    expect(await me(await hmac(key, valid({ aud: 'other' })))).toEqual(INVALID_TOKEN);
    expect(await me(await hmac(key, valid({ nbf: now() + 120 })))).toEqual(INVALID_TOKEN);
    expect(await me(await hmac(key, valid({ iat: now() - 120, exp: now() - 60 })))).toEqual(EXPIRED_TOKEN);
  });

  it('does not mount Better Auth', async () => {
    expect((await fetch(`${server.url}/api/auth/jwks`)).status).toBe(404);
  });
});
