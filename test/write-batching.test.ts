import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { freePort } from '../src/db/embedded.ts';
import {
  CreateTaskDocument,
  TaskEventsDocument,
  TasksDocument,
  TasksWithEventsCursorDocument,
  UpdateTaskDocument,
  type TaskEventsSubscription,
} from './generated/graphql.ts';
import { codes, execute, expectData } from './support/graphql.ts';
import { eventually, liveClient, subscribe, type LiveClient } from './support/live.ts';
import { waitsOnLock } from './support/locks.ts';
import { until } from './support/poll.ts';
import { parseSamples, valueOf } from './support/prometheus.ts';
import { startServer, type TestServer } from './support/server.ts';
import { signUp, type TestUser } from './support/users.ts';

/**
 * Writes under load are batched (issue 25 item 5): while DB_WRITE_CONCURRENCY write statements are
 * in flight, the creates and the updates without text that arrive wait, and go to the database
 * together, many rows in one statement. Each write must still get exactly its own answer: its own
 * row, its own refusal, its own wait for a lock, as if it had been sent alone.
 *
 * The server sends one write statement at a time (DB_WRITE_CONCURRENCY=1). The tests make writes
 * wait on purpose: a create of `holder` is held on its usage row (locked here, as a transaction in
 * psql would), so that the one slot stays busy while the writes under test arrive and queue
 * (db_writes_waiting counts them); releasing it sends them all in one statement
 * (db_write_batch_size proves it). Bounds are raised so that a slow machine never times out a held
 * write: the test, not a clock, decides when it goes on.
 */

const MAX_TASKS = 5;

let server: TestServer;
let metricsUrl: string;
let holder: TestUser;
const clients: LiveClient[] = [];

beforeAll(async () => {
  const metricsPort = await freePort();
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  server = await startServer({
    METRICS_PORT: String(metricsPort),
    DB_WRITE_CONCURRENCY: '1',
    MAX_TASKS_PER_USER: String(MAX_TASKS),
    DB_STATEMENT_TIMEOUT_MS: '40000',
    DB_POOL_ACQUIRE_TIMEOUT_MS: '40000',
  });
  holder = await signUp(server.url);
  // The holder's usage row exists from its first task on: the row the slot is held on.
  await create(holder, 'first');
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose().catch(() => {})));
  await server.stop();
});

const create = (user: TestUser, title: string) => execute(server.graphqlUrl, CreateTaskDocument, { input: { title } }, user.token);
const update = (user: TestUser, id: string, input: Record<string, unknown>) =>
  execute(server.graphqlUrl, UpdateTaskDocument, { id, input }, user.token);
const created = async (user: TestUser, title: string) =>
  (await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title } }, user.token)).createTask;
const users = (n: number) => Promise.all(Array.from({ length: n }, () => signUp(server.url)));

async function connect(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: server.database.url });
  await client.connect();
  return client;
}

/** The server's write statements so far, by operation: how many, how many writes they carried, how many carried more than one. */
async function writeStatements(operation: 'create' | 'update'): Promise<{ statements: number; writes: number; batched: number }> {
  const samples = parseSamples(await (await fetch(metricsUrl)).text());
  const statements = valueOf(samples, 'db_write_batch_size_count', { operation }) ?? 0;
  return {
    statements,
    writes: valueOf(samples, 'db_write_batch_size_sum', { operation }) ?? 0,
    batched: statements - (valueOf(samples, 'db_write_batch_size_bucket', { operation, le: '1' }) ?? 0),
  };
}

async function writesWaiting(): Promise<number> {
  return valueOf(parseSamples(await (await fetch(metricsUrl)).text()), 'db_writes_waiting') ?? 0;
}

/**
 * Keeps the server's one write slot busy: a create of `holder` waits on its usage row, locked on a
 * connection of the test, until `release()`. Transactions stay short: only as long as the writes
 * under test take to arrive.
 */
