import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DummyDriver, Kysely, PostgresAdapter, PostgresDialect, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';
import pg from 'pg';
import { Batcher } from '../src/db/batcher.ts';
import { PoolShare } from '../src/db/pool-share.ts';
import { isDatabaseUnavailable } from '../src/db/errors.ts';
import type { TaskTables } from '../src/tasks/task.entity.ts';
import { compileTemplate, slot, TaskRepository } from '../src/tasks/task.repository.ts';
import { CreateTaskDocument } from './generated/graphql.ts';
import { expectData } from './support/graphql.ts';
import { WAIT_MS } from './support/poll.ts';
import { startServer, type TestServer } from './support/server.ts';
import { signUp, type TestUser } from './support/users.ts';

/**
 * The scheduling of batched reads (src/db/batcher.ts), on its own: what goes to the database
 * when, with queries that finish when the test says. Then the task repository's side: its query
 * cache refuses what would leak between requests, and pages asked for at once really go as one
 * query (counted at the driver), each request getting its own page. That every shape of page
 * comes back right when batched is tested over HTTP in pagination.test.ts ("pages asked for all
 * at once").
 */

interface Call {
  shape: string;
  items: number[];
  finish: () => void;
  fail: (err: Error) => void;
}

function harness(concurrency: number, maxBatch = 100, maxWaitMs = 60_000, slowMs = Infinity, alone = (_item: number) => false) {
  const calls: Call[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const query = (shape: string, items: number[]) =>
    new Promise<number[]>((resolve, reject) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const done = () => (inFlight -= 1);
      calls.push({
        shape,
        items,
        finish: () => {
          done();
          resolve(items.map((i) => i * 10));
        },
        fail: (err) => {
          done();
          reject(err);
        },
      });
    });
  const batcher = new Batcher<number, number>({
    concurrency,
    maxBatch,
    maxWaitMs,
    runOne: async (shape, item) => (await query(shape, [item]))[0]!,
    runMany: (shape, items) => query(shape, items),
    alone,
    isTimeout: (err) => (err as { code?: unknown }).code === '57014',
    slowMs,
  });
  return { batcher, calls, maxInFlight: () => maxInFlight };
}

