import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse, subscribe as graphqlSubscribe } from 'graphql';
import WebSocket from 'ws';
import { Unauthenticated } from '../src/errors.ts';
import { buildSchema } from '../src/graphql/schema.ts';
import { CreateTaskDocument, DeleteTaskDocument, TaskEventsDocument, UpdateTaskDocument, type TaskEventsSubscription } from './generated/graphql.ts';
import { expectData } from './support/graphql.ts';
import { closed, connected, eventually, liveClient, subscribe, wsUrl, type LiveClient, type Subscription } from './support/live.ts';
import { WAIT_MS } from './support/poll.ts';
import { startServer, type TestServer } from './support/server.ts';
import { fetchToken, signUp, type TestUser } from './support/users.ts';

type Events = Subscription<TaskEventsSubscription>;
const MAX_SOCKETS = 3;

let server: TestServer;
let alice: TestUser;
let bob: TestUser;
const clients: LiveClient[] = [];

function open(token: () => string | Promise<string>, options: Parameters<typeof liveClient>[2] = {}, url = server.graphqlUrl): LiveClient {
  const client = liveClient(url, token, options);
  clients.push(client);
  return client;
}

/** Tasks created only to find out that a subscription is in place; left out of what tests compare. */
const probes = new Set<string>();
const events = (sub: Events) => sub.results.map((r) => r.data?.taskEvents).filter((e) => !e || !probes.has(e.taskId));

/**
 * A subscription is in place once the server has processed its subscribe message, which the
 * protocol does not acknowledge: touch a task of the subscriber until an event for it arrives.
 */
async function primed(sub: Events, url: string, user: TestUser): Promise<void> {
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
    () => `the subscription to be in place (it saw ${JSON.stringify(sub.results)}, error ${String(sub.error)})`,
  );
  await expectData(url, DeleteTaskDocument, { id: createTask.id }, user.token);
  await eventually(
    () => (sub.results.some((r) => r.data?.taskEvents.taskId === createTask.id && r.data.taskEvents.kind === 'DELETED') ? true : undefined),
    WAIT_MS,
    'the probe deletion',
  );
}

beforeAll(async () => {
  server = await startServer({ WS_MAX_CONNECTIONS_PER_USER: String(MAX_SOCKETS) });
  [alice, bob] = await Promise.all([signUp(server.url), signUp(server.url)]);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose().catch(() => {})));
  await server.stop();
});