async function holdWriteSlot(): Promise<{ release: () => Promise<void> }> {
  const lock = await connect();
  await lock.query('begin');
  await lock.query('select 1 from task_usage where owner_id = $1 for update', [holder.id]);
  const held = create(holder, 'holds the slot');
  await waitsOnLock(lock, "the holder's create to wait on its usage row");
  return {
    release: async () => {
      await lock.query('commit');
      await lock.end();
      expect((await held).errors).toBeUndefined();
    },
  };
}

/** Resolves once `n` writes wait for their turn: everything sent so far is queued behind the held slot. */
async function queued(n: number): Promise<void> {
  let now = 0;
  await until(
    () => `${n} writes waiting (${now} waiting)`,
    async () => (now = await writesWaiting()) === n,
  );
}

describe('writes sent together', () => {
  it("are each their user's: concurrent creates of many users all land, each with its owner, in one statement", async () => {
    const writers = await users(12);
    const before = await writeStatements('create');
    const slot = await holdWriteSlot();
    const results = writers.flatMap((user, u) => [0, 1].map(async (n) => ({ user, result: await create(user, `task ${n} of writer ${u}`) })));
    await queued(24);
    await slot.release();
    const answers = await Promise.all(results);

    for (const { user, result } of answers) {
      expect(result.errors).toBeUndefined();
      expect(result.data?.createTask.owner).toEqual({ id: user.id, email: user.email });
    }
    // Each user has exactly their two tasks, as they named them.
    for (const [u, user] of writers.entries()) {
      const { tasks } = await expectData(server.graphqlUrl, TasksDocument, { first: 10, orderBy: 'CREATED_AT_ASC' }, user.token);
      expect(tasks.nodes.map((t) => t.title).sort()).toEqual([`task 0 of writer ${u}`, `task 1 of writer ${u}`]);
    }
    // The holder's create alone, then the 24 in one statement.
    const after = await writeStatements('create');
    expect({
      statements: after.statements - before.statements,
      writes: after.writes - before.writes,
      batched: after.batched - before.batched,
    }).toEqual({
      statements: 2,
      writes: 25,
      batched: 1,
    });
  });

  it("refuse only the write past a quota: one user's create over MAX_TASKS_PER_USER fails alone, the others in its batch land", async () => {
    const [full, ...others] = await users(7);
    for (let i = 0; i < MAX_TASKS - 1; i++) await created(full!, `existing ${i}`);
    const before = await writeStatements('create');
    const slot = await holdWriteSlot();
    // Two creates of a user with room for one, among six creates of others.
    const mine = [create(full!, 'one more'), create(full!, 'and another')];
    const theirs = others.map((user) => create(user, 'mine'));
    await queued(8);
    await slot.release();

    const [a, b] = await Promise.all(mine);
    // Exactly one of the two fits; the other is refused with the quota's code, for this user only.
    expect([a!, b!].map((r) => (r.errors ? codes(r).join() : 'created')).sort()).toEqual(['QUOTA_EXCEEDED', 'created']);
    const refused = [a!, b!].find((r) => r.errors)!;
    expect(refused.errors?.[0]?.extensions).toEqual({ code: 'QUOTA_EXCEEDED', limit: MAX_TASKS, setting: 'MAX_TASKS_PER_USER' });
    for (const [i, result] of (await Promise.all(theirs)).entries()) {
      expect(result.errors).toBeUndefined();
      expect(result.data?.createTask.owner.id).toBe(others[i]!.id);
    }
    const { tasks } = await expectData(server.graphqlUrl, TasksDocument, { first: 10 }, full!.token);
    expect(tasks.totalCount).toBe(MAX_TASKS);
    // The eight were sent together first.
    expect((await writeStatements('create')).batched - before.batched).toBeGreaterThanOrEqual(1);
  });

  it('apply an update whose row is locked elsewhere once the lock goes, without holding up the others of its batch', async () => {
    const writers = await users(8);
    const tasks = await Promise.all(writers.map((user) => created(user, 'to complete')));
    const before = await writeStatements('update');
    // The first writer's task is locked by another session (an operator's open transaction).
    const rowLock = await connect();
    await rowLock.query('begin');
    await rowLock.query('select 1 from task where id = $1 for update', [tasks[0]!.id]);
    try {
      const slot = await holdWriteSlot();
      let lockedDone = false;
      const locked = update(writers[0]!, tasks[0]!.id, { completed: true }).finally(() => (lockedDone = true));
      const rest = writers.slice(1).map((user, i) => update(user, tasks[i + 1]!.id, { completed: true, priority: 'HIGH' }));
      await queued(8);
      await slot.release();

      // Every other update is applied while the locked row is still locked...
      for (const [i, result] of (await Promise.all(rest)).entries()) {
        expect(result.errors).toBeUndefined();
        expect(result.data?.updateTask).toMatchObject({
          id: tasks[i + 1]!.id,
          completed: true,
          priority: 'HIGH',
          version: 2,
          owner: { id: writers[i + 1]!.id },
        });
      }
      expect(lockedDone).toBe(false);
      // ...and the locked one waits for the lock (on its own), then applies once it goes.
      await waitsOnLock(rowLock, 'the update of the locked row to wait for it');
      await rowLock.query('commit');
      const result = await locked;
      expect(result.errors).toBeUndefined();
      expect(result.data?.updateTask).toMatchObject({ id: tasks[0]!.id, completed: true, version: 2, owner: { id: writers[0]!.id } });
    } finally {
      await rowLock.end();
    }
    expect((await writeStatements('update')).batched - before.batched).toBeGreaterThanOrEqual(1);
  });

  it("deliver each user's events in version order, once each", async () => {
    const writers = await users(4);
    const subs = await Promise.all(
      writers.map(async (user) => {
        const { tasks } = await expectData(server.graphqlUrl, TasksWithEventsCursorDocument, { first: 1 }, user.token);
        const client = liveClient(server.graphqlUrl, () => user.token);
        clients.push(client);
        return subscribe(client, TaskEventsDocument, { after: tasks.eventsCursor! });
      }),
    );
    const tasks = await Promise.all(writers.map((user) => created(user, 'versioned')));
    // The first update of each is sent in one batch; then each user changes their task four more
    // times, one change after the other, the users at once.
    const slot = await holdWriteSlot();
    const first = writers.map((user, u) => update(user, tasks[u]!.id, { completed: true }));
    await queued(4);
    await slot.release();
    for (const result of await Promise.all(first)) expect(result.errors).toBeUndefined();
    await Promise.all(
      writers.map(async (user, u) => {
        for (let n = 0; n < 4; n++) {
          const input = n % 2 === 0 ? { priority: n === 0 ? 'LOW' : 'HIGH' } : { completed: n === 1 ? false : true };
          expect((await update(user, tasks[u]!.id, input)).errors).toBeUndefined();
        }
      }),
    );

    // A last change of each user, after all the others: what came before its event is everything
    // the subscription gets of them (the feed is in order).
    const fences = await Promise.all(writers.map((user) => created(user, 'fence')));

    type Event = TaskEventsSubscription['taskEvents'];
    for (const [u, sub] of subs.entries()) {
      const events = await eventually(
        () => {
          const got = sub.results.flatMap((r) => (r.data ? [r.data.taskEvents] : []));
          const fence = got.findIndex((e) => e.taskId === fences[u]!.id);
          return fence >= 0 ? got.slice(0, fence) : undefined;
        },
        undefined,
        () => `writer ${u}'s fence event (got ${JSON.stringify(sub.results)}, error ${JSON.stringify(sub.error)})`,
      );
      expect(events.map((e: Event) => `${e.kind} ${e.taskId} v${e.version}`)).toEqual([
        `CREATED ${tasks[u]!.id} v1`,
        ...[2, 3, 4, 5, 6].map((v) => `UPDATED ${tasks[u]!.id} v${v}`),
      ]);
      expect(events.every((e: Event) => e.task === null || e.task.owner.id === writers[u]!.id)).toBe(true);
    }
  });
});
