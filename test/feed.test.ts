import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import {
  CreateTaskDocument,
  DeleteTaskDocument,
  TaskEventsDocument,
  TasksDocument,
  TasksWithEventsCursorDocument,
  UpdateTaskDocument,
  type TaskEventsSubscription,
} from './generated/graphql.ts';
import { expectData } from './support/graphql.ts';
import { closed, eventually, liveClient, subscribe, type LiveClient, type Subscription } from './support/live.ts';
import { startServer, type TestServer } from './support/server.ts';
import { startSilentProxy, type SilentProxy } from './support/silent-proxy.ts';
import { signUp, type TestUser } from './support/users.ts';

/**
 * Resumable live updates: every event carries a cursor, and `taskEvents(after:)` delivers every
 * change committed after that event exactly once, then continues live. Two instances share one
 * database; changes come through either, and straight from SQL as an operator would make them.
 */
type Event = TaskEventsSubscription['taskEvents'];
type Events = Subscription<TaskEventsSubscription>;

let a: TestServer;
let b: TestServer;
let sql: pg.Client;
const clients: LiveClient[] = [];

function sameDeployment(databaseUrl = a.database.url, extra: Record<string, string> = {}): Record<string, string> {
  return { DATABASE_URL: databaseUrl, BETTER_AUTH_SECRET: a.config.auth.secret, BETTER_AUTH_URL: a.config.auth.baseUrl, ...extra };
}

function open(server: TestServer, user: TestUser): LiveClient {
  const client = liveClient(server.graphqlUrl, () => user.token);
  clients.push(client);
  return client;
}

const received = (sub: Events): Event[] => sub.results.flatMap((r) => (r.data ? [r.data.taskEvents] : []));
const summary = (events: Event[]) => events.map((e) => `${e.kind} ${e.taskId} v${e.version}`);

/** Waits for `sub` to have received at least `n` events; says what it has otherwise. */
async function receivedAtLeast(sub: Events, n: number, timeoutMs = 10_000): Promise<Event[]> {
  return eventually(
    () => (received(sub).length >= n ? received(sub) : undefined),
    timeoutMs,
    () => `${n} events (got ${JSON.stringify(summary(received(sub)))}, error ${JSON.stringify(sub.error)})`,
  );
}

/** The errors a subscription ended with: a refusal of `subscribe` comes as a result with errors. */
async function refusal(sub: Events): Promise<unknown[]> {
  const errors = await eventually(
    () => sub.results.find((r) => r.errors)?.errors ?? (sub.error as Array<{ extensions?: unknown }> | undefined),
    5_000,
    'a refusal',
  );
  return errors.map((e) => (e as { extensions?: { code?: unknown } }).extensions?.code);
}

/**
 * Subscribes (from `after`, or the present) and waits until the subscription is in place: a probe
 * task of the user, touched until its event arrives, then deleted. Returns the subscription and
 * the cursor of the probe's deletion: everything after it is the test's own.
 */
async function live(server: TestServer, user: TestUser, after?: string): Promise<{ sub: Events; cursor: string }> {
  const sub = subscribe(open(server, user), TaskEventsDocument, after === undefined ? {} : { after });
  const { createTask } = await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: 'probe' } }, user.token);
  let touches = 0;
  await eventually(
    async () => {
      if (received(sub).some((e) => e.taskId === createTask.id)) return true;
      await expectData(server.graphqlUrl, UpdateTaskDocument, { id: createTask.id, input: { title: `probe ${++touches}` } }, user.token);
      return undefined;
    },
    10_000,
    () => `the subscription to be in place (${JSON.stringify(sub.results)}, error ${JSON.stringify(sub.error)})`,
  );
  await expectData(server.graphqlUrl, DeleteTaskDocument, { id: createTask.id }, user.token);
  const deleted = await eventually(() => received(sub).find((e) => e.taskId === createTask.id && e.kind === 'DELETED'), 10_000, 'the probe deletion');
  sub.results.length = 0;
  return { sub, cursor: deleted.cursor };
}

/**
 * Makes one more change and waits for it: every event `sub` got before it is all it will get of
 * what came earlier (the feed is in order), so the list can be compared exactly.
 */
