import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateTaskDocument, DeleteTaskDocument, TaskDocument, UpdateTaskDocument } from './generated/graphql.ts';
import { codes, execute, expectData } from './support/graphql.ts';
import { startServer, type TestServer } from './support/server.ts';
import { signUp, type TestUser } from './support/users.ts';

/** Optimistic concurrency: `version` counts changes; `expectedVersion` makes a write conditional. */
let server: TestServer;
let alice: TestUser;
let bob: TestUser;
beforeAll(async () => {
  server = await startServer();
  [alice, bob] = await Promise.all([signUp(server.url), signUp(server.url)]);
});
afterAll(() => server.stop());

const create = async (title: string, user = alice) =>
  (await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title } }, user.token)).createTask;
const read = async (id: string) => {
  const { task } = await expectData(server.graphqlUrl, TaskDocument, { id }, alice.token);
  if (!task) throw new Error(`task ${id} not found`);
  return task;
};
const update = (id: string, input: Record<string, unknown>, user = alice) =>
  execute(server.graphqlUrl, UpdateTaskDocument, { id, input }, user.token);

describe('Task.version', () => {
  it('is 1 at creation and one more with each change', async () => {
    const task = await create('count my changes');
    expect(task.version).toBe(1);
    const first = await update(task.id, { completed: true });
    expect(first.data?.updateTask.version).toBe(2);
    const second = await update(task.id, { title: 'renamed', priority: 'HIGH' });
    expect(second.data?.updateTask.version).toBe(3);
    expect((await read(task.id)).version).toBe(3);
  });

  it('stays as it is when an update changes nothing', async () => {
    const task = await create('unchanged');
    const res = await update(task.id, {});
    expect(res.data?.updateTask).toEqual(task);
  });
});

describe('updateTask with expectedVersion', () => {
  it('applies when the version matches', async () => {
    const task = await create('v1');
    const res = await update(task.id, { title: 'v2', expectedVersion: 1 });
    expect(res.errors).toBeUndefined();
    expect(res.data?.updateTask).toMatchObject({ title: 'v2', version: 2 });
  });

  it('changes nothing on a mismatch and answers CONFLICT with the current version', async () => {
    const task = await create('stale');
    await update(task.id, { completed: true });
    const res = await update(task.id, { title: 'lost update', expectedVersion: 1 });
    expect(res.status).toBe(200);
    expect(res.data).toBeNull();
    expect(res.errors).toEqual([expect.objectContaining({ path: ['updateTask'], extensions: { code: 'CONFLICT', currentVersion: 2 } })]);
    expect(await read(task.id)).toMatchObject({ title: 'stale', completed: true, version: 2 });
  });

  it('of 20 concurrent updates sent with the same expected version, exactly one applies', async () => {
    const task = await create('contended');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => update(task.id, { title: `writer ${i}`, expectedVersion: 1 })));
    const applied = results.filter((r) => r.data?.updateTask);
    const refused = results.filter((r) => codes(r)[0] === 'CONFLICT');
    expect(applied).toHaveLength(1);
    expect(refused).toHaveLength(19);
    for (const r of refused) expect(r.errors?.[0]?.extensions).toEqual({ code: 'CONFLICT', currentVersion: 2 });
    const winner = applied[0]!.data!.updateTask;
    expect(winner.version).toBe(2);
    expect(await read(task.id)).toMatchObject({ title: winner.title, version: 2 });
  });

  it('without expectedVersion, the last write wins and every change counts', async () => {
    const task = await create('uncontended');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => update(task.id, { description: `writer ${i}` })));
    expect(results.every((r) => r.errors === undefined)).toBe(true);
    const versions = results.map((r) => r.data!.updateTask.version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
    const last = results.find((r) => r.data!.updateTask.version === 21)!.data!.updateTask;
    expect(await read(task.id)).toMatchObject({ description: last.description, version: 21 });
  });

  it("never tells another user's task version: FORBIDDEN, as without a version; a missing task is NOT_FOUND", async () => {
    const task = await create('alice only');
    for (const expectedVersion of [1, 7]) {
      const res = await update(task.id, { title: 'bob was here', expectedVersion }, bob);
      expect(res.errors?.map((e) => e.extensions)).toEqual([{ code: 'FORBIDDEN' }]);
    }
    const missing = await update('0190a7a4-0000-7000-8000-000000000000', { title: 'x', expectedVersion: 1 });
    expect(codes(missing)).toEqual(['NOT_FOUND']);
    expect(await read(task.id)).toMatchObject({ title: 'alice only', version: 1 });
  });

  it('refuses a version below 1 as bad input', async () => {
    const task = await create('versions start at 1');
    const res = await update(task.id, { title: 'x', expectedVersion: 0 });
    expect(res.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'input.expectedVersion' });
    expect((await read(task.id)).title).toBe('versions start at 1');
  });
});

describe('deleteTask with expectedVersion', () => {
  it('keeps the task on a mismatch (CONFLICT with the current version) and deletes it on a match', async () => {
    const task = await create('delete me carefully');
    await update(task.id, { completed: true });
    const stale = await execute(server.graphqlUrl, DeleteTaskDocument, { id: task.id, expectedVersion: 1 }, alice.token);
    expect(stale.errors?.map((e) => e.extensions)).toEqual([{ code: 'CONFLICT', currentVersion: 2 }]);
    expect((await read(task.id)).version).toBe(2);

    const current = await expectData(server.graphqlUrl, DeleteTaskDocument, { id: task.id, expectedVersion: 2 }, alice.token);
    expect(current.deleteTask).toBe(task.id);
    expect(codes(await execute(server.graphqlUrl, TaskDocument, { id: task.id }, alice.token))).toEqual(['NOT_FOUND']);
  });

  it("is FORBIDDEN on another user's task whatever the version", async () => {
    const task = await create('not bob');
    const res = await execute(server.graphqlUrl, DeleteTaskDocument, { id: task.id, expectedVersion: 1 }, bob.token);
    expect(codes(res)).toEqual(['FORBIDDEN']);
    expect((await read(task.id)).version).toBe(1);
  });
});
