import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeProtectedHeader, type JWK } from 'jose';
import pg from 'pg';
import { MeDocument } from './generated/graphql.ts';
import { expectData } from './support/graphql.ts';
import { bearer, INVALID_TOKEN, postGraphQL } from './support/http.ts';
import { claims, hmac, issuerKey, sign, startJwksServer, unsigned, type JwksServer } from './support/issuer.ts';
import { startServer, type TestServer } from './support/server.ts';
import { fetchToken, signIn, signUp, type TestUser } from './support/users.ts';

/** Embedded mode: tokens forged against the real Better Auth keys of a running server. */
let server: TestServer;
let user: TestUser;
let serverKey: JWK & { kid: string };
let origin: string;

beforeAll(async () => {
  server = await startServer();
  user = await signUp(server.url);
  origin = new URL(server.url).origin;
  const { keys } = (await (await fetch(`${server.url}/api/auth/jwks`)).json()) as { keys: Array<JWK & { kid: string }> };
  serverKey = keys[0]!;
});
afterAll(() => server.stop());

const me = (token: string) => postGraphQL(server.graphqlUrl, '{ me { id } }', bearer(token));
/** Claims that would be accepted for `user` if only the signature were right. */
const forUser = () => claims(origin, origin, { sub: user.id, email: user.email });

describe('forged tokens against the server’s own keys', () => {
  it('accepts the genuine token (the baseline of this file)', async () => {
    expect((await me(user.token)).status).toBe(200);
  });

  it('refuses alg "none" in every spelling, with the real kid', async () => {
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      expect(await me(unsigned(forUser(), alg, serverKey.kid))).toEqual(INVALID_TOKEN);
    }
  });

  it("refuses HS256 tokens keyed with the server's public key in any encoding (algorithm confusion)", async () => {
    const secrets = [
      new TextEncoder().encode(JSON.stringify(serverKey)),
      new TextEncoder().encode(serverKey.x),
      Buffer.from(serverKey.x!, 'base64url'),
    ];
    for (const secret of secrets) {
      for (const alg of ['HS256', 'HS512']) {
        expect(await me(await hmac(secret, forUser(), { kid: serverKey.kid }, alg))).toEqual(INVALID_TOKEN);
      }
    }
  });

  it("refuses a token signed by another key that claims the server's kid", async () => {
    const attacker = await issuerKey('EdDSA');
    expect(await me(await sign({ ...attacker, kid: serverKey.kid }, forUser()))).toEqual(INVALID_TOKEN);
    expect(await me(await sign(attacker, forUser()))).toEqual(INVALID_TOKEN);
  });

  it('refuses key references in the header without fetching them', async () => {
    const listener: JwksServer = await startJwksServer([]);
    try {
      const attacker = await issuerKey('EdDSA');
      listener.serve([attacker.publicJwk]);
      for (const header of [{ jku: listener.url }, { x5u: listener.url }, { jwk: attacker.publicJwk }]) {
        expect(await me(await sign({ ...attacker, kid: serverKey.kid }, forUser(), header))).toEqual(INVALID_TOKEN);
      }
      expect(listener.requests()).toBe(0);
    } finally {
      await listener.close();
    }
  });
});

describe('a deleted account', () => {
  it("makes the account's unexpired token useless at once, and takes its tasks with it", async () => {
    const doomed = await signUp(server.url);
    const create = (token: string) => postGraphQL(server.graphqlUrl, 'mutation { createTask(input: { title: "mine" }) { id } }', bearer(token));
    expect((await create(doomed.token)).status).toBe(200);

    const res = await fetch(`${server.url}/api/auth/delete-user`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin, cookie: doomed.cookie },
      body: JSON.stringify({ password: doomed.password }),
    });
    expect(res.status).toBe(200);

    expect(await me(doomed.token)).toEqual(INVALID_TOKEN);
    expect(await create(doomed.token)).toEqual(INVALID_TOKEN);
    const client = new pg.Client({ connectionString: server.database.url });
    await client.connect();
    const { rows } = await client.query<{ n: number }>('select count(*)::int as n from task where owner_id = $1', [doomed.id]);
    await client.end();
    expect(rows[0]!.n).toBe(0);
    // Others are unaffected.
    expect((await me(user.token)).status).toBe(200);
  });
});

describe('an account deleted behind the server’s back (directly in the database)', () => {
  it('cannot create tasks: the foreign key refuses them and the caller gets UNAUTHENTICATED', async () => {
    const ghost = await signUp(server.url);
    expect((await me(ghost.token)).status).toBe(200); // the server now remembers the account
    const client = new pg.Client({ connectionString: server.database.url });
    await client.connect();
    await client.query('delete from "user" where id = $1', [ghost.id]);
    await client.end();

    const res = await postGraphQL(server.graphqlUrl, 'mutation { createTask(input: { title: "orphan" }) { id } }', bearer(ghost.token));
    expect(res.status).toBe(401);
    expect(res.body.errors?.map((e) => e.extensions?.['code'])).toEqual(['UNAUTHENTICATED']);
  });
});

describe('key rotation', () => {
  let rotating: TestServer;
  beforeAll(async () => {
    rotating = await startServer({ AUTH_KEY_ROTATION_SECONDS: '1', AUTH_KEY_GRACE_SECONDS: '3600' });
  });
  afterAll(() => rotating.stop());

  it('is picked up without a restart, and tokens of the previous key keep working in the grace period', async () => {
    const person = await signUp(rotating.url);
    const firstKid = decodeProtectedHeader(person.token).kid;
    await expectData(rotating.graphqlUrl, MeDocument, {}, person.token);

    await new Promise((resolve) => setTimeout(resolve, 1500));
    const next = await fetchToken(rotating.url, await signIn(rotating.url, person.email, person.password));
    expect(decodeProtectedHeader(next).kid).not.toBe(firstKid);

    expect((await expectData(rotating.graphqlUrl, MeDocument, {}, next)).me.id).toBe(person.id);
    expect((await expectData(rotating.graphqlUrl, MeDocument, {}, person.token)).me.id).toBe(person.id);
    const { keys } = (await (await fetch(`${rotating.url}/api/auth/jwks`)).json()) as { keys: unknown[] };
    expect(keys.length).toBeGreaterThanOrEqual(2);
  });
});