const fences = new Set<string>();
async function settled(sub: Events, server: TestServer, user: TestUser): Promise<Event[]> {
  const { createTask } = await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: 'fence' } }, user.token);
  fences.add(createTask.id);
  const events = await eventually(
    () => {
      const all = received(sub);
      const at = all.findIndex((e) => e.taskId === createTask.id);
      // Earlier fences (they are changes too) are left out of what is compared.
      return at >= 0 ? all.slice(0, at).filter((e) => !fences.has(e.taskId)) : undefined;
    },
    10_000,
    () => `the fence event (got ${JSON.stringify(summary(received(sub)))}, error ${JSON.stringify(sub.error)})`,
  );
  expect(
    received(sub)
      .filter((e) => !fences.has(e.taskId) || e.taskId === createTask.id)
      .slice(events.length)
      .map((e) => e.taskId),
  ).toEqual([createTask.id]);
  return events;
}

beforeAll(async () => {
  a = await startServer();
  b = await startServer(sameDeployment());
  sql = new pg.Client({ connectionString: a.database.url });
  await sql.connect();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose().catch(() => {})));
  await sql.end();
  await b.stop();
  await a.stop();
});

describe('taskEvents(after:)', () => {
  it('gives a client that was away exactly the changes it missed, from both instances and from SQL, once each, in order, then continues', async () => {
    const alice = await signUp(a.url);
    const first = await live(a, alice);
    const { createTask: kept } = await expectData(a.graphqlUrl, CreateTaskDocument, { input: { title: 'kept' } }, alice.token);
    const [seen] = await receivedAtLeast(first.sub, 1);
    expect(seen).toMatchObject({ kind: 'CREATED', taskId: kept.id, version: 1, task: { title: 'kept' } });
    await clients.at(-1)!.dispose();

    // Away: changes through B, through A, and by an operator in psql (who bumps the version as the API does).
    await expectData(b.graphqlUrl, UpdateTaskDocument, { id: kept.id, input: { completed: true } }, alice.token);
    const { createTask: other } = await expectData(a.graphqlUrl, CreateTaskDocument, { input: { title: 'other' } }, alice.token);
    await sql.query(`update task set title = 'renamed in SQL', version = version + 1, updated_at = now() where id = $1`, [other.id]);
    const inserted = (
      await sql.query<{ id: string }>(
        `insert into task (id, owner_id, title, created_at, updated_at) values (gen_random_uuid(), $1, 'from SQL', now(), now()) returning id`,
        [alice.id],
      )
    ).rows[0]!.id;
    await expectData(b.graphqlUrl, DeleteTaskDocument, { id: kept.id }, alice.token);

    // Back, on the other instance, from the cursor of the last event it got.
    const back = subscribe(open(b, alice), TaskEventsDocument, { after: seen!.cursor });
    const missed = await settled(back, a, alice);
    expect(summary(missed)).toEqual([
      `UPDATED ${kept.id} v2`,
      `CREATED ${other.id} v1`,
      `UPDATED ${other.id} v2`,
      `CREATED ${inserted} v1`,
      `DELETED ${kept.id} v2`,
    ]);
    // The task as it is now; a task deleted since has none.
    expect(missed.map((e) => e.task?.title ?? null)).toEqual([null, 'renamed in SQL', 'renamed in SQL', 'from SQL', null]);
    expect(new Set(missed.map((e) => e.cursor)).size).toBe(missed.length);
  });

  it('delivers a transaction that began before an event but committed after it, live and on resuming from that event', async () => {
    const bob = await signUp(a.url);
    const { sub, cursor: start } = await live(a, bob);
    const { createTask: x } = await expectData(a.graphqlUrl, CreateTaskDocument, { input: { title: 'x' } }, bob.token);
    const { createTask: y } = await expectData(a.graphqlUrl, CreateTaskDocument, { input: { title: 'y' } }, bob.token);
    await receivedAtLeast(sub, 2);
    sub.results.length = 0;

    // Completing a task leaves its text alone, so neither transaction takes the owner's storage
    // counter (a text change would: the second would wait for the first and commit after it).
    // A lock wait is bounded all the same: a test that waits on a lock fails instead of hanging.
    const older = new pg.Client({ connectionString: a.database.url, options: '-c lock_timeout=5000' });
    const newer = new pg.Client({ connectionString: a.database.url, options: '-c lock_timeout=5000' });
    await Promise.all([older.connect(), newer.connect()]);
    try {
      await older.query('begin');
      await older.query(`update task set completed = true, version = version + 1 where id = $1`, [x.id]);
      await newer.query('begin');
      await newer.query(`update task set completed = true, version = version + 1 where id = $1`, [y.id]);
      const [olderXid, newerXid] = await Promise.all([
        older.query<{ x: string }>('select pg_current_xact_id()::text as x'),
        newer.query<{ x: string }>('select pg_current_xact_id()::text as x'),
      ]);
      expect(BigInt(olderXid.rows[0]!.x)).toBeLessThan(BigInt(newerXid.rows[0]!.x));
      await newer.query('commit');

      // The newer one is delivered while the older is still open...
      const [afterY] = await receivedAtLeast(sub, 1);
      expect(afterY).toMatchObject({ kind: 'UPDATED', taskId: y.id, version: 2 });
      await older.query('commit');
      // ...and the older one once it commits.
      const events = await receivedAtLeast(sub, 2);
      expect(summary(events)).toEqual([`UPDATED ${y.id} v2`, `UPDATED ${x.id} v2`]);

      // Resuming from the newer one's cursor gives the older one, and only it.
      const resumed = subscribe(open(b, bob), TaskEventsDocument, { after: afterY!.cursor });
      expect(summary(await settled(resumed, a, bob))).toEqual([`UPDATED ${x.id} v2`]);
      // Resuming from before both gives both, once each.
      const again = subscribe(open(a, bob), TaskEventsDocument, { after: start });
      expect(summary(await settled(again, b, bob))).toEqual([`CREATED ${x.id} v1`, `CREATED ${y.id} v1`, `UPDATED ${x.id} v2`, `UPDATED ${y.id} v2`]);
    } finally {
      await Promise.all([older.end(), newer.end()]);
    }
  });

  it('reads a large transaction in pages, and resumes in the middle of it without loss or repeat', async () => {
    const carol = await signUp(a.url);
    const { sub, cursor: before } = await live(a, carol);
    const n = 450;
    await sql.query(
      `insert into task (id, owner_id, title, created_at, updated_at)
       select gen_random_uuid(), $1, 'bulk ' || g, now(), now() from generate_series(1, $2::int) g`,
      [carol.id, n],
    );
    const all = await receivedAtLeast(sub, n);
    expect(all.map((e) => e.task?.title)).toEqual(Array.from({ length: n }, (_, i) => `bulk ${i + 1}`));

    // From before the transaction: all of it, in pages. From its 250th change: the other 200.
    const fromBefore = subscribe(open(b, carol), TaskEventsDocument, { after: before });
    expect((await settled(fromBefore, a, carol)).map((e) => e.task?.title)).toEqual(all.map((e) => e.task?.title));
    const fromMiddle = subscribe(open(b, carol), TaskEventsDocument, { after: all[249]!.cursor });
    expect((await settled(fromMiddle, a, carol)).map((e) => e.taskId)).toEqual(all.slice(250).map((e) => e.taskId));
  });

  it('gives with a list the cursor to subscribe from: every change committed after the list was read, none before', async () => {
    const heidi = await signUp(a.url);
    const { createTask: listed } = await expectData(a.graphqlUrl, CreateTaskDocument, { input: { title: 'listed' } }, heidi.token);
    const { tasks } = await expectData(b.graphqlUrl, TasksWithEventsCursorDocument, { first: 10 }, heidi.token);
    expect(tasks.nodes).toEqual([{ id: listed.id, version: 1 }]);
    expect(tasks.eventsCursor).toEqual(expect.any(String));
    // Only what selects it pays for it: a list without it has none.
    const { tasks: plain } = await expectData(a.graphqlUrl, TasksDocument, { first: 10 }, heidi.token);
    expect(plain).not.toHaveProperty('eventsCursor');

    await expectData(a.graphqlUrl, UpdateTaskDocument, { id: listed.id, input: { completed: true } }, heidi.token);
    const inserted = await sql.query<{ id: string }>(
      `insert into task (id, owner_id, title, created_at, updated_at) values (gen_random_uuid(), $1, 'from SQL', now(), now()) returning id`,
      [heidi.id],
    );
    const sub = subscribe(open(a, heidi), TaskEventsDocument, { after: tasks.eventsCursor! });
    expect(summary(await settled(sub, b, heidi))).toEqual([`UPDATED ${listed.id} v2`, `CREATED ${inserted.rows[0]!.id} v1`]);
    // Another user cannot use it.
    const ivan = await signUp(a.url);
    expect(await refusal(subscribe(open(a, ivan), TaskEventsDocument, { after: tasks.eventsCursor! }))).toEqual(['BAD_USER_INPUT']);
  });

  it("refuses another user's cursor and a malformed one with BAD_USER_INPUT", async () => {
    const [dave, erin] = await Promise.all([signUp(a.url), signUp(a.url)]);
    const { cursor } = await live(a, dave);
    const foreign = subscribe(open(a, erin), TaskEventsDocument, { after: cursor });
    expect(await refusal(foreign)).toEqual(['BAD_USER_INPUT']);
    for (const bad of ['', 'not a cursor', cursor.slice(0, -3), `${cursor}x`]) {
      expect(await refusal(subscribe(open(b, erin), TaskEventsDocument, { after: bad }))).toEqual(['BAD_USER_INPUT']);
    }
  });
});

