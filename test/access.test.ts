import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { makeExecutableSchema } from '@graphql-tools/schema';
import {
  getNamedType,
  graphql,
  getNullableType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  type GraphQLField,
  type GraphQLInputType,
} from 'graphql';
import pg from 'pg';
import { authDirectiveTransformer, unguardedRootFields } from '../src/auth/auth.directive.ts';
import { Unauthenticated } from '../src/errors.ts';
import { buildSchema, loadTypeDefs } from '../src/graphql/schema.ts';
import { MeDocument } from './generated/graphql.ts';
import { codes, execute, expectData } from './support/graphql.ts';
import { startServer, type TestServer } from './support/server.ts';
import { signUp, type TestUser } from './support/users.ts';

let server: TestServer;
let user: TestUser;
beforeAll(async () => {
  server = await startServer();
  user = await signUp(server.url);
});
afterAll(() => server.stop());

const schema = buildSchema();
const rootFields = [schema.getQueryType()!, schema.getMutationType()!].flatMap((type) =>
  Object.values(type.getFields()).map((field) => ({ operation: type === schema.getQueryType() ? 'query' : 'mutation', field })),
);
const publicFields = ['serverVersion'];

/** A value of `type` that passes GraphQL validation, so the request reaches the field. */
function sample(type: GraphQLInputType): unknown {
  const named = getNamedType(type);
  if (isListType(getNullableType(type))) return [];
  if (isInputObjectType(named)) {
    return Object.fromEntries(
      Object.values(named.getFields())
        .filter((f) => isNonNullType(f.type))
        .map((f) => [f.name, sample(f.type)]),
    );
  }
  if (isLeafType(named)) {
    const samples: Record<string, unknown> = { ID: '01a20058-7344-76ce-96c2-fc510183c3ed', String: 'x', Int: 1, Boolean: true };
    return samples[named.name] ?? ('getValues' in named ? named.getValues()[0]!.name : 'x');
  }
  throw new Error(`no sample for ${String(type)}`);
}

function operationFor(operation: string, field: GraphQLField<unknown, unknown>): { query: string; variables: Record<string, unknown> } {
  const args = field.args.filter((a) => isNonNullType(a.type));
  const vars = args.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
  const selection = isLeafType(getNamedType(field.type)) ? '' : ' { __typename }';
  return {
    query: `${operation}${vars ? ` (${vars})` : ''} { ${field.name}${args.length ? `(${args.map((a) => `${a.name}: $${a.name}`).join(', ')})` : ''}${selection} }`,
    variables: Object.fromEntries(args.map((a) => [a.name, sample(a.type)])),
  };
}

describe('deny by default', () => {
  it('guards every root field of the schema with @auth, except the explicit public list', () => {
    expect(unguardedRootFields(schema)).toEqual([]);
    const guarded = rootFields.filter(({ field }) => !publicFields.includes(field.name)).map(({ field }) => field.name);
    expect(guarded.sort()).toEqual(['createTask', 'deleteTask', 'me', 'task', 'tasks', 'updateTask']);
  });

  it('refuses to build a schema with a root field that has neither @auth nor @public, naming it', () => {
    const typeDefs = [...loadTypeDefs(), 'extend type Query { leaky: String }', 'extend type Mutation { oops: Int }'];
    expect(() => authDirectiveTransformer(makeExecutableSchema({ typeDefs }))).toThrow(
      'Root fields without @auth or @public (add one to each): Query.leaky, Mutation.oops',
    );
  });

  it('keeps every field of an @auth type from an anonymous caller, however the type is reached', async () => {
    // A public field that returns a guarded type (a mistake this schema does not make): the type's
    // @auth still stops its fields from resolving, and the signed-in caller still gets them.
    const typeDefs = [...loadTypeDefs(), 'type Secret @auth { value: String }', 'extend type Query { leak: Secret @public }'];
    const guarded = authDirectiveTransformer(makeExecutableSchema({ typeDefs, resolvers: { Query: { leak: () => ({ value: 'secret' }) } } }));
    const run = (viewer: unknown) => graphql({ schema: guarded, source: '{ leak { value } }', contextValue: { viewer } });
    const anonymous = await run(null);
    expect(anonymous.data).toEqual({ leak: null });
    expect(anonymous.errors?.map((e) => e.originalError)).toEqual([expect.any(Unauthenticated)]);
    expect((await run({ id: user.id })).data).toEqual({ leak: { value: 'secret' } });
  });

  it.each(rootFields.filter(({ field }) => !publicFields.includes(field.name)).map((r) => [r.field.name, r] as const))(
    'refuses %s to an anonymous caller with 401 UNAUTHENTICATED',
    async (_name, { operation, field }) => {
      const { query, variables } = operationFor(operation, field);
      const res = await execute(server.graphqlUrl, query, variables);
      expect({ status: res.status, codes: codes(res) }).toEqual({ status: 401, codes: ['UNAUTHENTICATED'] });
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect((res.data as Record<string, unknown> | null | undefined)?.[field.name] ?? null).toBeNull();
    },
  );

  it('creates nothing for an anonymous createTask', async () => {
    // Counted in the database itself: an anonymous row would belong to nobody, so no user's
    // `tasks` query could ever show it.
    const title = `anon-${Date.now()}`;
    const rows = async () => {
      const db = new pg.Client({ connectionString: server.database.url });
      await db.connect();
      try {
        return (await db.query<{ n: number }>('select count(*)::int as n from task where title = $1', [title])).rows[0]!.n;
      } finally {
        await db.end();
      }
    };
    const anonymous = await execute(server.graphqlUrl, `mutation { createTask(input: { title: "${title}" }) { id } }`);
    expect({ status: anonymous.status, codes: codes(anonymous), data: anonymous.data ?? null }).toEqual({
      status: 401,
      codes: ['UNAUTHENTICATED'],
      data: null,
    });
    expect(await rows()).toBe(0);
    // The same mutation signed in does write the row that the count looks for.
    await expectData(server.graphqlUrl, `mutation { createTask(input: { title: "${title}" }) { id } }`, {}, user.token);
    expect(await rows()).toBe(1);
  });

  it('answers public fields anonymously, and keeps 200 when part of an operation succeeds', async () => {
    const ok = await execute<{ serverVersion: string }>(server.graphqlUrl, '{ serverVersion }');
    expect(ok.status).toBe(200);
    expect(ok.data?.serverVersion).toMatch(/^\d+\.\d+\.\d+/);

    const mixed = await execute(server.graphqlUrl, '{ serverVersion me { id } }');
    expect(mixed.status).toBe(401); // me is non-null: its error nulls the whole data
    const partial = await execute(server.graphqlUrl, '{ serverVersion task(id: "01a20058-7344-76ce-96c2-fc510183c3ed") { id } }');
    expect(partial.status).toBe(200);
    expect(partial.data).toEqual({ serverVersion: expect.any(String), task: null });
    expect(codes(partial)).toEqual(['UNAUTHENTICATED']);
  });
});

