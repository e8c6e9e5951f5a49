import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { USER_CACHE_TTL_MS } from '../src/users/user.directory.ts';
import { CreateTaskDocument, MeDocument, TaskEventsDocument, UpdateTaskDocument, type TaskEventsSubscription } from './generated/graphql.ts';
import { execute, expectData } from './support/graphql.ts';
import { closed, connected, eventually, liveClient, subscribe, type LiveClient, type Subscription } from './support/live.ts';
import { WAIT_MS } from './support/poll.ts';
import { startServer, type TestServer } from './support/server.ts';
import { startSilentProxy, type SilentProxy } from './support/silent-proxy.ts';
import { signUp, type TestUser } from './support/users.ts';

/**
 * Several instances of the server on one database, as behind a load balancer: what one instance
 * commits, every other one hears through PostgreSQL LISTEN/NOTIFY.
 */
let a: TestServer;
let b: TestServer;
const clients: LiveClient[] = [];

/** Another instance on `a`'s database, with the same Better Auth secret and issuer (one deployment). */
function sameDeployment(databaseUrl = a.database.url): Record<string, string> {
  return { DATABASE_URL: databaseUrl, BETTER_AUTH_SECRET: a.config.auth.secret, BETTER_AUTH_URL: a.config.auth.baseUrl };
}

function open(server: TestServer, user: TestUser, options: Parameters<typeof liveClient>[2] = {}): LiveClient {
  const client = liveClient(server.graphqlUrl, () => user.token, options);
  clients.push(client);
  return client;
}

type Events = Subscription<TaskEventsSubscription>;
/** Tasks created only to find out that a subscription is in place; left out of what tests compare. */
const probes = new Set<string>();
const events = (sub: Events) => sub.results.map((r) => r.data?.taskEvents).filter((e) => !e || !probes.has(e.taskId));

/** Touches a task of `user` through `url` until `sub` hears of it: the subscription is in place. */
async function primed(sub: Events, url: string, user: TestUser, diagnose: () => unknown = () => ''): Promise<void> {
  const { createTask } = await expectData(url, CreateTaskDocument, { input: { title: 'probe' } }, user.token);
  probes.add(createTask.id);
  let touches = 0;
  await eventually(
    async () => {
      if (sub.results.some((r) => r.data?.taskEvents.taskId === createTask.id)) return true;
      // A new title each time: an update that changes nothing writes nothing, and notifies nobody.
      await expectData(url, UpdateTaskDocument, { id: createTask.id, input: { title: `probe ${++touches}` } }, user.token);
      return undefined;
    },
    WAIT_MS,
    () => `the subscription to be in place (it saw ${JSON.stringify(sub.results)}, error ${String(sub.error)}) ${JSON.stringify(diagnose())}`,
  );
}

beforeAll(async () => {
  a = await startServer();
  b = await startServer(sameDeployment());
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose().catch(() => {})));
  await b.stop();
  await a.stop();
});

describe('two instances on one database', () => {
  it('deliver a change made through instance B to a subscriber on instance A, and to nobody else', async () => {
    const [alice, bob] = await Promise.all([signUp(a.url), signUp(a.url)]);
    const aliceSub = subscribe(open(a, alice), TaskEventsDocument);
    const bobOnA = subscribe(open(a, bob), TaskEventsDocument);
    const bobOnB = subscribe(open(b, bob), TaskEventsDocument);
    await primed(aliceSub, b.graphqlUrl, alice);
    await primed(bobOnA, b.graphqlUrl, bob);
    await primed(bobOnB, a.graphqlUrl, bob);

    const { createTask } = await expectData(b.graphqlUrl, CreateTaskDocument, { input: { title: 'made on B' } }, alice.token);
    await eventually(() => (events(aliceSub).length > 0 ? true : undefined), WAIT_MS, 'the event on A');
    expect(events(aliceSub)).toEqual([
      {
        kind: 'CREATED',
        taskId: createTask.id,
        version: 1,
        cursor: expect.any(String) as unknown,
        task: { id: createTask.id, title: 'made on B', completed: false, owner: { id: alice.id } },
      },
    ]);

    // Bob's own change comes through on both instances after Alice's: hers never reached him.
    const { createTask: bobs } = await expectData(a.graphqlUrl, CreateTaskDocument, { input: { title: "Bob's" } }, bob.token);
    await eventually(() => (events(bobOnA).length > 0 && events(bobOnB).length > 0 ? true : undefined), WAIT_MS, "Bob's event on both");
    expect(events(bobOnA).map((e) => e?.taskId)).toEqual([bobs.id]);
    expect(events(bobOnB).map((e) => e?.taskId)).toEqual([bobs.id]);
  });

  it('refuse a user deleted through the other instance at once (not when its cache entry expires), and close their sockets with 4403 "user deleted"', async () => {
    const doomed = await signUp(a.url);
    // B now has the account in its cache.
    expect((await execute(b.graphqlUrl, MeDocument, {}, doomed.token)).status).toBe(200);
    const socket = open(b, doomed);
    await connected(socket);

    const res = await fetch(`${a.url}/api/auth/delete-user`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: new URL(a.url).origin, cookie: doomed.cookie },
      body: JSON.stringify({ password: doomed.password }),
    });
    expect(res.status).toBe(200);

    // B evicts the account when the deletion's notification arrives (milliseconds); without it, B
    // would go on accepting the token until its cache entry expired (USER_CACHE_TTL_MS, 30 s). The
    // wait is bounded well below that, so that only the notification can make this pass.
    const refused = await eventually(
      async () => {
        const me = await execute(b.graphqlUrl, MeDocument, {}, doomed.token);
        return me.status === 401 ? me : undefined;
      },
      USER_CACHE_TTL_MS / 3,
      'instance B to refuse the deleted user',
    );
    expect(refused.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    expect(await closed(socket)).toEqual({ code: 4403, reason: 'user deleted' });
  });
});

describe('an instance whose LISTEN connection goes silent', () => {
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

  it('tells its subscribers (1013), reconnects by itself, and delivers again', async () => {
    const carol = await signUp(a.url);
    const live = open(c, carol, { retryAttempts: 100, retryWait: () => new Promise((r) => setTimeout(r, 200)) });
    const sub = subscribe(live, TaskEventsDocument);
    const diagnose = () => ({ connections: live.connections, closes: live.closes, warnings: c.logs.filter((l) => Number(l['level']) >= 40) });
    await primed(sub, a.graphqlUrl, carol, diagnose);

    // No error, no end: only the heartbeat can tell (every 2 s, answered within 3 s).
    proxy.silence();
    expect(await closed(live)).toEqual({ code: 1013, reason: 'try again later' });

    proxy.restore();
    // The client retries 1013, resubscribes, and hears changes made on another instance again.
    await eventually(() => (live.connections >= 2 ? true : undefined), WAIT_MS, 'the client to reconnect');
    await primed(sub, a.graphqlUrl, carol, diagnose);
    expect(sub.error).toBeUndefined();
    expect(c.logs.some((l) => l['msg'] === 'LISTEN connection lost; reconnecting')).toBe(true);
  });
});
