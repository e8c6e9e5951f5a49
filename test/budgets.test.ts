import { afterAll, describe, expect, it } from '@jest/globals';
import WebSocket from 'ws';
import { CreateTaskDocument, UpdateTaskDocument } from './generated/graphql.ts';
import { expectData } from './support/graphql.ts';
import { connected, eventually, liveClient, subscribe, wsUrl, type LiveClient, type Subscription } from './support/live.ts';
import { startServer, type TestServer } from './support/server.ts';
import { signUp, type TestUser } from './support/users.ts';

/**
 * Budgets per user across requests and sockets (issue 19): one user's operations, documents and
 * subscriptions are bounded wherever they arrive, refused before any parsing, and other users do
 * not notice.
 */

const servers: TestServer[] = [];
const clients: LiveClient[] = [];
async function boot(env: Record<string, string>): Promise<TestServer> {
  const server = await startServer(env);
  servers.push(server);
  return server;
}
afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose().catch(() => {})));
  for (const s of servers.reverse()) await s.stop();
});

function open(server: TestServer, user: TestUser): LiveClient {
  const client = liveClient(server.graphqlUrl, () => user.token);
  clients.push(client);
  return client;
}

interface Answer {
  status: number;
  retryAfter: string | null;
  errors: Array<{ message: string; extensions?: Record<string, unknown> }> | undefined;
}

async function ask(server: TestServer, user: TestUser, query: string): Promise<Answer> {
  const res = await fetch(server.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
    body: JSON.stringify({ query }),
  });
  const body = (await res.json()) as { errors?: Answer['errors'] };
  return { status: res.status, retryAfter: res.headers.get('retry-after'), errors: body.errors };
}

type Errors = Array<{ message: string; extensions?: Record<string, unknown> }>;

/** The errors a subscription ended with (it must end with an error within 5 s). */
async function refusal(sub: Subscription<unknown>): Promise<Errors> {
  await eventually(() => (sub.error !== undefined ? true : undefined), 5_000, 'the subscription to be refused');
  return sub.error as Errors;
}

const EVENTS = 'subscription { taskEvents { kind taskId } }';

/**
 * Resolves once `sub` hears a change of the user's: a task is created, then touched until an event
 * about it arrives (a subscription is in place only once the server has handled its message, which
 * the protocol does not acknowledge; one started after a change does not hear it).
 */
async function hears(sub: Subscription<unknown>, server: TestServer, user: TestUser): Promise<void> {
  const { createTask } = await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: 'probe' } }, user.token);
  const about = (r: (typeof sub.results)[number]) => (r.data as { taskEvents?: { taskId?: string } } | null | undefined)?.taskEvents?.taskId;
  let touches = 0;
  await eventually(
    async () => {
      if (sub.results.some((r) => about(r) === createTask.id)) return true;
      await expectData(server.graphqlUrl, UpdateTaskDocument, { id: createTask.id, input: { title: `probe ${++touches}` } }, user.token);
      await new Promise((r) => setTimeout(r, 100));
      return undefined;
    },
    10_000,
    () => `an event about ${createTask.id} (got ${JSON.stringify(sub.results)}, error ${JSON.stringify(sub.error)})`,
  );
}

/** A document of about `bytes` bytes that parses to `{ me { id } }` (a comment makes up the size). */
const padded = (bytes: number, query = '{ me { id } }') => `# ${'x'.repeat(bytes)}\n${query}`;