/** Lets the promise callbacks that are due run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('Batcher', () => {
  it('sends each request at once and on its own while fewer than `concurrency` are in flight', async () => {
    const { batcher, calls } = harness(3);
    const results = [batcher.run('a', 1, 'u1'), batcher.run('a', 2, 'u2'), batcher.run('b', 3, 'u3')];
    expect(calls.map((c) => c.items)).toEqual([[1], [2], [3]]);
    calls.forEach((c) => c.finish());
    expect(await Promise.all(results)).toEqual([10, 20, 30]);
  });

  it('makes requests that find every slot busy wait, then sends those of one shape together', async () => {
    const { batcher, calls, maxInFlight } = harness(2);
    const results = [1, 2, 3, 4, 5, 6].map((i) => batcher.run('a', i, `u${i}`));
    // Two in flight; four wait.
    expect(calls.map((c) => c.items)).toEqual([[1], [2]]);
    calls[0]!.finish();
    await settle();
    // One came back: all four waiting go in one query, in the order they came.
    expect(calls.map((c) => c.items)).toEqual([[1], [2], [3, 4, 5, 6]]);
    calls[1]!.finish();
    calls[2]!.finish();
    expect(await Promise.all(results)).toEqual([10, 20, 30, 40, 50, 60]);
    expect(maxInFlight()).toBe(2);
  });

  it('puts at most `maxBatch` requests in one query', async () => {
    const { batcher, calls } = harness(1, 3);
    const results = [1, 2, 3, 4, 5, 6, 7].map((i) => batcher.run('a', i, `u${i}`));
    calls[0]!.finish();
    await settle();
    expect(calls.at(-1)!.items).toEqual([2, 3, 4]);
    calls.at(-1)!.finish();
    await settle();
    expect(calls.at(-1)!.items).toEqual([5, 6, 7]);
    calls.at(-1)!.finish();
    expect(await Promise.all(results)).toEqual([10, 20, 30, 40, 50, 60, 70]);
  });

  it('never puts two shapes in one query, and lets waiting shapes take turns', async () => {
    const { batcher, calls } = harness(1, 2);
    const results = [
      batcher.run('a', 1, 'u1'),
      batcher.run('a', 2, 'u2'),
      batcher.run('b', 3, 'u3'),
      batcher.run('a', 4, 'u4'),
      batcher.run('a', 5, 'u5'),
      batcher.run('b', 6, 'u6'),
    ];
    for (let n = 1; n <= 4; n += 1) {
      calls.at(-1)!.finish();
      await settle();
    }
    // 'a' waited first, then 'b'; the rest of 'a' (over maxBatch) goes after 'b'.
    expect(calls.map((c) => [c.shape, c.items])).toEqual([
      ['a', [1]],
      ['a', [2, 4]],
      ['b', [3, 6]],
      ['a', [5]],
    ]);
    expect(await Promise.all(results)).toEqual([10, 20, 30, 40, 50, 60]);
  });

  it('fails every request of a failed query with its error, and goes on with the next', async () => {
    const { batcher, calls } = harness(1);
    const first = batcher.run('a', 1, 'u1');
    const batched = [batcher.run('a', 2, 'u2'), batcher.run('a', 3, 'u3')];
    const later = batcher.run('b', 4, 'u4');
    calls[0]!.finish();
    await settle();
    const outage = new Error('connection terminated');
    calls[1]!.fail(outage);
    await expect(first).resolves.toBe(10);
    for (const result of batched) await expect(result).rejects.toBe(outage);
    await settle();
    expect(calls[2]!.items).toEqual([4]);
    calls[2]!.finish();
    await expect(later).resolves.toBe(40);
  });

  it('fails a request that waited longer than maxWaitMs as the database being too slow, and never sends it', async () => {
    const { batcher, calls } = harness(1, 100, 50);
    const stuck = batcher.run('a', 1, 'u1');
    const waiting = batcher.run('a', 2, 'u2');
    const err = await waiting.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^Batch wait timeout/);
    // Reported like a pool that has no connection to give: 503 SERVICE_UNAVAILABLE, retry later.
    expect(isDatabaseUnavailable(err)).toBe(true);
    calls[0]!.finish();
    await expect(stuck).resolves.toBe(10);
    await settle();
    expect(calls.map((c) => c.items)).toEqual([[1]]);
  });
});

/** What PostgreSQL's statement_timeout raises. */
const statementTimeout = () => Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' });

