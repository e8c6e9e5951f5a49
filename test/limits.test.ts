import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CreateTaskDocument,
  DeleteTaskDocument,
  MeDocument,
  TaskDocument,
  TaskPageDocument,
  TasksDocument,
  UpdateTaskDocument,
} from './generated/graphql.ts';
import { codes, execute, expectData } from './support/graphql.ts';
import { startServer, type TestServer } from './support/server.ts';
import { signUp, type TestUser } from './support/users.ts';

/**
 * Operation limits, checked before anything runs: aliases, tokens, depth, directives and an
 * estimated cost (page sizes and totalCount included), fragments followed. Defaults here.
 */
let server: TestServer;
let user: TestUser;
beforeAll(async () => {
  server = await startServer();
  user = await signUp(server.url);
});
afterAll(() => server.stop());

const TASK_FIELDS = 'id title description completed priority dueAt createdAt updatedAt owner { id email name }';
const taskCount = async () =>
  (await expectData<{ tasks: { totalCount: number } }>(server.graphqlUrl, '{ tasks(first: 1) { totalCount } }', {}, user.token)).tasks.totalCount;

async function refused(query: string, code: string, message: string, variables: Record<string, unknown> = {}) {
  const res = await execute(server.graphqlUrl, query, variables, user.token);
  expect({ status: res.status, codes: codes(res), message: res.errors?.[0]?.message, data: res.data }).toEqual({
    status: 400,
    codes: [code],
    message,
    data: undefined,
  });
  return res;
}

describe('real client operations are never refused', () => {
  it('runs every operation of the client at the largest page size', async () => {
    const { createTask } = await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: 'limits' } }, user.token);
    await expectData(server.graphqlUrl, UpdateTaskDocument, { id: createTask.id, input: { completed: true } }, user.token);
    await expectData(server.graphqlUrl, MeDocument, {}, user.token);
    await expectData(server.graphqlUrl, TaskDocument, { id: createTask.id }, user.token);
    await expectData(server.graphqlUrl, TasksDocument, { first: 100 }, user.token);
    await expectData(server.graphqlUrl, TaskPageDocument, { first: 100 }, user.token);
    // The example app's list: a full page with edges, nodes, pageInfo, totalCount and owners.
    await expectData(
      server.graphqlUrl,
      `query List($after: String) { tasks(first: 100, after: $after) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { ${TASK_FIELDS} } } nodes { ${TASK_FIELDS} } } me { id email name } }`,
      {},
      user.token,
    );
    // A few aliases: two lists on one screen.
    await expectData(
      server.graphqlUrl,
      `{ open: tasks(first: 50, filter: { completed: false }) { totalCount nodes { ${TASK_FIELDS} } }
         done: tasks(first: 50, filter: { completed: true }) { totalCount nodes { ${TASK_FIELDS} } } }`,
      {},
      user.token,
    );
    await expectData(server.graphqlUrl, DeleteTaskDocument, { id: createTask.id }, user.token);
  });
});