describe('one operation budget per user, shared by sockets and HTTP requests', () => {
  it('counts subscribe messages and requests together; the one over it is refused with RATE_LIMITED, others unaffected', async () => {
    const server = await boot({ RATE_LIMIT_PER_MINUTE: '6' });
    const [alice, bob] = [await signUp(server.url), await signUp(server.url)];
    const [a1, a2] = [open(server, alice), open(server, alice)];
    await Promise.all([connected(a1), connected(a2)]);

    const accepted = [subscribe(a1, EVENTS), subscribe(a2, EVENTS), subscribe(a1, EVENTS)];
    for (let i = 0; i < 3; i++) expect((await ask(server, alice, '{ me { id } }')).status).toBe(200);
    // The seventh operation, on either path: refused, with the time to wait.
    const over = subscribe(a1, EVENTS);
    const [error] = await refusal(over);
    expect(error!.extensions).toEqual({ code: 'RATE_LIMITED', limit: 6, retryAfterSeconds: expect.any(Number) as unknown });
    expect(error!.extensions!['retryAfterSeconds']).toBeGreaterThanOrEqual(1);
    const http = await ask(server, alice, '{ me { id } }');
    expect(http.status).toBe(429);
    expect(http.errors?.[0]?.extensions?.['code']).toBe('RATE_LIMITED');
    expect(Number(http.retryAfter)).toBeGreaterThanOrEqual(1);

    // The accepted subscriptions and both sockets carry on; Bob has a budget of his own.
    expect(accepted.map((s) => s.error)).toEqual([undefined, undefined, undefined]);
    expect([a1.closes, a2.closes]).toEqual([[], []]);
    expect((await ask(server, bob, '{ me { id } }')).status).toBe(200);
  });

  it('throttles a socket that floods it with messages instead of closing it: its next subscribe is refused', async () => {
    const server = await boot({ RATE_LIMIT_PER_MINUTE: '20' });
    const user = await signUp(server.url);
    const ws = new WebSocket(wsUrl(server.graphqlUrl), 'graphql-transport-ws');
    const received: Array<{ type: string; id?: string; payload?: Errors }> = [];
    ws.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as (typeof received)[number];
      received.push(message);
      if (message.type !== 'connection_ack') return;
      for (let i = 0; i < 30; i++) ws.send(JSON.stringify({ type: 'ping' }));
      ws.send(JSON.stringify({ id: 'late', type: 'subscribe', payload: { query: EVENTS } }));
    });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${user.token}` } })));
    try {
      // Over the budget the server stops reading the socket for up to 5 s at a time (TCP holds
      // the rest on the client's side): the answer may come after one or two such pauses.
      const answer = await eventually(() => received.find((m) => m.id === 'late'), 20_000, 'an answer to the subscribe');
      expect(answer.type).toBe('error');
      expect(answer.payload?.[0]?.extensions?.['code']).toBe('RATE_LIMITED');
      expect(ws.readyState).toBe(WebSocket.OPEN);
    } finally {
      ws.terminate();
    }
  });
});

describe('the parse budget (RATE_LIMIT_BYTES_PER_MINUTE)', () => {
  it("charges the bytes of a user's documents over HTTP and WebSocket together, and refuses before parsing", async () => {
    // 100 bytes a second: a document of 30,000 bytes leaves the budget 24,000 bytes in debt.
    const server = await boot({ RATE_LIMIT_BYTES_PER_MINUTE: '6000' });
    const [alice, bob] = [await signUp(server.url), await signUp(server.url)];
    const live = open(server, alice);
    await connected(live);

    expect((await ask(server, alice, padded(30_000))).status).toBe(200);
    // Not even parsed: a syntax error is refused as over the budget, not reported.
    const over = await ask(server, alice, '{ me { id }');
    expect(over.status).toBe(429);
    expect(over.errors?.[0]?.extensions).toEqual({ code: 'RATE_LIMITED', limit: 6000, retryAfterSeconds: Number(over.retryAfter) });
    expect(Number(over.retryAfter)).toBeGreaterThan(60);
    expect(over.errors?.[0]?.message).toMatch(/^Rate limit of 6000 bytes of GraphQL documents per minute reached; retry in \d+ s\.$/);

    const [error] = await refusal(subscribe(live, EVENTS));
    expect(error!.extensions?.['code']).toBe('RATE_LIMITED');
    expect(live.closes).toEqual([]);
    // Bob's budget is his own.
    expect((await ask(server, bob, padded(3_000))).status).toBe(200);
  });
});

describe('subscriptions per user (WS_MAX_SUBSCRIPTIONS_PER_USER)', () => {
  it('counts subscriptions over all the sockets of a user; one more is QUOTA_EXCEEDED until one ends', async () => {
    const server = await boot({ WS_MAX_SUBSCRIPTIONS_PER_USER: '3' });
    const [alice, bob] = [await signUp(server.url), await signUp(server.url)];
    const [a1, a2] = [open(server, alice), open(server, alice)];
    await Promise.all([connected(a1), connected(a2)]);
    const held = [subscribe(a1, EVENTS), subscribe(a1, EVENTS), subscribe(a2, EVENTS)];

    const [error] = await refusal(subscribe(a2, EVENTS));
    expect(error).toEqual({
      message: 'At most 3 subscriptions per user at once (WS_MAX_SUBSCRIPTIONS_PER_USER); complete one first.',
      extensions: { code: 'QUOTA_EXCEEDED', limit: 3, setting: 'WS_MAX_SUBSCRIPTIONS_PER_USER' },
    });
    // Bob's subscriptions are his own.
    const bobs = subscribe(open(server, bob), EVENTS);

    // Once one ends, there is room again (on the same socket, so that the server reads the
    // `complete` first): the new one hears Alice's next change.
    held[0]!.unsubscribe();
    const again = subscribe(a1, EVENTS);
    await hears(again, server, alice);
    expect(again.error).toBeUndefined();
    expect(held.slice(1).map((s) => s.error)).toEqual([undefined, undefined]);
    expect(bobs.error).toBeUndefined();
  });
});

describe('a flood of documents from one user', () => {
  it('is refused with RATE_LIMITED while other users keep their sockets, their events and their requests', async () => {
    // The production defaults.
    const server = await boot({ RATE_LIMIT_PER_MINUTE: '600', RATE_LIMIT_BYTES_PER_MINUTE: String(512 * 1024) });
    const [mallory, bob] = [await signUp(server.url), await signUp(server.url)];
    const bobLive = open(server, bob);
    const bobEvents = subscribe(bobLive, EVENTS);
    await connected(bobLive);

    // 5 sockets x 100 subscribes of 25 KB: 12.5 MB of documents with 4,990 fields each.
    const query = `subscription { taskEvents { ${'kind '.repeat(4990)}} }`;
    const codes = new Map<string, number>();
    const sockets = Array.from({ length: 5 }, (_, s) => {
      const ws = new WebSocket(wsUrl(server.graphqlUrl), 'graphql-transport-ws');
      const closes: number[] = [];
      ws.on('close', (code) => closes.push(code));
      ws.on('error', () => {});
      ws.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString()) as { type: string; payload?: Errors };
        if (message.type === 'connection_ack') {
          for (let m = 0; m < 100; m++) ws.send(JSON.stringify({ id: `${s}-${m}`, type: 'subscribe', payload: { query } }));
        } else if (message.type === 'error') {
          const code = String(message.payload?.[0]?.extensions?.['code']);
          codes.set(code, (codes.get(code) ?? 0) + 1);
        }
      });
      ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${mallory.token}` } })));
      return { ws, closes };
    });
    try {
      await eventually(
        () => ((codes.get('RATE_LIMITED') ?? 0) >= 50 ? true : undefined),
        30_000,
        () => `refusals (got ${JSON.stringify([...codes])})`,
      );

      // Bob: his requests answer, his socket is open and hears his own change.
      expect((await ask(server, bob, '{ me { id } }')).status).toBe(200);
      await hears(bobEvents, server, bob);
      expect(bobLive.closes).toEqual([]);
      // Mallory was refused, not disconnected as if the server could no longer hear the database.
      expect(sockets.flatMap((s) => s.closes)).not.toContain(1013);
      expect(server.logs.filter((l) => l['msg'] === 'LISTEN connection lost; reconnecting')).toEqual([]);
    } finally {
      for (const { ws } of sockets) ws.terminate();
    }
  });
});
