import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateTaskDocument, MeDocument, TasksDocument } from './generated/graphql.ts';
import { expectData } from './support/graphql.ts';
import { bearer, EXPIRED_TOKEN, INVALID_TOKEN, postGraphQL } from './support/http.ts';
import { claims, hmac, issuerKey, now, sign, startJwksServer, unsigned, type IssuerKey, type JwksServer } from './support/issuer.ts';
import { startServer, type TestServer } from './support/server.ts';
import { until } from './support/poll.ts';

/**
 * Remote-JWKS mode: Better Auth runs elsewhere (say, in a Next.js app); this server only verifies
 * its tokens against the published key set. The issuer here is the test's own, with real keys.
 */
const ISSUER = 'https://auth.example.test';
const AUDIENCE = 'taskgraph-api';

let jwks: JwksServer;
let server: TestServer;
let ed: IssuerKey;
let es: IssuerKey;

beforeAll(async () => {
  [ed, es] = await Promise.all([issuerKey('EdDSA'), issuerKey('ES256')]);
  jwks = await startJwksServer([ed.publicJwk, es.publicJwk]);
  server = await startServer({
    AUTH_MODE: 'remote-jwks',
    AUTH_JWKS_URL: jwks.url,
    AUTH_ISSUER: ISSUER,
    AUTH_AUDIENCE: AUDIENCE,
    AUTH_JWKS_COOLDOWN_SECONDS: '1',
    AUTH_MAX_TOKEN_AGE_SECONDS: '600',
  });
});
afterAll(async () => {
  await server.stop();
  await jwks.close();
});

const valid = (overrides = {}) => claims(ISSUER, AUDIENCE, overrides);
const me = (token: string) => postGraphQL(server.graphqlUrl, '{ me { id email } }', bearer(token));

// The server reloads its key set at most once per cooldown (1 s here): instead of sleeping past it,
// tests keep asking (`until`) until the reload has happened.
/** Sends tokens naming unknown kids until one of them has made the server fetch the key set again. */
async function untilReloaded(): Promise<void> {
  const before = jwks.requests();
  let n = 0;
  await until('the server reloads the key set', async () => {
    await me(await sign({ ...ed, kid: `unknown-kid-${n++}` }, valid()));
    return jwks.requests() > before;
  });
}

describe('remote-JWKS mode', () => {
  it('does not mount Better Auth', async () => {
    expect((await fetch(`${server.url}/api/auth/jwks`)).status).toBe(404);
    const signUp = await fetch(`${server.url}/api/auth/sign-up/email`, { method: 'POST', body: '{}' });
    expect(signUp.status).toBe(404);
  });

  it("accepts the issuer's EdDSA and ES256 tokens; the user is the token's subject", async () => {
    for (const key of [ed, es]) {
      const payload = valid();
      const token = await sign(key, payload);
      const data = await expectData(server.graphqlUrl, MeDocument, {}, token);
      expect(data.me).toEqual({ id: payload.sub, email: payload['email'], name: 'Test User' });
      const { createTask } = await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: 'from afar' } }, token);
      expect(createTask.owner.id).toBe(payload.sub);
      const { tasks } = await expectData(server.graphqlUrl, TasksDocument, {}, token);
      expect(tasks.nodes.map((t) => t.id)).toEqual([createTask.id]);
    }
  });
});

describe('claims', () => {
  it.each([
    ['without exp', { exp: undefined }],
    ['without iat', { iat: undefined }],
    ['without iss', { iss: undefined }],
    ['from another issuer', { iss: 'https://evil.example.test' }],
    ['without aud', { aud: undefined }],
    ['for another audience', { aud: 'another-api' }],
    ['with the audience in a list of others', { aud: ['another-api', 'yet-another'] }],
    ['without sub', { sub: undefined }],
    ['with an empty sub', { sub: '' }],
    ['with a blank sub', { sub: '   ' }],
    ['with a control character in sub', { sub: 'user\u0000x' }],
    ['with a sub over 255 characters', { sub: 's'.repeat(256) }],
    ['without email', { email: undefined }],
    ['not yet valid (nbf beyond the skew)', { nbf: now() + 120 }],
    ['issued in the future (iat beyond the skew)', { iat: now() + 120 }],
  ])('refuses a token %s', async (_what, overrides) => {
    const payload = Object.fromEntries(Object.entries(valid(overrides)).filter(([, v]) => v !== undefined));
    expect(await me(await sign(ed, payload))).toEqual(INVALID_TOKEN);
  });

  it('accepts a matching audience among several, and nbf, iat and exp within the 30 s skew', async () => {
    for (const overrides of [{ aud: ['other', AUDIENCE] }, { nbf: now() + 10 }, { iat: now() + 10 }, { exp: now() - 10 }]) {
      const res = await me(await sign(ed, valid(overrides)));
      expect({ overrides, status: res.status }).toEqual({ overrides, status: 200 });
    }
  });

  it('says TOKEN_EXPIRED for an expired token, so that clients refresh', async () => {
    expect(await me(await sign(ed, valid({ iat: now() - 120, exp: now() - 60 })))).toEqual(EXPIRED_TOKEN);
  });

  it('treats a token issued longer ago than the maximum age (600 s here, plus the skew) as expired, whatever its exp', async () => {
    expect(await me(await sign(ed, valid({ iat: now() - 700, exp: now() + 600 })))).toEqual(EXPIRED_TOKEN);
  });
});

