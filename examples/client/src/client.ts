/**
 * A typed client of the task API, for Node 20 and later: signs in (or up), gets a JWT, creates a
 * task, lists the open ones, hears a change live over WebSocket, and reads a typed error code.
 *
 *   npm run codegen     # types src/operations.graphql from the running API, into src/gql/
 *   npm start           # tsc, then node dist/client.js; on Node 22.18+ also: node src/client.ts
 *
 * API_URL (http://localhost:4000), EMAIL and PASSWORD change whom it signs in as, and where.
 */
import { Client, fetchExchange, mapExchange, makeOperation, subscriptionExchange } from '@urql/core';
import { createClient } from 'graphql-ws';
import { CompleteTaskDocument, NewTaskDocument, OpenTasksDocument, TaskChangesDocument, type ErrorExtensionsFragment } from './gql/graphql.ts';

const api = process.env['API_URL'] ?? 'http://localhost:4000';
const email = process.env['EMAIL'] ?? 'ada@example.com';
const password = process.env['PASSWORD'] ?? 'correct horse battery';

// 1. A JWT. Signing in starts a session, kept in a cookie; GET /api/auth/token trades it for a JWT
// (valid 15 minutes: a client that runs longer asks again before then). Node is not a browser:
// it sends the Origin that Better Auth checks (the API's own is trusted) and keeps the cookie.
const post = (path: string, body: object) =>
  fetch(`${api}/api/auth/${path}`, { method: 'POST', headers: { 'content-type': 'application/json', origin: api }, body: JSON.stringify(body) });
let session = await post('sign-in/email', { email, password });
if (session.status === 401) session = await post('sign-up/email', { email, password, name: 'Ada' });
if (!session.ok) throw new Error(`sign-in: ${session.status} ${await session.text()}`);
const cookie = session.headers
  .getSetCookie()
  .map((line) => line.split(';')[0])
  .join('; ');
const answer = await fetch(`${api}/api/auth/token`, { headers: { cookie } });
if (!answer.ok) throw new Error(`token: ${answer.status} ${await answer.text()}`);
// Not the `token` of the sign-in answer: that one is the session's, and the API refuses it.
const { token } = (await answer.json()) as { token: string };

// 2. urql over HTTP, and graphql-ws for subscriptions. Node 22+ has a WebSocket; Node 20 takes ws's.
const ws = createClient({
  url: `${api.replace(/^http/, 'ws')}/graphql`,
  webSocketImpl: 'WebSocket' in globalThis ? globalThis.WebSocket : (await import('ws')).default,
  connectionParams: () => ({ authorization: `Bearer ${token}` }),
});
// BY_ID=true: operations go out as their ids ({ documentId }), never as text, for a server that
// runs only the documents of its manifest (PERSISTED_DOCUMENTS_ONLY=true; src/gql/persisted-documents.json).
const byId = mapExchange({
  onOperation: (operation) => {
    const { hash } = (operation.query as { __meta__?: { hash: string } }).__meta__ ?? {};
    if (process.env['BY_ID'] !== 'true' || !hash) return operation;
    return makeOperation(operation.kind, { ...operation, query: { ...operation.query, definitions: [], documentId: hash } });
  },
});
const client = new Client({
  url: `${api}/graphql`,
  // The token on every request (urql sends queries as GET: the header also passes the CSRF check).
  fetchOptions: () => ({ headers: { authorization: `Bearer ${token}` } }),
  exchanges: [
    byId,
    fetchExchange,
    subscriptionExchange({
      forwardSubscription: (request) => ({
        subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink) }),
      }),
    }),
  ],
});

// 3. A mutation; `data` is typed by src/operations.graphql (through src/gql/graphql.ts).
const created = await client.mutation(NewTaskDocument, { input: { title: 'Call the plumber', dueAt: '2026-12-31T17:00:00Z' } });
if (!created.data) throw created.error ?? new Error('no data');
const task = created.data.createTask;
console.log(`created "${task.title}" (version ${task.version})`);

// 4. A subscription: changes to this user's tasks. It starts at the present once the server has it,
// a moment after it is sent (nothing acknowledges that; the query below takes longer). A client
// that must not miss a change while away subscribes again with `after`: the last event's `cursor`.
const connected = new Promise((resolve) => ws.on('connected', resolve));
let live = { unsubscribe: () => {} };
const heard = new Promise<string>((resolve, reject) => {
  live = client.subscription(TaskChangesDocument, {}).subscribe(({ data, error }) => {
    if (error) reject(error);
    else if (data?.taskEvents.kind === 'UPDATED' && data.taskEvents.taskId === task.id) {
      resolve(`live: ${data.taskEvents.kind} "${data.taskEvents.task?.title}", completed: ${data.taskEvents.task?.completed}`);
    }
  });
});
await connected;

// A query, and a change the subscription hears.
const open = await client.query(OpenTasksDocument, { first: 5 });
if (!open.data) throw open.error ?? new Error('no data');
for (const { title, dueAt } of open.data.tasks.nodes) console.log(`open: ${title}, due ${dueAt ?? 'whenever'}`);

const completed = await client.mutation(CompleteTaskDocument, { id: task.id, expectedVersion: task.version });
if (!completed.data) throw completed.error ?? new Error('no data');
console.log(await heard);

// 5. An error, typed: the same change with the version read before is refused with CONFLICT.
// `extensions` is the schema's ErrorExtensions (typed by the fragment in src/operations.graphql), and
// `code` an ErrorCode: a misspelt code does not compile.
const stale = await client.mutation(CompleteTaskDocument, { id: task.id, expectedVersion: task.version });
const extensions = stale.error?.graphQLErrors[0]?.extensions as Partial<ErrorExtensionsFragment> | undefined;
if (extensions?.code === 'CONFLICT') console.log(`CONFLICT: the task is at version ${extensions.currentVersion} now`);
else throw stale.error ?? new Error('expected CONFLICT');

live.unsubscribe();
await ws.dispose();
