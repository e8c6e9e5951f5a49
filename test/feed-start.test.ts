import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CompiledQuery } from 'kysely';
import pg from 'pg';
import { pino } from 'pino';
import { TaskChangeLog } from '../src/tasks/task.change-log.ts';
import { TaskFeed, type TaskEventRecord, type TaskEventStream } from '../src/tasks/task.feed.ts';
import { eventually } from './support/poll.ts';
import { startServer, type TestServer } from './support/server.ts';
import { signUp, type TestUser } from './support/users.ts';

/**
 * Where a subscription without `after` starts: at the present, i.e. a snapshot taken once it was
 * asked for. The instance's poll runs on its own clock and its shared position (the head) is
 * always a little behind; a subscription that took the head as its start would get changes
 * committed before it was asked for, or (joining a head read later) miss some committed after.
 *
 * The feed here is the server's own class over the test database, with a poll interval of an hour:
 * it reads the log only when a subscription wakes it, so the head is as stale as it can be, and
 * `await subscribe()` says exactly when the subscription started (no client can see that).
 */
let server: TestServer;
let pool: pg.Pool;
let feed: TaskFeed;
let alice: TestUser;
let bob: TestUser;
const streams: TaskEventStream[] = [];

async function insert(owner: TestUser, title: string): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    `insert into task (id, owner_id, title, created_at, updated_at) values (gen_random_uuid(), $1, $2, now(), now()) returning id`,
    [owner.id, title],
  );
  return rows[0]!.id;
}

/** A subscription and what it has received, as task titles. */
async function subscribe(owner: TestUser): Promise<{ titles: string[] }> {
  const stream = await feed.subscribe(owner.id);
  streams.push(stream);
  const got = { titles: [] as string[] };
  void (async () => {
    for await (const event of stream as AsyncIterable<TaskEventRecord>) got.titles.push(event.task?.title ?? `(${event.kind})`);
  })();
  return got;
}

/** Wakes the sleeping poll (a subscription's start does), until `check` holds. */
async function pollUntil<T>(what: string, check: () => T | undefined): Promise<T> {
  return eventually(
    async () => {
      const done = check();
      if (done !== undefined) return done;
      const kick = await feed.subscribe(bob.id);
      await kick.return();
      return undefined;
    },
    10_000,
    what,
  );
}

beforeAll(async () => {
  server = await startServer();
  alice = await signUp(server.url);
  bob = await signUp(server.url);
  pool = new pg.Pool({ connectionString: server.database.url, max: 4 });
  const db = {
    executeQuery: async <R>(query: CompiledQuery<R>) => {
      const result = await pool.query(query.sql, [...query.parameters]);
      return { rows: result.rows as R[], numAffectedRows: BigInt(result.rowCount ?? 0) };
    },
  };
  feed = new TaskFeed({ log: new TaskChangeLog(db), logger: pino({ level: 'silent' }), pollIntervalMs: 3_600_000, retentionSeconds: 86_400 });
});

afterAll(async () => {
  await Promise.all(streams.map((s) => s.return()));
  await feed.stop();
  await pool.end();
  await server.stop();
});

describe('taskEvents without after', () => {
  it('starts when it is asked for, not where the instance last read: nothing committed before, everything committed after', async () => {
    await insert(alice, 'before the first');
    const first = await subscribe(alice);
    await insert(alice, 'after the first');
    const second = await subscribe(alice);
    await insert(alice, 'after the second');
    const third = await subscribe(alice);
    await insert(alice, 'after the third');

    // Changes arrive in commit order: once each has the last change, it has all it will get of the earlier ones.
    await pollUntil('every subscription to have the last change', () =>
      [first, second, third].every((s) => s.titles.includes('after the third')) ? true : undefined,
    );
    expect(first.titles).toEqual(['after the first', 'after the second', 'after the third']);
    expect(second.titles).toEqual(['after the second', 'after the third']);
    expect(third.titles).toEqual(['after the third']);
  });

  it('gets a transaction that was open when it started and commits after', async () => {
    const early = await insert(alice, 'open across the start');
    const late = await insert(alice, 'committed first');
    const open = await pool.connect();
    try {
      // Completions, not new rows or titles: those wait on the owner's storage counter row (task_usage).
      await open.query('begin');
      await open.query(`update task set completed = true, version = version + 1 where id = $1`, [early]);
      const sub = await subscribe(alice);
      await pool.query(`update task set completed = true, version = version + 1 where id = $1`, [late]);
      await open.query('commit');
      await insert(alice, 'fence');
      await pollUntil('the fence', () => (sub.titles.includes('fence') ? true : undefined));
      // Read together, the two come in the order their transactions began; apart, in commit order.
      expect(sub.titles.slice(0, 2).sort()).toEqual(['committed first', 'open across the start']);
      expect(sub.titles.slice(2)).toEqual(['fence']);
    } finally {
      open.release();
    }
  });
});
