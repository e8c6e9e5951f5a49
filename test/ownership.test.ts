import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateTaskDocument, DeleteTaskDocument, TaskDocument, TasksDocument, UpdateTaskDocument, type TaskFilter } from './generated/graphql.ts';
import { codes, execute, expectData } from './support/graphql.ts';
import type { TaskRepository } from '../src/tasks/task.repository.ts';
import { TaskService } from '../src/tasks/task.service.ts';
import { startServer, type TestServer } from './support/server.ts';
import { signUp, type TestUser } from './support/users.ts';

/**
 * Alice and Bob each have tasks. Nothing Bob sends can read, change, delete or reveal the content
 * of Alice's tasks; he learns at most that an id he already holds is not his (FORBIDDEN).
 */
let server: TestServer;
let alice: TestUser;
let bob: TestUser;
let aliceTask: { id: string; title: string; updatedAt: string };
let bobTask: { id: string };
const SECRET = 'Alice secret plan 7f3a';

beforeAll(async () => {
  server = await startServer();
  [alice, bob] = await Promise.all([signUp(server.url), signUp(server.url)]);
  aliceTask = (
    await expectData(
      server.graphqlUrl,
      CreateTaskDocument,
      { input: { title: SECRET, description: `${SECRET} details`, priority: 'HIGH', dueAt: '2026-12-31T00:00:00Z' } },
      alice.token,
    )
  ).createTask;
  bobTask = (await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: 'Bob task' } }, bob.token)).createTask;
});
afterAll(() => server.stop());

async function aliceSeesHerTaskUnchanged(): Promise<void> {
  const { task } = await expectData(server.graphqlUrl, TaskDocument, { id: aliceTask.id }, alice.token);
  expect(task).toMatchObject({ title: SECRET, completed: false, updatedAt: aliceTask.updatedAt });
}

describe("another user's task", () => {
  it('cannot be read: FORBIDDEN, and no field of it in the response', async () => {
    const res = await execute(server.graphqlUrl, TaskDocument, { id: aliceTask.id }, bob.token);
    expect(res.status).toBe(200);
    expect(codes(res)).toEqual(['FORBIDDEN']);
    expect(res.data).toEqual({ task: null });
    expect(JSON.stringify(res)).not.toContain('secret');
  });

  it('cannot be updated: FORBIDDEN, and it stays as it was', async () => {
    const res = await execute(server.graphqlUrl, UpdateTaskDocument, { id: aliceTask.id, input: { title: 'pwned', completed: true } }, bob.token);
    expect(codes(res)).toEqual(['FORBIDDEN']);
    expect(res.data).toBeNull();
    expect(JSON.stringify(res)).not.toContain('secret');
    await aliceSeesHerTaskUnchanged();
  });

  it('cannot be deleted: FORBIDDEN, and it still exists', async () => {
    const res = await execute(server.graphqlUrl, DeleteTaskDocument, { id: aliceTask.id }, bob.token);
    expect(codes(res)).toEqual(['FORBIDDEN']);
    await aliceSeesHerTaskUnchanged();
  });

  it('tells FORBIDDEN (exists, not yours) apart from NOT_FOUND (no such task)', async () => {
    const res = await execute(server.graphqlUrl, TaskDocument, { id: '01a20058-7344-76ce-96c2-fc510183c3ed' }, bob.token);
    expect(codes(res)).toEqual(['NOT_FOUND']);
  });

  it('stays hidden when asked for through aliases beside one of your own', async () => {
    const res = await execute(
      server.graphqlUrl,
      `query ($a: ID!, $b: ID!) {
        mine: task(id: $b) { id title }
        theirs: task(id: $a) { id title description owner { id email } }
        again: task(id: $a) { title }
      }`,
      { a: aliceTask.id, b: bobTask.id },
      bob.token,
    );
    expect(res.status).toBe(200);
    expect(res.data).toEqual({ mine: { id: bobTask.id, title: 'Bob task' }, theirs: null, again: null });
    expect(codes(res)).toEqual(['FORBIDDEN', 'FORBIDDEN']);
    expect(JSON.stringify(res)).not.toContain('secret');
    expect(JSON.stringify(res)).not.toContain(alice.email);
  });

  it('is never in lists or counts, whatever the filter or order', async () => {
    const filters: TaskFilter[] = [{}, { priority: 'HIGH' }, { search: 'secret' }, { dueBefore: '2027-01-01T00:00:00Z' }, { completed: false }];
    for (const orderBy of ['CREATED_AT_DESC', 'CREATED_AT_ASC', 'DUE_AT_ASC', 'PRIORITY_DESC'] as const) {
      for (const filter of filters) {
        const { tasks } = await expectData(server.graphqlUrl, TasksDocument, { filter, orderBy, first: 100 }, bob.token);
        const ids = tasks.nodes.map((t) => t.id);
        expect({ orderBy, filter, ids, totalCount: tasks.totalCount }).toEqual({
          orderBy,
          filter,
          ids: filter.search || filter.priority || filter.dueBefore ? [] : [bobTask.id],
          totalCount: filter.search || filter.priority || filter.dueBefore ? 0 : 1,
        });
      }
    }
  });

  it("cannot be reached with a cursor made from the other user's list", async () => {
    // Alice's newest task, made after Bob's: her list's first cursor lies after his task, newest first.
    const newest = (await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: `${SECRET} newest` } }, alice.token)).createTask;
    const { tasks } = await expectData(server.graphqlUrl, TasksDocument, { first: 1 }, alice.token);
    expect(tasks.nodes.map((t) => t.id)).toEqual([newest.id]);
    const res = await expectData(server.graphqlUrl, TasksDocument, { after: tasks.pageInfo.endCursor, first: 100 }, bob.token);
    // A cursor is only a position; Bob's list after it is still Bob's tasks, all of them, and only his.
    expect(res.tasks.nodes.map((t) => [t.id, t.owner.id])).toEqual([[bobTask.id, bob.id]]);
    expect(JSON.stringify(res)).not.toContain('secret');
  });
});

