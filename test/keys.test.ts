import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from '@jest/globals';
import { decodeProtectedHeader } from 'jose';
import { bearer, postGraphQL } from './support/http.ts';
import { claims, issuerKey, sign, startJwksServer } from './support/issuer.ts';
import { freePort } from '../src/db/embedded.ts';
import { createTestDatabase } from './support/database.ts';
import { startServer, type TestServer } from './support/server.ts';
import { fetchToken, signUp } from './support/users.ts';
import { eventually, WAIT_MS } from './support/poll.ts';

/**
 * A valid token is never refused because the server has not loaded (or reloaded) its keys yet:
 * at a cold start, on a second instance, at each key rotation, with a slow remote key set.
 */
const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers.reverse()) await s.stop();
});
async function boot(env: Record<string, string> = {}): Promise<TestServer> {
  const server = await startServer(env);
  servers.push(server);
  return server;
}

/** Statuses of `n` concurrent `me` queries carrying `token`, counted by status. */
async function burst(graphqlUrl: string, token: string, n: number): Promise<Record<number, number>> {
  const results = await Promise.all(Array.from({ length: n }, () => postGraphQL(graphqlUrl, '{ me { id } }', bearer(token))));
  const counts: Record<number, number> = {};
  for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}

describe('embedded Better Auth', () => {
  it('accepts a burst of 1,000 valid tokens right after start', async () => {
    const server = await boot();
    const user = await signUp(server.url);
    // Open the connections first (anonymous requests verify no token), so that the burst arrives at once.
    await Promise.all(Array.from({ length: 200 }, () => postGraphQL(server.graphqlUrl, '{ serverVersion }')));
    expect(await burst(server.graphqlUrl, user.token, 1000)).toEqual({ 200: 1000 });
  });

  it('accepts, on each of three instances started together over one new database, the tokens all of them issue', async () => {
    const database = await createTestDatabase();
    try {
      const shared = { DATABASE_URL: database.url, BETTER_AUTH_SECRET: randomBytes(32).toString('base64') };
      const [balancer, ...ports] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
      // One public URL (the balancer's): issuer and audience are the same for all three. Each
      // instance's own origin is trusted so that the test can sign users up on each directly.
      const env = {
        ...shared,
        BETTER_AUTH_URL: `http://localhost:${balancer}`,
        TRUSTED_ORIGINS: ports.map((p) => `http://localhost:${p}`).join(','),
      };
      const instances = await Promise.all(ports.map((p) => boot({ ...env, PORT: String(p) })));
      const users = await Promise.all(instances.map((i) => signUp(i.url)));
      const kids = new Set(users.map((u) => decodeProtectedHeader(u.token).kid));
      for (const instance of instances) {
        for (const user of users) {
          expect({ kids: kids.size, statuses: await burst(instance.graphqlUrl, user.token, 30) }).toEqual({ kids: kids.size, statuses: { 200: 30 } });
        }
      }
    } finally {
      for (const s of servers.splice(0)) await s.stop();
      await database.drop();
    }
  });

  it('accepts, on a second instance started over the same database, a burst of tokens the first issued', async () => {
    const first = await boot();
    const user = await signUp(first.url);
    // Same database, secret and public URL: the shape of a restart, or of a second instance behind a balancer.
    const second = await boot({
      DATABASE_URL: first.config.databaseUrl!,
      BETTER_AUTH_SECRET: first.config.auth.secret,
      BETTER_AUTH_URL: first.config.auth.baseUrl,
    });
    expect(await burst(second.graphqlUrl, user.token, 200)).toEqual({ 200: 200 });
  });

  it('accepts a burst of tokens signed by a freshly rotated key, at every rotation', async () => {
    const server = await boot({ AUTH_KEY_ROTATION_SECONDS: '1' });
    const user = await signUp(server.url);
    let kid = decodeProtectedHeader(user.token).kid;
    for (let rotation = 0; rotation < 3; rotation++) {
      // Better Auth makes a new key when it signs after the interval: poll until it has.
      const token = await eventually(
        async () => {
          const fresh = await fetchToken(server.url, user.cookie);
          return decodeProtectedHeader(fresh).kid === kid ? undefined : fresh;
        },
        WAIT_MS,
        'a token signed by a new key',
      );
      kid = decodeProtectedHeader(token).kid;
      expect(await burst(server.graphqlUrl, token, 100)).toEqual({ 200: 100 });
    }
  });
});

describe('remote JWKS', () => {
  const ISSUER = 'https://auth.example.test';
  const AUDIENCE = 'taskgraph-api';

  it('with a slow key set endpoint: loads keys before listening, and makes a burst of new-key tokens wait for one reload', async () => {
    const first = await issuerKey('EdDSA');
    const jwks = await startJwksServer([first.publicJwk]);
    try {
      jwks.delay(700);
      const server = await boot({
        AUTH_MODE: 'remote-jwks',
        AUTH_JWKS_URL: jwks.url,
        AUTH_ISSUER: ISSUER,
        AUTH_AUDIENCE: AUDIENCE,
        AUTH_JWKS_COOLDOWN_SECONDS: '1',
      });
      const tokens = await Promise.all(Array.from({ length: 100 }, () => sign(first, claims(ISSUER, AUDIENCE))));
      const statuses = await Promise.all(tokens.map((t) => postGraphQL(server.graphqlUrl, '{ me { id } }', bearer(t)).then((r) => r.status)));
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
      expect(jwks.requests()).toBe(1);

      // The issuer rotates: a burst of tokens under a key the server has never seen shares one slow reload.
      const next = await issuerKey('EdDSA');
      jwks.serve([first.publicJwk, next.publicJwk]);
      await new Promise((resolve) => setTimeout(resolve, 1100)); // let the 1 s cooldown of the start-up load pass
      const rotated = await Promise.all(Array.from({ length: 100 }, () => sign(next, claims(ISSUER, AUDIENCE))));
      const after = await Promise.all(rotated.map((t) => postGraphQL(server.graphqlUrl, '{ me { id } }', bearer(t)).then((r) => r.status)));
      expect(after.filter((s) => s !== 200)).toEqual([]);
      expect(jwks.requests()).toBe(2);
    } finally {
      await jwks.close();
    }
  });
});