describe("Batcher: each user's fair share", () => {
  it('gives one user at most half of the slots (at least one); their next request waits without counting as queued work', async () => {
    const { batcher, calls } = harness(2);
    const a = [1, 2, 3].map((i) => batcher.run('a', i, 'alice'));
    await settle();
    // A slot is free, but alice already has her one in flight.
    expect(calls.map((c) => c.items)).toEqual([[1]]);
    expect(batcher.oldestWaitMs()).toBe(0);
    const b = batcher.run('a', 4, 'bob');
    expect(calls.map((c) => c.items)).toEqual([[1], [4]]);
    calls[1]!.finish();
    await expect(b).resolves.toBe(40);
    calls[0]!.finish();
    await settle();
    // Then her waiting requests go, in her one slot: together, as nobody else's are waiting.
    expect(calls.map((c) => c.items)).toEqual([[1], [4], [2, 3]]);
    expect(batcher.stats()).toEqual({ inFlight: 1, users: 1, waiting: 0 });
    calls[2]!.finish();
    expect(await Promise.all(a)).toEqual([10, 20, 30]);
    expect(batcher.stats()).toEqual({ inFlight: 0, users: 0, waiting: 0 });
  });

  it("sends everyone's first request ahead of a user's second, whatever the shapes' turns", async () => {
    // Four slots: two per user.
    const { batcher, calls } = harness(4);
    const results = [batcher.run('x', 1, 'u1'), batcher.run('x', 2, 'u2'), batcher.run('x', 3, 'u3'), batcher.run('a', 4, 'alice')];
    // All four slots busy: alice's second (shape a, waiting first) and bob's first (shape b) wait.
    results.push(batcher.run('a', 5, 'alice'), batcher.run('b', 6, 'bob'));
    expect(calls).toHaveLength(4);
    calls[0]!.finish();
    await settle();
    expect(calls.at(-1)!.items).toEqual([6]);
    calls[1]!.finish();
    await settle();
    expect(calls.at(-1)!.items).toEqual([5]);
    for (const c of calls.slice(2)) c.finish();
    expect(await Promise.all(results)).toEqual([10, 20, 30, 40, 50, 60]);
  });

  it("puts at most a user's share of their requests in one batch", async () => {
    const { batcher, calls } = harness(2);
    const results = [batcher.run('x', 1, 'u1'), batcher.run('x', 2, 'u2')];
    results.push(...[3, 4, 5].map((i) => batcher.run('a', i, 'alice')), batcher.run('a', 6, 'bob'));
    calls[0]!.finish();
    await settle();
    expect(calls.at(-1)!.items).toEqual([3, 6]);
    for (let n = 0; n < 3; n++) {
      for (const c of calls) c.finish();
      await settle();
    }
    expect(await Promise.all(results)).toEqual([10, 20, 30, 40, 50, 60]);
  });

  it("reads each user's requests again on their own when their batch hits the statement timeout: the others succeed, the slow one is then read alone", async () => {
    const { batcher, calls } = harness(1);
    const first = batcher.run('a', 1, 'u1');
    const slow = batcher.run('a', 2, 'alice');
    const other = batcher.run('a', 3, 'carol');
    calls[0]!.finish();
    await settle();
    expect(calls[1]!.items).toEqual([2, 3]);
    calls[1]!.fail(statementTimeout());
    await settle();
    // Each user's again, at once, within the failed batch's slot.
    expect(calls.slice(2).map((c) => c.items)).toEqual([[2], [3]]);
    calls[3]!.finish();
    await expect(other).resolves.toBe(30);
    calls[2]!.fail(statementTimeout());
    await expect(slow).rejects.toThrow(/statement timeout/);
    await expect(first).resolves.toBe(10);
    expect(batcher.unbatched('alice')).toBe(true);
    expect(batcher.unbatched('carol')).toBe(false);

    // Alice's next read goes alone, and nobody joins her.
    const hold = batcher.run('x', 9, 'u9');
    const later = [batcher.run('a', 4, 'alice'), batcher.run('a', 5, 'dave'), batcher.run('a', 6, 'erin')];
    calls.at(-1)!.finish();
    await settle();
    expect(calls.at(-1)!.items).toEqual([4]);
    calls.at(-1)!.finish();
    await settle();
    expect(calls.at(-1)!.items).toEqual([5, 6]);
    calls.at(-1)!.finish();
    await expect(hold).resolves.toBe(90);
    expect(await Promise.all(later)).toEqual([40, 50, 60]);
    // Her read alone was fast this time: she is batched again.
    expect(batcher.unbatched('alice')).toBe(false);
  });

  it('never batches a request that is to be read alone', async () => {
    const { batcher, calls } = harness(1, 100, 60_000, Infinity, (item) => item === 3);
    const results = [1, 2, 3, 4].map((i) => batcher.run('a', i, `u${i}`));
    for (let n = 0; n < 3; n++) {
      calls.at(-1)!.finish();
      await settle();
    }
    expect(calls.map((c) => c.items)).toEqual([[1], [2, 4], [3]]);
    expect(await Promise.all(results)).toEqual([10, 20, 30, 40]);
  });

  it('marks a user whose read alone took slowMs or more as slow', async () => {
    const { batcher, calls } = harness(2, 100, 60_000, 20);
    const read = batcher.run('a', 1, 'alice');
    await new Promise((resolve) => setTimeout(resolve, 40));
    calls[0]!.finish();
    await expect(read).resolves.toBe(10);
    expect(batcher.unbatched('alice')).toBe(true);
  });

  it("fails a request that waited past maxWaitMs for its own user's share as such", async () => {
    const { batcher, calls } = harness(2, 100, 50);
    const stuck = batcher.run('a', 1, 'alice');
    const err = await batcher.run('a', 2, 'alice').catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^Batch wait timeout: this user's 1 reads in flight/);
    expect(isDatabaseUnavailable(err)).toBe(true);
    calls[0]!.finish();
    await expect(stuck).resolves.toBe(10);
  });
});