describe('signatures and algorithms', () => {
  it('refuses alg "none" in every spelling', async () => {
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      expect(await me(unsigned(valid(), alg, ed.kid))).toEqual(INVALID_TOKEN);
    }
  });

  it("refuses HS256 tokens keyed with the issuer's public key (algorithm confusion)", async () => {
    const jwkJson = new TextEncoder().encode(JSON.stringify(ed.publicJwk));
    const rawX = Buffer.from(ed.publicJwk.x!, 'base64url');
    const xText = new TextEncoder().encode(ed.publicJwk.x);
    for (const secret of [jwkJson, rawX, xText]) {
      expect(await me(await hmac(secret, valid(), { kid: ed.kid }))).toEqual(INVALID_TOKEN);
    }
  });

  it('refuses tokens signed by a key the issuer does not publish, whatever kid they claim', async () => {
    const stranger = await issuerKey('EdDSA');
    expect(await me(await sign(stranger, valid()))).toEqual(INVALID_TOKEN);
    expect(await me(await sign({ ...stranger, kid: ed.kid }, valid()))).toEqual(INVALID_TOKEN);
  });

  it('refuses a token whose kid names a key of another type (jose throws a TypeError there)', async () => {
    const rsa = await issuerKey('RS256');
    // The published key says kid K is an RSA key; the token claims EdDSA with kid K.
    jwks.serve([ed.publicJwk, es.publicJwk, { ...rsa.publicJwk, alg: undefined }]);
    await untilReloaded();
    const forged = await sign({ ...ed, kid: rsa.kid }, valid());
    expect(await me(forged)).toEqual(INVALID_TOKEN);
    const confused = await sign({ ...es, kid: ed.kid }, valid());
    expect(await me(confused)).toEqual(INVALID_TOKEN);
    jwks.serve([ed.publicJwk, es.publicJwk]);
  });

  it('refuses tampered, truncated and garbled tokens', async () => {
    const token = await sign(ed, valid());
    const [h, p, s] = token.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const tampered = Buffer.from(JSON.stringify({ ...payload, sub: 'admin' })).toString('base64url');
    for (const bad of [
      `${h}.${tampered}.${s}`,
      `${h}.${p}.${s.slice(0, 20)}`,
      `${h}.${p}`,
      `${h}.${p}.${s}.${s}`,
      `${Buffer.from('[1,2,3]').toString('base64url')}.${p}.${s}`,
      `${Buffer.from('{"alg":').toString('base64url')}.${p}.${s}`,
      `${h}.${Buffer.from('not json').toString('base64url')}.${s}`,
      '....',
      Buffer.from(crypto.getRandomValues(new Uint8Array(300))).toString('base64url'),
    ]) {
      expect(await me(bad)).toEqual(INVALID_TOKEN);
    }
  });
});

describe('header fields that point elsewhere are never followed', () => {
  let listener: JwksServer;
  beforeAll(async () => {
    listener = await startJwksServer([]);
  });
  afterAll(() => listener.close());

  it('refuses jku, x5u, x5c and embedded jwk headers without any request to where they point', async () => {
    const attacker = await issuerKey('EdDSA');
    listener.serve([attacker.publicJwk]);
    const at = listener.url;
    const tokens = [
      await sign(attacker, valid(), { jku: at }),
      await sign(attacker, valid(), { x5u: at }),
      await sign(attacker, valid(), { jwk: attacker.publicJwk }),
      await sign(attacker, valid(), { x5c: ['MIIB'] }),
      // Even with a genuine key: a token carrying a key reference is refused outright.
      await sign(ed, valid(), { jku: at }),
    ];
    for (const token of tokens) expect(await me(token)).toEqual(INVALID_TOKEN);
    expect(listener.requests()).toBe(0);
  });

  it('survives kid injection attempts', async () => {
    for (const kid of ['../../../../etc/passwd', "' OR '1'='1", '{"$ne":null}', 'k'.repeat(300), '\u0000', `${jwks.url}?x=`]) {
      expect(await me(await sign({ ...ed, kid }, valid()))).toEqual(INVALID_TOKEN);
    }
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });
});