describe('a short retention', () => {
  let short: TestServer;
  beforeAll(async () => {
    short = await startServer({ TASK_EVENTS_RETENTION_SECONDS: '3' });
  });
  afterAll(() => short.stop());

  it('refuses a cursor older than TASK_EVENTS_RETENTION_SECONDS with CURSOR_EXPIRED, prunes old changes, and keeps live subscriptions going', async () => {
    const frank = await signUp(short.url);
    const { sub, cursor } = await live(short, frank);
    await new Promise((r) => setTimeout(r, 3_500));
    expect(await refusal(subscribe(open(short, frank), TaskEventsDocument, { after: cursor }))).toEqual(['CURSOR_EXPIRED']);

    // Changes older than the retention (and a margin) are deleted; the live subscription still gets new ones.
    const count = () => pgCount(short, frank.id);
    await eventually(async () => ((await count()) === 0 ? true : undefined), 30_000, 'old changes to be pruned');
    const { createTask } = await expectData(short.graphqlUrl, CreateTaskDocument, { input: { title: 'after pruning' } }, frank.token);
    const [event] = await receivedAtLeast(sub, 1);
    expect(event).toMatchObject({ kind: 'CREATED', taskId: createTask.id });
  });
});

async function pgCount(server: TestServer, ownerId: string): Promise<number> {
  const client = new pg.Client({ connectionString: server.database.url });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>('select count(*) as n from task_change where owner_id = $1', [ownerId])).rows[0]!.n);
  } finally {
    await client.end();
  }
}

