import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { print } from 'graphql';
import pg from 'pg';
import { CreateTaskDocument, TaskEventsDocument, TasksDocument, UpdateTaskDocument, type TaskEventsSubscription } from './generated/graphql.ts';
import { codes, execute, expectData } from './support/graphql.ts';
import { closed, connected, eventually, liveClient, subscribe, type LiveClient } from './support/live.ts';
import { startPgBouncer, type PgBouncer } from './support/pgbouncer.ts';
import { startServer, type TestServer } from './support/server.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';
import { signUp, type TestUser } from './support/users.ts';

/**
 * The server behind Debian's PgBouncer 1.18 in transaction mode with its default settings (what
 * Neon's pooled endpoint and Supabase's port 6543 are): DATABASE_URL through PgBouncer, which
 * refuses startup parameters and cannot carry named prepared statements, and
 * DATABASE_URL_UNPOOLED straight to PostgreSQL for what needs a session.
 */

const STATEMENT_TIMEOUT_MS = 2_000;

/** The server's statements waiting on a lock, as PostgreSQL sees them (the test's own excluded). */
async function waitingStatements(client: pg.Client, database: string): Promise<number> {
  await client.query('select pg_stat_clear_snapshot()');
  const { rows } = await client.query<{ n: number }>(
    "select count(*)::int as n from pg_stat_activity where datname = $1 and wait_event_type = 'Lock' and pid <> pg_backend_pid()",
    [database],
  );
  return rows[0]?.n ?? 0;
}

/** What a describe below runs against: a server behind PgBouncer, one user, and the live clients to close. */
interface BehindPgBouncer {
  bouncer: PgBouncer;
  server: TestServer;
  user: TestUser;
  /** A graphql-ws client of `user`, closed after the describe. */
  live(): LiveClient;
  /** With `cut`: PgBouncer -> PostgreSQL, server -> PgBouncer and server -> PostgreSQL (direct). */
  proxies: TcpProxy[];
}

/**
 * Starts PgBouncer (transaction mode, its defaults) in front of the test PostgreSQL and a server whose
 * DATABASE_URL goes through it, before the describe's tests, and stops both after them.
 * `unpooled`: DATABASE_URL_UNPOOLED straight to PostgreSQL. `cut`: every one of those connections
 * through a proxy of the test's, which can cut it.
 */
function behindPgBouncer(options: { env?: Record<string, string>; unpooled: boolean; cut?: boolean }): BehindPgBouncer {
  const setup = { proxies: [] as TcpProxy[] } as unknown as BehindPgBouncer;
  const clients: LiveClient[] = [];
  setup.live = () => {
    const client = liveClient(setup.server.graphqlUrl, () => setup.user.token);
    clients.push(client);
    return client;
  };
  beforeAll(async () => {
    const adminUrl = process.env['TEST_ADMIN_DATABASE_URL']!;
    const admin = new URL(adminUrl);
    const proxy = async (host: string, port: number) => {
      const p = await startTcpProxy(host, port);
      setup.proxies.push(p);
      return p;
    };
    const upstream = options.cut ? await proxy(admin.hostname, Number(admin.port || 5432)) : undefined;
    setup.bouncer = await startPgBouncer(upstream ? upstream.urlFor(adminUrl) : adminUrl);
    const pooled = options.cut ? await proxy('127.0.0.1', setup.bouncer.port) : undefined;
    const direct = options.cut ? await proxy(admin.hostname, Number(admin.port || 5432)) : undefined;
    setup.server = await startServer(options.env ?? {}, {
      databaseUrl: (url) => (pooled ? pooled.urlFor(url) : setup.bouncer.urlFor(url)),
      ...(options.unpooled ? { unpooledUrl: (url: string) => (direct ? direct.urlFor(url) : url) } : {}),
    });
    setup.user = await signUp(setup.server.url);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose().catch(() => {})));
    await setup.server.stop();
    await setup.bouncer.stop();
    await Promise.all(setup.proxies.map((p) => p.close()));
  });
  return setup;
}