describe('the remote key set', () => {
  it('reloads once for a flood of unknown kids within the cooldown', async () => {
    // Floods until one arrives after the cooldown and reloads: that one must reload exactly once.
    let flood = 0;
    await until('a flood reloads the key set', async () => {
      const before = jwks.requests();
      const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => sign({ ...ed, kid: `made-up-${flood}-${i}` }, valid())));
      flood++;
      const results = await Promise.all(tokens.map(me));
      expect(results.every((r) => r.status === 401)).toBe(true);
      expect(jwks.requests() - before).toBeLessThanOrEqual(1);
      return jwks.requests() - before === 1;
    });
  });

  it('picks up a rotated key without a restart, and keeps accepting the old one while published', async () => {
    const next = await issuerKey('EdDSA');
    jwks.serve([ed.publicJwk, es.publicJwk, next.publicJwk]);
    await until('the new key is accepted', async () => (await me(await sign(next, valid()))).status === 200);
    expect((await me(await sign(ed, valid()))).status).toBe(200);
  });

  it('keeps serving the last good key set while the endpoint is down, and learns new keys when it is back', async () => {
    const later = await issuerKey('EdDSA');
    jwks.serve('down');
    // A reload attempt has failed before the checks below: they show the kept set, not an untried one.
    await untilReloaded();
    // Known keys keep working: fresh tokens (not in any cache) verify against the kept set.
    expect((await me(await sign(ed, valid()))).status).toBe(200);
    expect((await me(await sign(es, valid()))).status).toBe(200);
    // A key the server has never seen cannot be learnt while the endpoint is down.
    expect(await me(await sign(later, valid()))).toEqual(INVALID_TOKEN);

    jwks.serve([ed.publicJwk, later.publicJwk]);
    await until('the new key is accepted once the endpoint is back', async () => (await me(await sign(later, valid()))).status === 200);
  });

  it('stops accepting a key the issuer no longer publishes, even for tokens it verified before', async () => {
    jwks.serve([ed.publicJwk, es.publicJwk]);
    await until('the ES256 key is accepted again', async () => (await me(await sign(es, valid()))).status === 200);
    const seenBefore = await sign(es, valid());
    expect((await me(seenBefore)).status).toBe(200);
    jwks.serve([ed.publicJwk]);
    // An unknown kid forces a reload; the new set no longer has the ES256 key.
    await untilReloaded();
    expect(await me(await sign(es, valid()))).toEqual(INVALID_TOKEN);
    expect(await me(seenBefore)).toEqual(INVALID_TOKEN);
    jwks.serve([ed.publicJwk, es.publicJwk]);
  });
});

describe('only the Authorization header authenticates', () => {
  it('ignores a token in the query string', async () => {
    const token = await sign(ed, valid());
    for (const param of ['access_token', 'token', 'authorization']) {
      const res = await fetch(`${server.graphqlUrl}?${param}=${token}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ me { id } }' }),
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
    }
  });
});

describe('a JWKS endpoint that has never answered', () => {
  it('is asked at most once per cooldown, however many tokens arrive', async () => {
    const dead = await startJwksServer('down');
    const lonely = await startServer({
      AUTH_MODE: 'remote-jwks',
      AUTH_JWKS_URL: dead.url,
      AUTH_ISSUER: ISSUER,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_JWKS_COOLDOWN_SECONDS: '30',
    });
    try {
      const tokens = await Promise.all(Array.from({ length: 30 }, () => sign(ed, valid())));
      for (const token of tokens) {
        expect(await postGraphQL(lonely.graphqlUrl, '{ me { id } }', bearer(token))).toEqual(INVALID_TOKEN);
      }
      expect(dead.requests()).toBeLessThanOrEqual(1);
    } finally {
      await lonely.stop();
      await dead.close();
    }
  });
});