describe('the Authorization header', () => {
  const invalid = async (authorization: string) => {
    const res = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization },
      body: JSON.stringify({ query: '{ serverVersion }' }),
    });
    const body = (await res.json()) as { errors?: Array<{ message: string; extensions?: Record<string, unknown> }>; data?: unknown };
    return { status: res.status, challenge: res.headers.get('www-authenticate'), body };
  };

  it('accepts a real token from Better Auth', async () => {
    const { me } = await expectData(server.graphqlUrl, MeDocument, {}, user.token);
    expect(me.id).toBe(user.id);
  });

  it.each([
    ['garbage', 'Bearer not-a-jwt'],
    ['three garbage parts', 'Bearer abc.def.ghi'],
    ['a tampered payload', 'TAMPER'],
    ['a truncated signature', 'TRUNCATE'],
    ['another scheme', 'Basic dXNlcjpwYXNz'],
    ['an empty bearer', 'Bearer '],
    ['an oversized token', `Bearer ${'a'.repeat(10_000)}`],
  ])('refuses %s with 401 invalid_token for the whole request, even for public fields', async (_what, header) => {
    const [h, p, s] = user.token.split('.') as [string, string, string];
    const authorization =
      header === 'TAMPER'
        ? `Bearer ${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'someone-else' })).toString('base64url')}.${s}`
        : header === 'TRUNCATE'
          ? `Bearer ${h}.${p}.${s.slice(0, -4)}`
          : header;
    const { status, challenge, body } = await invalid(authorization);
    expect(status).toBe(401);
    expect(challenge).toMatch(/^Bearer error="invalid_token"/);
    expect(body.data).toBeUndefined();
    expect(body.errors).toEqual([{ message: 'The token is invalid.', extensions: { code: 'UNAUTHENTICATED' } }]);
  });

  it("does not accept Better Auth's session cookie or opaque session token in place of a JWT", async () => {
    const withCookie = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: user.cookie },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    expect(withCookie.status).toBe(401);

    const sessionToken = decodeURIComponent(user.cookie.split('=')[1]!.split('.')[0]!);
    const { status } = await invalid(`Bearer ${sessionToken}`);
    expect(status).toBe(401);
  });
});

describe('limits', () => {
  it('refuses an operation with more than 30 aliases, fragments included, before running any (GRAPHQL_MAX_ALIASES)', async () => {
    const aliases = Array.from({ length: 20 }, (_, i) => `a${i}: tasks(first: 5) { totalCount }`).join('\n');
    const res = await execute(
      server.graphqlUrl,
      `query { ${aliases} ...More } fragment More on Query { ${Array.from({ length: 11 }, (_, i) => `b${i}: me { id }`).join(' ')} }`,
      {},
      user.token,
    );
    expect(res.status).toBe(400);
    expect(codes(res)).toEqual(['TOO_MANY_ALIASES']);
    expect(res.errors?.[0]?.message).toBe('The operation uses 31 aliases; at most 30 are allowed (GRAPHQL_MAX_ALIASES).');

    const thirty = Array.from({ length: 30 }, (_, i) => `a${i}: me { id }`).join(' ');
    expect((await execute(server.graphqlUrl, `{ ${thirty} }`, {}, user.token)).status).toBe(200);
  });
});