describe('an instance whose LISTEN connection is lost', () => {
  let proxy: SilentProxy;
  let c: TestServer;
  beforeAll(async () => {
    const target = new URL(a.database.url);
    proxy = await startSilentProxy(target.hostname, Number(target.port || 5432));
    c = await startServer(sameDeployment(Object.assign(new URL(a.database.url), { port: String(proxy.port) }).toString()));
  });
  afterAll(async () => {
    proxy.restore();
    await c.stop();
    await proxy.close();
  });

  it('closes its sockets (1013); a client resuming with its cursor gets the change made meanwhile', async () => {
    const grace = await signUp(a.url);
    const { sub, cursor } = await live(c, grace);
    proxy.silence();
    expect(await closed(clients.at(-1)!, 10_000)).toEqual({ code: 1013, reason: 'try again later' });
    const { createTask } = await expectData(a.graphqlUrl, CreateTaskDocument, { input: { title: 'made while C was deaf' } }, grace.token);
    proxy.restore();
    expect(received(sub)).toEqual([]);

    // The client comes back to C once it hears the database again, from its last cursor.
    const back = await eventually(
      async () => {
        const attempt = subscribe(open(c, grace), TaskEventsDocument, { after: cursor });
        const got = await eventually(
          () => (attempt.results.length > 0 || attempt.error !== undefined || attempt.completed ? true : undefined),
          5_000,
          'an answer',
        ).catch(() => false);
        return got && received(attempt).length > 0 ? attempt : undefined;
      },
      20_000,
      'C to serve again',
    );
    expect(summary(await settled(back, a, grace))).toEqual([`CREATED ${createTask.id} v1`]);
  });
});