/** A Kysely that compiles PostgreSQL and runs nothing: for what happens before a query is sent. */
const compileOnly = new Kysely<TaskTables>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

describe("the repository's compiled-query cache", () => {
  const owned = (owner: never) => () => compileOnly.selectFrom('task').select('id').where('owner_id', '=', owner);

  it('refuses a query with a constant parameter: it would be compiled once and sent for everyone', () => {
    // An owner id written into the shape instead of slot('owner').
    expect(() => compileTemplate('owned', owned('user-a' as never), { owner: 'user-a' })).toThrow(/parameter \$1 is not a slot/);
  });

  it('refuses a slot that the values do not declare, and takes one they do', () => {
    expect(() => compileTemplate('owned', owned(slot('owner')), { id: 'x' })).toThrow(/slot owner is not among the values declared/);
    expect(compileTemplate('owned', owned(slot('owner')), { owner: 'user-a' }).slots).toEqual(['owner']);
  });
});

describe('pages asked for at once, against PostgreSQL', () => {
  let server: TestServer;
  let db: Kysely<TaskTables>;
  let users: TestUser[];
  const statements: string[] = [];
  beforeAll(async () => {
    server = await startServer();
    users = await Promise.all([signUp(server.url), signUp(server.url)]);
    for (const [i, user] of users.entries()) {
      for (let n = 0; n < 5; n++) {
        await expectData(
          server.graphqlUrl,
          CreateTaskDocument,
          { input: { title: `user ${i} task ${n}`, priority: n % 2 ? 'HIGH' : 'LOW' } },
          user.token,
        );
      }
    }
    // The repository on a Kysely of its own that records every statement it sends.
    db = new Kysely<TaskTables>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: server.database.url, max: 4 }) }),
      log: (event) => {
        if (event.level === 'query') statements.push(event.query.sql);
      },
    });
  });
  afterAll(async () => {
    await db.destroy();
    await server.stop();
  });

  it('are read in one query per shape once the page reads in flight are at the bound, each request getting its own page', async () => {
    const repo = new TaskRepository(db, {
      concurrentPages: 1,
      maxWaitMs: WAIT_MS,
      quotas: { maxTasksPerUser: 100, maxTaskTextBytesPerUser: 100_000 },
      share: new PoolShare({ perUser: 4, maxWaitMs: WAIT_MS }),
    });
    const asks = [0, 1, 0, 1, 0, 1].map((u, i) => ({ owner: users[u]!.id, filter: i < 4 ? {} : { priority: 2 }, limit: 3 + (i % 2) }));
    // One at a time: each on its own (nothing else in flight), as an idle server reads them.
    const alone = [];
    for (const ask of asks) alone.push(await repo.page(ask.owner, ask.filter, 'CREATED_AT_DESC', ask.limit));
    expect(alone.map((page) => page.length)).toEqual([3, 4, 3, 4, 2, 2]);

    // All at once, with one page read allowed in flight: the first (user 0's) goes at once, the
    // others wait and go together by shape, each user's share (one page) in each query: no filter,
    // users 1 and 0; priority, users 0 and 1; then user 1's last page without a filter, alone.
    statements.length = 0;
    const together = await Promise.all(asks.map((ask) => repo.page(ask.owner, ask.filter, 'CREATED_AT_DESC', ask.limit)));
    expect(together).toEqual(alone);
    const batched = statements.filter((s) => s.includes('unnest('));
    expect({ statements: statements.length, batched: batched.length }).toEqual({ statements: 4, batched: 2 });
  });
});