describe('taskEvents', () => {
  it("delivers the subscriber's own task changes, with the task as a query reads it, and nothing of anyone else's", async () => {
    const aliceLive = open(() => alice.token);
    const bobLive = open(() => bob.token);
    const aliceSub = subscribe(aliceLive, TaskEventsDocument);
    const bobSub = subscribe(bobLive, TaskEventsDocument);
    await primed(aliceSub, server.graphqlUrl, alice);
    await primed(bobSub, server.graphqlUrl, bob);

    const { createTask } = await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: 'Water the plants' } }, alice.token);
    await expectData(server.graphqlUrl, UpdateTaskDocument, { id: createTask.id, input: { completed: true } }, alice.token);
    await expectData(server.graphqlUrl, DeleteTaskDocument, { id: createTask.id }, alice.token);
    // The subscriber converges on the final state: the deletion is the last change, and changes
    // arrive in order, so all are in once it is. (How soon is the machine's to say: no latency here.)
    await eventually(() => (events(aliceSub).some((e) => e?.kind === 'DELETED') ? true : undefined), WAIT_MS, 'the DELETED event').catch(
      (err: unknown) => {
        throw new Error(
          `${String(err)}; task ${createTask.id}; received ${JSON.stringify(aliceSub.results)}, error ${String(aliceSub.error)}, closes ${JSON.stringify(aliceLive.closes)}; server warnings ${JSON.stringify(server.logs.filter((l) => Number(l['level']) >= 40))}`,
        );
      },
    );

    expect(aliceSub.results.every((r) => r.errors === undefined)).toBe(true);
    const got = events(aliceSub);
    expect(got.map((e) => ({ kind: e?.kind, taskId: e?.taskId, version: e?.version }))).toEqual([
      { kind: 'CREATED', taskId: createTask.id, version: 1 },
      { kind: 'UPDATED', taskId: createTask.id, version: 2 },
      { kind: 'DELETED', taskId: createTask.id, version: 2 },
    ]);
    // Each task is as it was when its event was read: a later change may already show (changes
    // made within a few milliseconds are read together), and a task deleted since is null.
    expect(got[0]?.task === null || (got[0]?.task?.title === 'Water the plants' && got[0].task.owner.id === alice.id)).toBe(true);
    expect(got[1]?.task === null || got[1]?.task?.completed === true).toBe(true);
    expect(got[2]?.task).toBeNull();
    expect(got.every((e) => typeof e?.cursor === 'string' && e.cursor.length > 0)).toBe(true);

    // Bob's own change reaches him after Alice's did: had hers been sent to him, they would be here.
    const { createTask: bobs } = await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: "Bob's" } }, bob.token);
    await eventually(() => (events(bobSub).length >= 1 ? true : undefined), WAIT_MS, "Bob's event");
    expect(events(bobSub)).toEqual([
      {
        kind: 'CREATED',
        taskId: bobs.id,
        version: 1,
        cursor: expect.any(String) as unknown,
        task: { id: bobs.id, title: "Bob's", completed: false, owner: { id: bob.id } },
      },
    ]);
  });

  it('closes a socket with 4403 when connection_init carries no token or a bad one, naming the key it read', async () => {
    const none = open(() => '', { connectionParams: { token: `Bearer ${alice.token}` } });
    expect(await closed(none)).toEqual({ code: 4403, reason: 'missing token: send { "authorization": "Bearer <jwt>" } in connection_init' });
    const empty = open(() => '', { connectionParams: { Authorization: '' } });
    expect(await closed(empty)).toEqual({ code: 4403, reason: 'missing token: "Authorization" in connection_init is not "Bearer <jwt>"' });
    const bad = open(() => 'not.a.token');
    expect(await closed(bad)).toEqual({ code: 4403, reason: 'invalid token (read from connection_init "authorization")' });
    const badCapital = open(() => '', { connectionParams: { Authorization: 'Bearer not.a.token' } });
    expect(await closed(badCapital)).toEqual({ code: 4403, reason: 'invalid token (read from connection_init "Authorization")' });
  });

  it('reads the token under any casing of "authorization", as tools send the header (Apollo Sandbox: Authorization)', async () => {
    const carol = await signUp(server.url);
    for (const key of ['Authorization', 'AUTHORIZATION']) {
      const live = open(() => '', { connectionParams: () => ({ [key]: `Bearer ${carol.token}` }) });
      await connected(live);
      const sub = subscribe(live, TaskEventsDocument);
      await primed(sub, server.graphqlUrl, carol);
      expect(live.closes).toEqual([]);
      await live.dispose();
    }
  });

  it('serves only subscriptions, through the same parse limit, validation and error codes as HTTP', async () => {
    const live = open(() => alice.token);
    await connected(live);
    const run = async (query: string, variables?: Record<string, unknown>) => {
      const sub = subscribe(live, query, variables);
      await eventually(() => (sub.error !== undefined || sub.completed ? true : undefined), WAIT_MS, 'an answer');
      return ((sub.error ?? []) as Array<{ extensions?: { code?: string } }>).map((e) => e.extensions?.code);
    };
    expect(await run('query { me { id } }')).toEqual(['BAD_REQUEST']);
    expect(await run('subscription { taskEvents { nope } }')).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(await run('subscription { taskEvents { kind ')).toEqual(['GRAPHQL_PARSE_FAILED']);
    const tooLong = `subscription { taskEvents { ${'kind '.repeat(server.config.graphql.limits.maxTokens)} } }`;
    expect(await run(tooLong)).toEqual(['TOO_MANY_TOKENS']);
    expect(await run('subscription ($b: Boolean!) { taskEvents { kind @include(if: $b) } }', { b: 'yes' })).toEqual(['BAD_USER_INPUT']);
    expect(live.closes).toEqual([]);
  });

  it(`allows ${MAX_SOCKETS} sockets per user and closes one more with 4429`, async () => {
    const carol = await signUp(server.url);
    const allowed = Array.from({ length: MAX_SOCKETS }, () => open(() => carol.token));
    await Promise.all(allowed.map((c) => connected(c)));
    const extra = open(() => carol.token);
    expect(await closed(extra)).toEqual({ code: 4429, reason: `too many connections: at most ${MAX_SOCKETS} per user` });
    // Another user is not affected, and a freed slot can be taken again.
    await connected(open(() => bob.token));
    await allowed[0]!.dispose();
    await connected(open(() => carol.token));
  });

  it('refuses upgrades from untrusted browser origins and messages over 64 KiB', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(wsUrl(server.graphqlUrl), 'graphql-transport-ws', { origin: 'https://evil.example' });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => reject(new Error('opened')));
      ws.on('error', () => {});
    });
    expect(status).toBe(403);

    const code = await new Promise<number>((resolve) => {
      const ws = new WebSocket(wsUrl(server.graphqlUrl), 'graphql-transport-ws', { origin: new URL(server.url).origin });
      ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: 'x'.repeat(70 * 1024) } })));
      ws.on('close', (c) => resolve(c));
      ws.on('error', () => {});
    });
    expect(code).toBe(1009);
  });

  it('closes the sockets of a user who signs out everywhere with 4403 "signed out"', async () => {
    const dave = await signUp(server.url);
    const live = open(() => dave.token);
    await connected(live);
    const res = await fetch(`${server.url}/api/auth/revoke-sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: new URL(server.url).origin, cookie: dave.cookie },
      body: '{}',
    });
    expect(res.status).toBe(200);
    expect(await closed(live)).toEqual({ code: 4403, reason: 'signed out' });
  });
});

describe('identical subscriptions of one user', () => {
  it('each get every change under their own id, and a document that differs only in its variables gets its own result', async () => {
    const erin = await signUp(server.url);
    const [first, second] = [open(() => erin.token), open(() => erin.token)];
    const plain = 'subscription { taskEvents { kind taskId task { title description } } }';
    const variable = 'subscription($full: Boolean!) { taskEvents { kind taskId task { title description @include(if: $full) } } }';
    interface Event {
      taskEvents: { kind: string; taskId: string; task: { title: string; description?: string | null } | null };
    }
    // Over two sockets, as a user with two tabs: the server shares one change's work among
    // subscriptions of the same document, variables and user (src/http/delivery.ts).
    const subs = [
      subscribe<Event, Record<string, unknown>>(first, plain),
      subscribe<Event, Record<string, unknown>>(second, plain),
      subscribe<Event, Record<string, unknown>>(first, variable, { full: true }),
      subscribe<Event, Record<string, unknown>>(second, variable, { full: false }),
    ];
    const heard = (taskId: string) => subs.every((sub) => sub.results.some((r) => r.data?.taskEvents.taskId === taskId));
    // In place once each has heard a change (a new probe until then).
    await eventually(
      async () => {
        const { createTask } = await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: 'probe' } }, erin.token);
        await new Promise((r) => setTimeout(r, 100));
        return subs.every((sub) => sub.results.length > 0) ? createTask : undefined;
      },
      WAIT_MS,
      () => `every subscription to be in place (${JSON.stringify(subs.map((s) => [s.results.length, String(s.error)]))})`,
    );

    const { createTask } = await expectData(
      server.graphqlUrl,
      CreateTaskDocument,
      { input: { title: 'Shared', description: 'Sent to four subscriptions' } },
      erin.token,
    );
    await eventually(() => (heard(createTask.id) ? true : undefined), WAIT_MS, 'every subscription to hear the change');
    const of = (sub: (typeof subs)[number]) => sub.results.filter((r) => r.data?.taskEvents.taskId === createTask.id);
    const full = {
      data: { taskEvents: { kind: 'CREATED', taskId: createTask.id, task: { title: 'Shared', description: 'Sent to four subscriptions' } } },
    };
    expect(subs.map(of)).toEqual([[full], [full], [full], [{ data: { taskEvents: { ...full.data.taskEvents, task: { title: 'Shared' } } } }]]);
  });
});

describe('a socket outliving its token', () => {
  let short: TestServer;
  beforeAll(async () => {
    short = await startServer({ AUTH_JWT_LIFETIME_SECONDS: '5', AUTH_CLOCK_SKEW_SECONDS: '0' });
  });
  afterAll(() => short.stop());

  it('is closed with 4403 "token expired" at exp; a client refreshing its token in connectionParams carries on', async () => {
    const erin = await signUp(short.url);
    const exp = (JSON.parse(Buffer.from(erin.token.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp * 1000;

    const stale = open(() => erin.token, {}, short.graphqlUrl);
    let tokens = 0;
    const refreshing = open(async () => (tokens++ === 0 ? erin.token : fetchToken(short.url, erin.cookie)), { retryAttempts: 3 }, short.graphqlUrl);
    const sub = subscribe(refreshing, TaskEventsDocument);
    await primed(sub, short.graphqlUrl, erin);

    expect(await closed(stale)).toEqual({ code: 4403, reason: 'token expired' });
    // Not before exp. (How soon after is the machine's to say: a busy one runs timers late.)
    expect(Date.now()).toBeGreaterThanOrEqual(exp);

    // The graphql-ws client retries 4403: it asks for a token again, reconnects and resubscribes.
    await connected(refreshing, 2);
    expect(refreshing.closes[0]).toEqual({ code: 4403, reason: 'token expired' });
    const fresh = await fetchToken(short.url, erin.cookie);
    await primed(sub, short.graphqlUrl, { ...erin, token: fresh });
    expect(sub.error).toBeUndefined();
  });

  it('is closed with 1001 when the server shuts down', async () => {
    const frank = await signUp(short.url);
    const live = open(() => frank.token, {}, short.graphqlUrl);
    await connected(live);
    await short.app.stop();
    expect(await closed(live)).toEqual({ code: 1001, reason: 'server shutting down' });
  });
});

describe('the @auth directive on a subscription field', () => {
  it('refuses an anonymous caller when the operation starts, before any stream is opened', async () => {
    let opened = false;
    const contextValue = {
      viewer: null,
      tasks: {
        events: () => {
          opened = true;
          throw new Error('a stream was opened');
        },
      },
    };
    const result = await graphqlSubscribe({ schema: buildSchema(), document: parse('subscription { taskEvents { kind } }'), contextValue });
    expect('errors' in result && result.errors?.[0]?.originalError).toBeInstanceOf(Unauthenticated);
    expect(opened).toBe(false);
  });
});

describe('in production', () => {
  let prod: TestServer;
  beforeAll(async () => {
    prod = await startServer({ NODE_ENV: 'production' });
  });
  afterAll(() => prod.stop());

  it('keeps the schema private over WebSocket too: no "Did you mean" in validation errors', async () => {
    const user = await signUp(prod.url);
    const live = open(() => user.token, {}, prod.graphqlUrl);
    await connected(live);
    const sub = subscribe(live, 'subscription { taskEvents { task { titl } } }');
    await eventually(() => (sub.error !== undefined ? true : undefined), WAIT_MS, 'an answer');
    const errors = sub.error as Array<{ message: string; extensions?: { code?: string } }>;
    expect(errors.map((e) => e.extensions?.code)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(errors[0]!.message).toBe('Cannot query field "titl" on type "Task".');
    await live.client.dispose();
  });
});
