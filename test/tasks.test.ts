import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateTaskDocument, DeleteTaskDocument, MeDocument, TaskDocument, TasksDocument, UpdateTaskDocument } from './generated/graphql.ts';
import { codes, execute, expectData } from './support/graphql.ts';
import { startServer, type TestServer } from './support/server.ts';
import { signUp, type TestUser } from './support/users.ts';

let server: TestServer;
let user: TestUser;
beforeAll(async () => {
  server = await startServer();
  user = await signUp(server.url, { name: 'Grace Hopper' });
});
afterAll(() => server.stop());

async function createTask(input: { title: string; description?: string | null; priority?: 'LOW' | 'MEDIUM' | 'HIGH'; dueAt?: string | null }) {
  return (await expectData(server.graphqlUrl, CreateTaskDocument, { input }, user.token)).createTask;
}

describe('me', () => {
  it('returns the signed-in user', async () => {
    const { me } = await expectData(server.graphqlUrl, MeDocument, {}, user.token);
    expect(me).toEqual({ id: user.id, email: user.email, name: 'Grace Hopper' });
  });
});

describe("creating, reading, changing and deleting one's own tasks", () => {
  it('creates a task with trimmed title, defaults and the viewer as owner', async () => {
    const before = Date.now();
    const task = await createTask({ title: '  Write the report  ' });
    expect(task).toMatchObject({
      title: 'Write the report',
      description: null,
      completed: false,
      priority: 'MEDIUM',
      dueAt: null,
      owner: { id: user.id, email: user.email },
    });
    expect(task.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Date.parse(task.createdAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(task.updatedAt).toBe(task.createdAt);
  });

  it('reads a task back by id with every field', async () => {
    const created = await createTask({
      title: 'Book flights',
      description: 'Window seat\n\tif possible',
      priority: 'HIGH',
      dueAt: '2026-12-24T09:30:00+01:00',
    });
    const { task } = await expectData(server.graphqlUrl, TaskDocument, { id: created.id }, user.token);
    expect(task).toEqual({ ...created, dueAt: '2026-12-24T08:30:00.000Z' });
  });

  it('updates only the given fields, clears nullable ones with null, and moves updatedAt', async () => {
    const created = await createTask({ title: 'Call Bob', description: 'about the offer', dueAt: '2027-01-05T00:00:00Z' });
    const { updateTask } = await expectData(
      server.graphqlUrl,
      UpdateTaskDocument,
      { id: created.id, input: { completed: true, description: null, dueAt: null, priority: 'LOW' } },
      user.token,
    );
    expect(updateTask).toMatchObject({
      id: created.id,
      title: 'Call Bob',
      description: null,
      dueAt: null,
      completed: true,
      priority: 'LOW',
      createdAt: created.createdAt,
    });
    // Two requests over HTTP apart, so the timestamp must have moved (>= would pass if it never did).
    expect(Date.parse(updateTask.updatedAt)).toBeGreaterThan(Date.parse(created.updatedAt));

    const { task } = await expectData(server.graphqlUrl, TaskDocument, { id: created.id }, user.token);
    expect(task).toEqual(updateTask);
  });

  it('deletes a task, returns its id, and then it is gone', async () => {
    const created = await createTask({ title: 'Temporary' });
    const { deleteTask } = await expectData(server.graphqlUrl, DeleteTaskDocument, { id: created.id }, user.token);
    expect(deleteTask).toBe(created.id);

    const read = await execute(server.graphqlUrl, TaskDocument, { id: created.id }, user.token);
    expect(codes(read)).toEqual(['NOT_FOUND']);
    expect(read.data?.task).toBeNull();
    const again = await execute(server.graphqlUrl, DeleteTaskDocument, { id: created.id }, user.token);
    expect(codes(again)).toEqual(['NOT_FOUND']);
  });

  it('lists the new tasks with a count, filtered by status, priority, text and due date', async () => {
    const fresh = await signUp(server.url);
    const make = (input: object) => expectData(server.graphqlUrl, CreateTaskDocument, { input: input as never }, fresh.token);
    const milk = (await make({ title: 'Buy milk', priority: 'HIGH', dueAt: '2026-12-01T00:00:00Z' })).createTask;
    const tax = (await make({ title: 'File taxes', description: 'Ask about the 100% deduction', dueAt: '2027-04-01T00:00:00Z' })).createTask;
    const plant = (await make({ title: 'Water plants', priority: 'LOW' })).createTask;
    await expectData(server.graphqlUrl, UpdateTaskDocument, { id: plant.id, input: { completed: true } }, fresh.token);

    const list = async (filter: object) => {
      const { tasks } = await expectData(server.graphqlUrl, TasksDocument, { filter }, fresh.token);
      return { count: tasks.totalCount, ids: tasks.nodes.map((t) => t.id) };
    };
    expect(await list({})).toEqual({ count: 3, ids: [plant.id, tax.id, milk.id] });
    expect(await list({ completed: true })).toEqual({ count: 1, ids: [plant.id] });
    expect(await list({ completed: false, priority: 'HIGH' })).toEqual({ count: 1, ids: [milk.id] });
    expect(await list({ search: 'MILK' })).toEqual({ count: 1, ids: [milk.id] });
    expect(await list({ search: 'deduction' })).toEqual({ count: 1, ids: [tax.id] });
    // LIKE wildcards in the search text are matched literally.
    expect(await list({ search: '100%' })).toEqual({ count: 1, ids: [tax.id] });
    expect(await list({ search: '%' })).toEqual({ count: 1, ids: [tax.id] });
    expect(await list({ search: '_' })).toEqual({ count: 0, ids: [] });
    expect(await list({ dueBefore: '2027-01-01T00:00:00Z' })).toEqual({ count: 1, ids: [milk.id] });
    expect(await list({ dueAfter: '2026-12-01T00:00:00Z' })).toEqual({ count: 1, ids: [tax.id] });
  });
});

describe('input validation: BAD_USER_INPUT naming the field, and nothing changes', () => {
  async function createError(input: object): Promise<{ code: unknown; field: unknown; status: number }> {
    const res = await execute(server.graphqlUrl, CreateTaskDocument, { input: input as never }, user.token);
    const error = res.errors?.[0];
    return { code: error?.extensions?.['code'], field: error?.extensions?.['field'], status: res.status };
  }

  async function countOwn(): Promise<number> {
    return (await expectData(server.graphqlUrl, TasksDocument, {}, user.token)).tasks.totalCount;
  }

  it('refuses titles that are empty after trimming or longer than 200 characters', async () => {
    const before = await countOwn();
    expect(await createError({ title: '' })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.title' });
    expect(await createError({ title: ' \n\t ' })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.title' });
    expect(await createError({ title: 'x'.repeat(201) })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.title' });
    expect(await countOwn()).toBe(before);
  });

  it('counts characters, not bytes: 200 emoji are a valid title', async () => {
    const title = '🦄'.repeat(200);
    expect((await createTask({ title })).title).toBe(title);
    expect(await createError({ title: '🦄'.repeat(201) })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.title' });
  });

  it('refuses descriptions over 10,000 characters and accepts exactly 10,000', async () => {
    expect(await createError({ title: 'a', description: 'd'.repeat(10_001) })).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.description',
    });
    expect((await createTask({ title: 'a', description: 'd'.repeat(10_000) })).description).toHaveLength(10_000);
  });

  it('refuses NUL and other control characters, but keeps tabs and newlines', async () => {
    expect(await createError({ title: 'nul\u0000byte' })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.title' });
    expect(await createError({ title: 'bell\u0007' })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.title' });
    expect(await createError({ title: 'ok', description: 'escape\u001b[31m' })).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.description',
    });
    const task = await createTask({ title: 'ok', description: 'line 1\r\nline 2\n\tindented' });
    expect(task.description).toBe('line 1\nline 2\n\tindented');
  });

  it('refuses malformed dates in variables with BAD_USER_INPUT naming dueAt', async () => {
    const res = await execute(server.graphqlUrl, CreateTaskDocument, { input: { title: 'x', dueAt: 'next tuesday' } }, user.token);
    expect(res.status).toBe(400);
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors?.[0]?.message).toContain('dueAt');
  });

  it('refuses malformed dates written inline in the query with BAD_USER_INPUT too', async () => {
    const res = await execute(server.graphqlUrl, 'mutation { createTask(input: { title: "x", dueAt: "next tuesday" }) { id } }', {}, user.token);
    expect(res.status).toBe(400);
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors?.[0]?.message).toContain('DateTime');
  });

  it('refuses dates outside the years 0001 to 9999, and stores the extremes exactly', async () => {
    const res = await execute(server.graphqlUrl, CreateTaskDocument, { input: { title: 'x', dueAt: '0000-06-01T00:00:00Z' } }, user.token);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.dueAt' });
    const filter = await execute(server.graphqlUrl, TasksDocument, { filter: { dueAfter: '0000-01-01T00:00:00Z' } }, user.token);
    expect(filter.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.dueAfter' });
    for (const dueAt of ['0001-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z']) {
      expect((await createTask({ title: 'edge', dueAt })).dueAt).toBe(dueAt);
    }
  });

  it('refuses literals of the wrong type written inline with BAD_USER_INPUT, as for variables', async () => {
    for (const query of [
      '{ tasks(first: "x") { totalCount } }',
      '{ tasks(first: 1.5) { totalCount } }',
      '{ tasks(orderBy: NOPE) { totalCount } }',
      '{ task(id: 1.5) { id } }',
    ]) {
      const res = await execute(server.graphqlUrl, query, {}, user.token);
      expect({ query, status: res.status, codes: codes(res) }).toEqual({ query, status: 400, codes: ['BAD_USER_INPUT'] });
    }
  });

  it('refuses C1 control characters too, and stores lone surrogates as U+FFFD consistently', async () => {
    expect(await createError({ title: 'next\u0085line' })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.title' });
    const created = await createTask({ title: 'half \ud800 pair' });
    expect(created.title).toBe('half \ufffd pair');
    const { task } = await expectData(server.graphqlUrl, TaskDocument, { id: created.id }, user.token);
    expect(task?.title).toBe(created.title);
  });

  it('refuses forged cursors with impossible dates as BAD_USER_INPUT, never a database error', async () => {
    const forge = (value: unknown[]) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const id = '01a20058-7344-76ce-96c2-fc510183c3ed';
    for (const [orderBy, after] of [
      ['CREATED_AT_DESC', forge(['CREATED_AT_DESC', '2026-02-30T00:00:00.000Z', id])],
      ['CREATED_AT_ASC', forge(['CREATED_AT_ASC', '0000-01-01T00:00:00.000Z', id])],
      ['DUE_AT_ASC', forge(['DUE_AT_ASC', '2026-13-01T00:00:00.000Z', id])],
      ['PRIORITY_DESC', forge(['PRIORITY_DESC', 1, '2026-04-31T00:00:00.000Z', id])],
    ] as const) {
      const res = await execute(server.graphqlUrl, TasksDocument, { orderBy, after }, user.token);
      expect({ orderBy, codes: codes(res) }).toEqual({ orderBy, codes: ['BAD_USER_INPUT'] });
    }
  });

  it('refuses malformed ids without touching the database', async () => {
    for (const id of ['42', 'not-a-uuid', "' or 1=1 --", '01a20058-7344-76ce-96c2-fc510183c3e']) {
      const res = await execute(server.graphqlUrl, TaskDocument, { id }, user.token);
      expect({ id, codes: codes(res), field: res.errors?.[0]?.extensions?.['field'] }).toEqual({
        id,
        codes: ['BAD_USER_INPUT'],
        field: 'id',
      });
    }
  });

  it('refuses page sizes outside 1 to 100 and over-long search text', async () => {
    for (const first of [0, -1, 101]) {
      const res = await execute(server.graphqlUrl, TasksDocument, { first }, user.token);
      expect({ first, codes: codes(res), field: res.errors?.[0]?.extensions?.['field'] }).toEqual({
        first,
        codes: ['BAD_USER_INPUT'],
        field: 'first',
      });
    }
    const res = await execute(server.graphqlUrl, TasksDocument, { filter: { search: 's'.repeat(201) } }, user.token);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.search' });
  });

  it('refuses null for fields that cannot be cleared, and changes nothing', async () => {
    const task = await createTask({ title: 'Keep me', priority: 'HIGH' });
    for (const input of [{ title: null }, { completed: null }, { priority: null }, { title: ' ', completed: true }]) {
      const res = await execute(server.graphqlUrl, UpdateTaskDocument, { id: task.id, input: input as never }, user.token);
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    }
    const { task: after } = await expectData(server.graphqlUrl, TaskDocument, { id: task.id }, user.token);
    expect(after).toEqual(task);
  });

  it('cannot set the owner through input: the field does not exist', async () => {
    const res = await execute(server.graphqlUrl, CreateTaskDocument, { input: { title: 'x', ownerId: 'someone' } as never }, user.token);
    expect(res.status).toBe(400);
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
  });
});
