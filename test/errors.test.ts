import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { CreateTaskDocument, TasksDocument } from './generated/graphql.ts';
import { codes, execute, expectData } from './support/graphql.ts';
import { startServer, type TestServer } from './support/server.ts';
import { signUp, type TestUser } from './support/users.ts';

async function sql(server: TestServer, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: server.database.url });
  await client.connect();
  await client.query(text);
  await client.end();
}

describe('unexpected errors', () => {
  let server: TestServer;
  let user: TestUser;
  beforeAll(async () => {
    server = await startServer();
    user = await signUp(server.url);
    await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: 'before the outage' } }, user.token);
  });
  afterAll(() => server.stop());

  it('are masked for the client and logged server-side with the request id', async () => {
    await sql(server, 'alter table task rename to task_moved_away');
    try {
      const res = await execute(server.graphqlUrl, TasksDocument, {}, user.token);
      const requestId = res.headers.get('x-request-id');
      expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.errors).toEqual([
        {
          message: 'Internal server error',
          locations: expect.any(Array),
          path: ['tasks'],
          extensions: { code: 'INTERNAL_SERVER_ERROR', requestId },
        },
      ]);
      expect(JSON.stringify(res)).not.toMatch(/relation|select|task_moved_away|stack/i);

      const logged = server.logs.find((l) => l['msg'] === 'unexpected error' && l['requestId'] === requestId);
      expect(logged).toBeDefined();
      expect(JSON.stringify(logged!['err'])).toContain('relation \\"task\\" does not exist');
    } finally {
      await sql(server, 'alter table task_moved_away rename to task');
    }
    const { tasks } = await expectData(server.graphqlUrl, TasksDocument, {}, user.token);
    expect(tasks.totalCount).toBe(1);
  });
});

describe('in production', () => {
  let server: TestServer;
  let user: TestUser;
  beforeAll(async () => {
    server = await startServer({ NODE_ENV: 'production' });
    user = await signUp(server.url);
  });
  afterAll(() => server.stop());

  it('turns introspection off, and the refusal names the setting that turns it on', async () => {
    const res = await execute(server.graphqlUrl, '{ __schema { types { name } } }', {}, user.token);
    expect(res.status).toBe(400);
    expect(codes(res)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(res.errors?.[0]?.message).toContain('GRAPHQL_INTROSPECTION=true');
    expect(res.errors?.[0]?.message).not.toContain('ApolloServer');
    expect(res.errors?.[0]?.extensions).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED', validationErrorCode: 'INTROSPECTION_DISABLED' });
  });

  it('serves no Sandbox landing page', async () => {
    const res = await fetch(server.graphqlUrl, { headers: { accept: 'text/html' } });
    expect(res.headers.get('content-type')).not.toContain('text/html');
    expect(await res.text()).not.toContain('embeddable-sandbox');
  });

  it('sends no stack traces and no schema hints', async () => {
    const invalid = await execute(server.graphqlUrl, '{ taks { id } }', {}, user.token);
    expect(invalid.errors?.[0]?.message).not.toContain('Did you mean');
    const bad = await execute(server.graphqlUrl, CreateTaskDocument, { input: { title: '' } }, user.token);
    expect(bad.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'input.title' });
  });
});

describe('in development', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ NODE_ENV: 'development' });
  });
  afterAll(() => server.stop());

  it('serves the Apollo Sandbox landing page at /graphql for browsers', async () => {
    const res = await fetch(server.graphqlUrl, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('embeddable-sandbox');
  });

  it('keeps CSRF prevention on: a simple GET operation without a preflight header is refused', async () => {
    const res = await fetch(`${server.graphqlUrl}?query=${encodeURIComponent('{ serverVersion }')}`);
    expect(res.status).toBe(400);
    const ok = await fetch(`${server.graphqlUrl}?query=${encodeURIComponent('{ serverVersion }')}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(ok.status).toBe(200);
  });
});