describe('behind PgBouncer in transaction mode, with DATABASE_URL_UNPOOLED', () => {
  const setup = behindPgBouncer({ env: { DB_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS) }, unpooled: true });

  it('starts, saying that statement bounds and statement names follow the pooler, and that its LISTEN connection hears', () => {
    const { server } = setup;
    const messages = server.logs.map((l) => String(l['msg']));
    expect(messages).toContainEqual(expect.stringMatching(/^DATABASE_URL does not take the statement bounds as startup parameters/));
    expect(messages).not.toContainEqual(expect.stringMatching(/^DATABASE_URL_UNPOOLED does not take/));
    // The self-check's notification, sent through the pooler as the triggers' are, reached it.
    expect(server.logs).toContainEqual(expect.objectContaining({ msg: 'listening for change notifications', checked: true }));
    expect(server.logs.filter((l) => Number(l['level']) >= 50)).toEqual([]);
  });

  it('serves 200 concurrent creates and reads', async () => {
    const { server, user } = setup;
    // Spread over users: one user's requests beyond their share of the pool (DB_POOL_MAX_PER_USER)
    // wait their turn, which is not what this measures.
    const users = [user, ...(await Promise.all(Array.from({ length: 7 }, () => signUp(server.url))))];
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const { token } = users[i % users.length]!;
        return i % 2 === 0
          ? execute(server.graphqlUrl, CreateTaskDocument, { input: { title: `concurrent ${i}` } }, token)
          : execute(server.graphqlUrl, TasksDocument, { first: 20 }, token);
      }),
    );
    expect(results.filter((r) => r.errors).map((r) => r.errors)).toEqual([]);
    const counts = await Promise.all(users.map(async (u) => (await expectData(server.graphqlUrl, TasksDocument, {}, u.token)).tasks.totalCount));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(100);
    // Named prepared statements failed through PgBouncer 1.18 and were retried unnamed, once said.
    const fallbacks = server.logs.filter((l) => String(l['msg']).startsWith('named prepared statements fail on DATABASE_URL'));
    expect(fallbacks.length).toBeLessThanOrEqual(1);
  });

  it('delivers a live update (LISTEN on the direct connection)', async () => {
    const { server, user } = setup;
    const live = setup.live();
    await connected(live);
    const sub = subscribe<TaskEventsSubscription, Record<string, never>>(live, TaskEventsDocument);
    const { createTask } = await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: 'heard' } }, user.token);
    // The subscribe message is not acknowledged: touch the task until an event for it arrives.
    let touches = 0;
    await eventually(
      async () => {
        if (sub.results.some((r) => r.data?.taskEvents.taskId === createTask.id)) return true;
        await expectData(server.graphqlUrl, UpdateTaskDocument, { id: createTask.id, input: { title: `heard ${++touches}` } }, user.token);
        return undefined;
      },
      5_000,
      () => `an event (saw ${JSON.stringify(sub.results)}, error ${String(sub.error)})`,
    );
  });

  it('ends a statement held on a lock inside PostgreSQL within the bound, leaving nothing waiting there', async () => {
    const { server, user } = setup;
    const { createTask } = await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: 'locked' } }, user.token);
    const locker = new pg.Client({ connectionString: server.database.url });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('select 1 from task where id = $1 for update', [createTask.id]);
      const res = await execute(server.graphqlUrl, UpdateTaskDocument, { id: createTask.id, input: { title: 'waited' } }, user.token);
      expect({ status: res.status, codes: codes(res) }).toEqual({ status: 503, codes: ['SERVICE_UNAVAILABLE'] });
      // lock_timeout ended it in PostgreSQL. Had only the client-side backstop (a second later) given
      // up, the statement would still wait there, on a server connection PgBouncer lent.
      expect(await waitingStatements(locker, server.database.name)).toBe(0);
    } finally {
      await locker.query('rollback').catch(() => {});
      await locker.end();
    }
    const { updateTask } = await expectData(server.graphqlUrl, UpdateTaskDocument, { id: createTask.id, input: { title: 'unlocked' } }, user.token);
    expect(updateTask.title).toBe('unlocked');
  });

  it('replays an idempotent retry and checks versions', async () => {
    const { server, user } = setup;
    const key = `pooler-${Date.now()}`;
    const post = () =>
      fetch(server.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}`, 'idempotency-key': key },
        body: JSON.stringify({ query: print(CreateTaskDocument), variables: { input: { title: 'once' } } }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { data?: { createTask: { id: string } } } }));
    const first = await post();
    const retry = await post();
    expect(first.status).toBe(200);
    expect(retry).toEqual(first);
    const { tasks } = await expectData(server.graphqlUrl, TasksDocument, { filter: { search: 'once' } }, user.token);
    expect(tasks.nodes.filter((t) => t.title === 'once')).toHaveLength(1);

    const id = first.body.data!.createTask.id;
    const stale = await execute(server.graphqlUrl, UpdateTaskDocument, { id, input: { title: 'twice', expectedVersion: 7 } }, user.token);
    expect(codes(stale)).toEqual(['CONFLICT']);
  });
});

/** The codes a subscription was refused with: an `error` message's, or a result's errors. */
function refusalCodes(sub: { error: unknown; results: Array<{ errors?: ReadonlyArray<{ extensions?: Record<string, unknown> }> }> }): unknown[] {
  const errors = Array.isArray(sub.error)
    ? (sub.error as Array<{ extensions?: Record<string, unknown> }>)
    : sub.results.flatMap((r) => r.errors ?? []);
  return errors.map((e) => e.extensions?.['code']);
}

describe('behind PgBouncer in transaction mode, without DATABASE_URL_UNPOOLED', () => {
  const setup = behindPgBouncer({ unpooled: false });

  it('logs an error naming DATABASE_URL_UNPOOLED: its LISTEN connection hears nothing', () => {
    const { server } = setup;
    const errors = server.logs.filter((l) => Number(l['level']) >= 50).map((l) => String(l['msg']));
    expect(errors).toEqual([
      expect.stringMatching(/did not reach this instance's LISTEN connection.*Set DATABASE_URL_UNPOOLED to a direct connection/),
    ]);
  });

  it('refuses subscriptions with SERVICE_UNAVAILABLE and serves HTTP (ready)', async () => {
    const { server, user } = setup;
    const live = setup.live();
    await connected(live);
    const sub = subscribe<TaskEventsSubscription, Record<string, never>>(live, TaskEventsDocument);
    await eventually(
      () => (sub.error !== undefined || sub.completed ? true : undefined),
      undefined,
      () => `an answer (saw ${JSON.stringify(sub.results)})`,
    );
    expect(refusalCodes(sub)).toEqual(['SERVICE_UNAVAILABLE']);

    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    const { createTask } = await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: 'over HTTP' } }, user.token);
    expect(createTask.title).toBe('over HTTP');
  });
});

describe("Neon's scale to zero: every connection, pooled and direct, cut at once", () => {
  // server -> PgBouncer, PgBouncer -> PostgreSQL, server -> PostgreSQL (DATABASE_URL_UNPOOLED):
  // a suspended compute drops all three, the LISTEN registration with them.
  const setup = behindPgBouncer({ unpooled: true, cut: true });

  /** Touches a task of the user until `sub` hears of it. */
  async function heard(sub: { results: Array<{ data?: TaskEventsSubscription | null }>; error: unknown }, what: string): Promise<void> {
    const { server, user } = setup;
    const { createTask } = await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: what } }, user.token);
    let touches = 0;
    await eventually(
      async () => {
        if (sub.results.some((r) => r.data?.taskEvents.taskId === createTask.id)) return true;
        await expectData(server.graphqlUrl, UpdateTaskDocument, { id: createTask.id, input: { title: `${what} ${++touches}` } }, user.token);
        return undefined;
      },
      undefined,
      () => `an event for "${what}" (saw ${JSON.stringify(sub.results)}, error ${String(sub.error)})`,
    );
  }

  const status = async (path: string) => (await fetch(`${setup.server.url}${path}`)).status;

  it('answers 503 while cut, then recovers by itself: HTTP, the LISTEN connection (checked again), and live updates', async () => {
    const { server, user } = setup;
    const before = setup.live();
    await connected(before);
    await heard(subscribe<TaskEventsSubscription, Record<string, never>>(before, TaskEventsDocument), 'before the cut');
    const listening = () => server.logs.filter((l) => l['msg'] === 'listening for change notifications' && l['checked'] === true).length;
    expect(listening()).toBe(1);

    for (const proxy of setup.proxies) proxy.cut();

    // Subscribers are told to resync (the socket closes with 1013; graphql-ws reconnects, and
    // the app subscribes again with its last cursor).
    expect(await closed(before)).toEqual({ code: 1013, reason: 'try again later' });
    const outage = await eventually(
      async () => {
        const res = await execute(server.graphqlUrl, TasksDocument, {}, user.token);
        return res.status === 503 ? res : undefined;
      },
      undefined,
      'a 503 from /graphql',
    );
    expect(codes(outage)).toEqual(['SERVICE_UNAVAILABLE']);
    await eventually(async () => ((await status('/readyz')) === 503 ? true : undefined), undefined, '/readyz 503');
    expect(await status('/healthz')).toBe(200);

    for (const proxy of setup.proxies) proxy.restore();

    // PgBouncer waits server_login_retry (15 s by default) after failed logins before trying again.
    await eventually(
      async () => ((await execute(server.graphqlUrl, TasksDocument, {}, user.token)).status === 200 ? true : undefined),
      45_000,
      '/graphql 200',
    );
    await eventually(async () => ((await status('/readyz')) === 200 ? true : undefined), 45_000, '/readyz 200');
    await eventually(() => (listening() >= 2 ? true : undefined), 45_000, 'the LISTEN connection, re-LISTENed and checked');
    expect(server.logs.map((l) => l['msg'])).toContain('LISTEN connection lost; reconnecting');

    const after = setup.live();
    await connected(after);
    await heard(subscribe<TaskEventsSubscription, Record<string, never>>(after, TaskEventsDocument), 'after the cut');
    // The check passed again after the reconnection: no instance left deaf by the outage.
    expect(server.logs.map((l) => String(l['msg']))).not.toContainEqual(expect.stringMatching(/did not reach this instance's LISTEN connection/));
  }, 180_000);
});

describe('shutdown behind PgBouncer in transaction mode', () => {
  // A lock wait that would outlast the test: only shutdown's cancel can end it.
  const setup = behindPgBouncer({ env: { SHUTDOWN_TIMEOUT_MS: '500', DB_STATEMENT_TIMEOUT_MS: '600000' }, unpooled: true });

  it('ends a write waiting on a lock through the pooler (terminated over DATABASE_URL_UNPOOLED); it rolls back', async () => {
    const { server, user } = setup;
    const { createTask } = await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: 'original' } }, user.token);
    const locker = new pg.Client({ connectionString: server.database.url });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('select 1 from task where id = $1 for update', [createTask.id]);
      const update = execute(
        server.graphqlUrl,
        UpdateTaskDocument,
        { id: createTask.id, input: { title: 'changed during shutdown' } },
        user.token,
      ).catch(() => undefined);
      await eventually(async () => ((await waitingStatements(locker, server.database.name)) > 0 ? true : undefined), undefined, 'the update to wait');

      await server.app.stop();
      expect(server.logs.map((l) => l['msg'])).toContain('database connections terminated; their transactions rolled back');
      expect((await update)?.data ?? null).toBeNull();
      // Nothing of the server's is left waiting on the server connection PgBouncer lent it: once the
      // lock goes, no write goes ahead.
      await eventually(async () => ((await waitingStatements(locker, server.database.name)) === 0 ? true : undefined), undefined, 'no waiting write');
      await locker.query('commit');
      const { rows } = await locker.query<{ title: string }>('select title from task where id = $1', [createTask.id]);
      expect(rows).toEqual([{ title: 'original' }]);
    } finally {
      await locker.query('rollback').catch(() => {});
      await locker.end();
    }
  });
});