describe('over a limit: HTTP 400, a coded error naming the limit, and nothing runs', () => {
  it('counts aliases at every level, __typename and fragments included (GRAPHQL_MAX_ALIASES, 30)', async () => {
    const before = await taskCount();
    const creates = Array.from({ length: 20 }, (_, i) => `c${i}: createTask(input: { title: "x" }) { id }`).join(' ');
    const nested = Array.from({ length: 10 }, (_, i) => `t${i}: __typename`).join(' ');
    await refused(
      `mutation { ${creates} ...More } fragment More on Mutation { one: createTask(input: { title: "y" }) { id ${nested} } }`,
      'TOO_MANY_ALIASES',
      'The operation uses 31 aliases; at most 30 are allowed (GRAPHQL_MAX_ALIASES).',
    );
    expect(await taskCount()).toBe(before);
    // Aliases below the root: 1,000 totalCount aliases would be 1,000 COUNT queries.
    const counts = Array.from({ length: 31 }, (_, i) => `n${i}: hasNextPage`).join(' ');
    await refused(
      `{ tasks(first: 1) { pageInfo { ${counts} } } }`,
      'TOO_MANY_ALIASES',
      'The operation uses 31 aliases; at most 30 are allowed (GRAPHQL_MAX_ALIASES).',
    );
    const thousand = Array.from({ length: 1000 }, (_, i) => `c${i}: totalCount`).join(' ');
    // The attack: over the alias limit first (and over the cost limit too, reported after it).
    const attack = await execute(server.graphqlUrl, `{ tasks { ${thousand} } }`, {}, user.token);
    expect({ status: attack.status, codes: codes(attack), message: attack.errors?.[0]?.message, data: attack.data }).toEqual({
      status: 400,
      codes: ['TOO_MANY_ALIASES', 'QUERY_TOO_COMPLEX'],
      message: 'The operation uses 1000 aliases; at most 30 are allowed (GRAPHQL_MAX_ALIASES).',
      data: undefined,
    });
    const thirty = Array.from({ length: 30 }, (_, i) => `n${i}: __typename`).join(' ');
    expect((await execute(server.graphqlUrl, `{ tasks(first: 1) { ${thirty} } }`, {}, user.token)).status).toBe(200);
  });

  it('refuses a document over the token limit without parsing it (GRAPHQL_MAX_TOKENS, 10000)', async () => {
    const fields = Array.from({ length: 20_000 }, () => '__typename').join(' ');
    await refused(`{ ${fields} }`, 'TOO_MANY_TOKENS', 'The operation uses more than 10000 tokens; at most 10000 are allowed (GRAPHQL_MAX_TOKENS).');
  });

  it('refuses nesting deeper than the depth limit, fragments followed (GRAPHQL_MAX_DEPTH, 10)', async () => {
    // The schema is only 5 levels deep; the depth is counted before fields are even checked.
    const eleven = `{ tasks { edges { node { owner { ...Deeper } } } } } fragment Deeper on User { a { b { c { d { e { f { g } } } } } } }`;
    const res = await execute(server.graphqlUrl, eleven, {}, user.token);
    expect(res.status).toBe(400);
    expect(res.errors?.find((e) => e.extensions?.['code'] === 'QUERY_TOO_COMPLEX')).toEqual({
      message: 'The operation uses 11 levels of nesting; at most 10 are allowed (GRAPHQL_MAX_DEPTH).',
      extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'GRAPHQL_MAX_DEPTH', max: 10, found: 11 },
    });
    await expectData(server.graphqlUrl, '{ tasks { edges { node { owner { ...Name } } } } } fragment Name on User { id name }', {}, user.token);
  });

  it('refuses more directives than the limit (GRAPHQL_MAX_DIRECTIVES, 20)', async () => {
    const fields = Array.from({ length: 21 }, () => 'id @include(if: true)').join(' ');
    await refused(`{ me { ${fields} } }`, 'QUERY_TOO_COMPLEX', 'The operation uses 21 directives; at most 20 are allowed (GRAPHQL_MAX_DIRECTIVES).');
  });

  it('estimates cost with page sizes and totalCount, assuming the largest page for a variable (GRAPHQL_MAX_COST, 5000)', async () => {
    const before = await taskCount();
    const page = `tasks(first: 100) { totalCount nodes { ${TASK_FIELDS} } }`;
    const res = await refused(
      `{ a: ${page} b: ${page} c: ${page} d: ${page} }`,
      'QUERY_TOO_COMPLEX',
      expect.stringMatching(/^The operation uses \d+ cost points; at most 5000 are allowed \(GRAPHQL_MAX_COST\)\.$/) as unknown as string,
    );
    expect(res.errors?.[0]?.extensions).toEqual({ code: 'QUERY_TOO_COMPLEX', limit: 'GRAPHQL_MAX_COST', max: 5000, found: expect.any(Number) });
    // The same with `first` as a variable: the estimate assumes the largest page, whatever the variable says.
    const variablePage = `tasks(first: $n) { totalCount nodes { ${TASK_FIELDS} } }`;
    await refused(
      `query ($n: Int) { a: ${variablePage} b: ${variablePage} c: ${variablePage} d: ${variablePage} }`,
      'QUERY_TOO_COMPLEX',
      expect.stringMatching(/GRAPHQL_MAX_COST/) as unknown as string,
      { n: 1 },
    );
    // totalCount weighs like a query: many of them cost more than a page.
    const totals = Array.from({ length: 25 }, (_, i) => `t${i}: tasks(first: 1) { totalCount }`).join(' ');
    await refused(`{ ${totals} }`, 'QUERY_TOO_COMPLEX', expect.stringMatching(/GRAPHQL_MAX_COST/) as unknown as string);
    expect(await taskCount()).toBe(before);
  });
});

describe('refusals that used to say nothing useful', () => {
  it('says what to do when validation stops at 100 errors', async () => {
    const unknown = Array.from({ length: 120 }, (_, i) => `nope${i}`).join(' ');
    const res = await execute(server.graphqlUrl, `{ me { ${unknown} } }`, {}, user.token);
    expect(res.status).toBe(400);
    expect(new Set(codes(res))).toEqual(new Set(['GRAPHQL_VALIDATION_FAILED']));
    expect(res.errors?.map((e) => e.message)).toContain(
      'The operation has more than 100 validation errors; validation stopped there. Fix the errors reported and send it again.',
    );
    expect(res.errors?.map((e) => e.message)).not.toContain('Too many validation errors, error limit reached. Validation aborted.');
  });

  it('refuses deeply nested variables and literals with a coded 400, never a 500', async () => {
    // Built as text: the client's own JSON.stringify would overflow on it first.
    const depth = 400_000;
    for (const type of ['String', 'TaskFilter', '[ID!]']) {
      const body = `{"query":"query ($v: ${type}) { me { id } }","variables":{"v":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
      const raw = await fetch(server.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
        body,
      });
      const json = (await raw.json()) as { errors?: Array<{ extensions?: { code?: string } }> };
      expect({ type, status: raw.status, codes: json.errors?.map((e) => e.extensions?.code) }).toEqual({
        type,
        status: 400,
        codes: [expect.not.stringMatching(/INTERNAL/)],
      });
    }
    const literal = `{ tasks(after: ${'['.repeat(1400)}${']'.repeat(1400)}) { totalCount } }`;
    const lit = await execute(server.graphqlUrl, literal, {}, user.token);
    expect(lit.status).toBe(400);
    expect(codes(lit)).not.toContain('INTERNAL_SERVER_ERROR');
  });

  it('refuses a document nested too deeply to parse with QUERY_TOO_COMPLEX, even with the token limit raised', async () => {
    const lax = await startServer({ GRAPHQL_MAX_TOKENS: '1000000', GRAPHQL_MAX_DEPTH: '100000' });
    try {
      for (const query of [
        `${'{ me '.repeat(20_000)}${'}'.repeat(20_000)}`,
        `{ tasks(after: ${'['.repeat(20_000)}${']'.repeat(20_000)}) { totalCount } }`,
      ]) {
        const res = await execute(lax.graphqlUrl, query);
        expect({ status: res.status, errors: res.errors }).toEqual({
          status: 400,
          errors: [
            { message: 'The operation or its variables are nested too deeply to process; flatten them.', extensions: { code: 'QUERY_TOO_COMPLEX' } },
          ],
        });
      }
    } finally {
      await lax.stop();
    }
  });
});