describe('many users at once', () => {
  it('never mixes data between concurrent requests of different users', async () => {
    const users = await Promise.all(Array.from({ length: 8 }, () => signUp(server.url)));
    await Promise.all(
      users.flatMap((u, i) =>
        Array.from({ length: 5 }, (_, n) => expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: `user ${i} task ${n}` } }, u.token)),
      ),
    );
    const lists = await Promise.all(
      users.flatMap((u, i) =>
        Array.from({ length: 4 }, async () => ({
          i,
          tasks: (await expectData(server.graphqlUrl, TasksDocument, { first: 100 }, u.token)).tasks,
        })),
      ),
    );
    expect(lists).toHaveLength(32);
    for (const { i, tasks } of lists) {
      expect(tasks.totalCount).toBe(5);
      // Each task's owner comes from its own row: all five are this user's.
      expect(tasks.nodes.map((t) => [t.title, t.owner.id]).sort()).toEqual([0, 1, 2, 3, 4].map((n) => [`user ${i} task ${n}`, users[i]!.id]));
    }
  });
});

describe('Task.owner', () => {
  // The HTTP tests above cannot show a task of someone else (no query returns one): this is the
  // field's own rule, on TaskService, through which every task reaches a client.
  it("is the user of the task's owner column, never merely whoever asks", () => {
    const viewer = { id: bob.id, email: bob.email, name: bob.name };
    // present() reads no data: it needs no repository.
    const service = new TaskService(null as unknown as TaskRepository, viewer);
    const row = {
      id: bobTask.id,
      title: 't',
      description: null,
      completed: false,
      priority: 'MEDIUM' as const,
      dueAt: null,
      createdAt: '',
      updatedAt: '',
      version: 1,
    };
    expect(service.present({ ...row, ownerId: bob.id }).owner).toEqual(viewer);
    expect(() => service.present({ ...row, ownerId: alice.id })).toThrow(/of another owner/);
  });
});
