import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { ConfigError, projectRoot } from '../src/config.ts';
import { apqCache } from '../src/graphql/persisted-documents.ts';
import { CreateTaskDocument, MeDocument, TaskEventsDocument, TasksDocument, type TaskEventsSubscription } from './generated/graphql.ts';
import { eventually, liveClient, type LiveClient } from './support/live.ts';
import { runServer } from './support/process.ts';
import { startServer, type TestServer } from './support/server.ts';
import { signUp, type TestUser } from './support/users.ts';

/** What the repository's own `npm run codegen` wrote for test/operations (the client preset, sha256). */
const MANIFEST = path.join(projectRoot, 'test/generated/persisted-documents.json');
const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Record<string, string>;

/** The id the client preset put in a generated document (`sha256:<hex>`). */
const idOf = (document: TypedDocumentNode<unknown, never>): string => (document as unknown as { __meta__: { hash: string } }).__meta__.hash;
const hexOf = (document: TypedDocumentNode<unknown, never>) => idOf(document).slice('sha256:'.length);
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

interface Response {
  status: number;
  body: { data?: Record<string, unknown> | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
  headers: Headers;
}

/** A GraphQL request as raw HTTP: a JSON body by POST, or the same fields in the query string by GET. */
async function send(
  url: string,
  method: 'GET' | 'POST',
  fields: Record<string, unknown>,
  token?: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : { 'apollo-require-preflight': 'true' };
  let res: globalThis.Response;
  if (method === 'POST') {
    res = await fetch(url, { method, headers: { 'content-type': 'application/json', ...auth, ...headers }, body: JSON.stringify(fields) });
  } else {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(fields)) params.set(name, typeof value === 'string' ? value : JSON.stringify(value));
    res = await fetch(`${url}?${params.toString()}`, { headers: { ...auth, ...headers } });
  }
  const text = await res.text();
  let body: Response['body'];
  try {
    body = JSON.parse(text) as Response['body'];
  } catch {
    throw new Error(`HTTP ${res.status}, not JSON: ${text.slice(0, 500)}`);
  }
  return { status: res.status, body, headers: res.headers };
}

const byDocumentId = (document: TypedDocumentNode<unknown, never>, variables?: object) => ({
  documentId: idOf(document),
  ...(variables ? { variables } : {}),
});
const byApolloHash = (document: TypedDocumentNode<unknown, never>, variables?: object) => ({
  extensions: { persistedQuery: { version: 1, sha256Hash: hexOf(document) } },
  ...(variables ? { variables } : {}),
});
const codesOf = (res: Response) => (res.body.errors ?? []).map((e) => e.extensions?.['code']);

const UNKNOWN_HEX = sha256('query Unknown { serverVersion }');

/** A graphql-ws subscribe with whatever payload a client sends (`query` may be empty). */
function subscribeRaw(live: LiveClient, payload: Record<string, unknown>) {
  const sub = { results: [] as Array<{ data?: TaskEventsSubscription | null }>, error: undefined as unknown, unsubscribe: () => {} };
  sub.unsubscribe = live.client.subscribe<TaskEventsSubscription>(
    { query: '', ...payload },
    {
      next: (result) => void sub.results.push(result),
      error: (err) => (sub.error = err ?? 'error'),
      complete: () => {},
    },
  );
  return sub;
}

/** The graphql-ws error a refused subscribe gets (an `error` message for that operation). */
async function refusedOverWs(live: LiveClient, payload: Record<string, unknown>): Promise<unknown[]> {
  const sub = subscribeRaw(live, payload);
  const error = await eventually(() => sub.error, 5_000, 'the subscribe to be refused');
  return (error as Array<{ extensions?: { code?: unknown } }>).map((e) => e.extensions?.code);
}

describe('PERSISTED_DOCUMENTS_ONLY=true', () => {
  let server: TestServer;
  let user: TestUser;
  const clients: LiveClient[] = [];
  const open = () => {
    const client = liveClient(server.graphqlUrl, () => user.token);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    server = await startServer({ PERSISTED_DOCUMENTS_ONLY: 'true', PERSISTED_DOCUMENTS_FILE: MANIFEST });
    user = await signUp(server.url);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose().catch(() => {})));
    await server.stop();
  });

  it('runs a listed document by documentId and by Apollo persisted query hash, by POST and by GET', async () => {
    for (const method of ['POST', 'GET'] as const) {
      for (const fields of [byDocumentId(MeDocument), byApolloHash(MeDocument)]) {
        const res = await send(server.graphqlUrl, method, fields, user.token);
        expect({ method, fields, status: res.status, body: res.body }).toEqual({
          method,
          fields,
          status: 200,
          body: { data: { me: { id: user.id, email: user.email, name: user.name } } },
        });
      }
    }
    // Variables travel as usual.
    const page = await send(server.graphqlUrl, 'GET', byDocumentId(TasksDocument, { first: 1 }), user.token);
    expect(page.status).toBe(200);
    expect(page.body.data?.['tasks']).toMatchObject({ totalCount: 0 });
  });

  it('runs a listed mutation by POST; by GET it is 405, as Apollo answers a mutation sent as text', async () => {
    const created = await send(server.graphqlUrl, 'POST', byDocumentId(CreateTaskDocument, { input: { title: 'by id' } }), user.token);
    expect(created.status).toBe(200);
    expect(created.body.data?.['createTask']).toMatchObject({ title: 'by id' });
    for (const fields of [
      byDocumentId(CreateTaskDocument, { input: { title: 'by GET' } }),
      byApolloHash(CreateTaskDocument, { input: { title: 'by GET' } }),
    ]) {
      const res = await send(server.graphqlUrl, 'GET', fields, user.token);
      expect(res.status).toBe(405);
    }
  });

  it('refuses text with PERSISTED_QUERY_ID_REQUIRED (HTTP 400), even the text of a listed document, and logs it', async () => {
    const listedText = manifest[idOf(MeDocument)]!;
    for (const method of ['POST', 'GET'] as const) {
      for (const query of [listedText, print(MeDocument), '{ serverVersion }']) {
        const res = await send(server.graphqlUrl, method, { query }, user.token);
        expect({ method, query, status: res.status, codes: codesOf(res) }).toEqual({
          method,
          query,
          status: 400,
          codes: ['PERSISTED_QUERY_ID_REQUIRED'],
        });
      }
    }
    // Automatic persisted queries cannot register anything: that is text too.
    const register = await send(server.graphqlUrl, 'POST', {
      query: '{ serverVersion }',
      extensions: { persistedQuery: { version: 1, sha256Hash: sha256('{ serverVersion }') } },
    });
    expect([register.status, codesOf(register)]).toEqual([400, ['PERSISTED_QUERY_ID_REQUIRED']]);

    const line = server.logs.find((l) => l['code'] === 'PERSISTED_QUERY_ID_REQUIRED' && l['documentHash'] === idOf(MeDocument));
    expect(line).toMatchObject({
      level: 40,
      operationName: 'Me',
      listed: true,
      transport: 'http',
      msg: 'refused an operation: not a trusted document',
    });
    const unnamed = server.logs.find((l) => l['documentHash'] === `sha256:${sha256('{ serverVersion }')}`);
    expect(unnamed).toMatchObject({ code: 'PERSISTED_QUERY_ID_REQUIRED', listed: false });
    expect(unnamed).not.toHaveProperty('operationName');
  });

  it('refuses an id that is not listed with PERSISTED_QUERY_NOT_IN_LIST (HTTP 400), in either form, and logs it', async () => {
    const forms = [
      { documentId: `sha256:${UNKNOWN_HEX}` },
      { extensions: { persistedQuery: { version: 1, sha256Hash: UNKNOWN_HEX } } },
      { documentId: 'md5:abc' },
    ];
    for (const method of ['POST', 'GET'] as const) {
      for (const fields of forms) {
        const res = await send(server.graphqlUrl, method, fields, user.token);
        expect({ method, fields, status: res.status, codes: codesOf(res) }).toEqual({
          method,
          fields,
          status: 400,
          codes: ['PERSISTED_QUERY_NOT_IN_LIST'],
        });
      }
    }
    expect(server.logs.find((l) => l['documentHash'] === `sha256:${UNKNOWN_HEX}`)).toMatchObject({
      level: 40,
      code: 'PERSISTED_QUERY_NOT_IN_LIST',
      transport: 'http',
    });
  });

  it('refuses a request carrying both a query and a documentId', async () => {
    const res = await send(server.graphqlUrl, 'POST', { ...byDocumentId(MeDocument), query: '{ serverVersion }' }, user.token);
    expect([res.status, codesOf(res)]).toEqual([400, ['BAD_REQUEST']]);
  });

  it('an Idempotency-Key works for a mutation sent by id: the repeat is replayed, the task created once', async () => {
    const key = `trusted-${Date.now()}`;
    const fields = byDocumentId(CreateTaskDocument, { input: { title: 'once by id' } });
    const first = await send(server.graphqlUrl, 'POST', fields, user.token, { 'idempotency-key': key });
    const again = await send(server.graphqlUrl, 'POST', fields, user.token, { 'idempotency-key': key });
    expect(first.status).toBe(200);
    expect(again.headers.get('idempotency-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    const list = await send(server.graphqlUrl, 'POST', byDocumentId(TasksDocument, { first: 50 }), user.token);
    const titles = (list.body.data?.['tasks'] as { nodes: Array<{ title: string }> }).nodes.map((t) => t.title);
    expect(titles.filter((t) => t === 'once by id')).toHaveLength(1);
  });

  it('over graphql-ws, runs a listed subscription by documentId or hash with an empty query, and refuses text and unknown ids', async () => {
    const live = open();
    const byId = subscribeRaw(live, { documentId: idOf(TaskEventsDocument) });
    const byHash = subscribeRaw(live, { extensions: { persistedQuery: { version: 1, sha256Hash: hexOf(TaskEventsDocument) } } });
    let n = 0;
    await eventually(
      async () => {
        if (byId.results.length > 0 && byHash.results.length > 0) return true;
        await send(server.graphqlUrl, 'POST', byDocumentId(CreateTaskDocument, { input: { title: `live ${++n}` } }), user.token);
        return undefined;
      },
      10_000,
      () =>
        `events on both subscriptions (by id: ${JSON.stringify(byId.results)} ${String(byId.error)}; by hash: ${JSON.stringify(byHash.results)} ${String(byHash.error)})`,
    );
    expect(byId.results[0]?.data?.taskEvents).toMatchObject({ kind: 'CREATED' });
    byId.unsubscribe();
    byHash.unsubscribe();

    expect(await refusedOverWs(live, { query: print(TaskEventsDocument) })).toEqual(['PERSISTED_QUERY_ID_REQUIRED']);
    expect(await refusedOverWs(live, { query: manifest[idOf(TaskEventsDocument)] })).toEqual(['PERSISTED_QUERY_ID_REQUIRED']);
    expect(await refusedOverWs(live, { documentId: `sha256:${UNKNOWN_HEX}` })).toEqual(['PERSISTED_QUERY_NOT_IN_LIST']);
    expect(await refusedOverWs(live, { extensions: { persistedQuery: { version: 1, sha256Hash: UNKNOWN_HEX } } })).toEqual([
      'PERSISTED_QUERY_NOT_IN_LIST',
    ]);
    expect(server.logs.find((l) => l['transport'] === 'ws' && l['code'] === 'PERSISTED_QUERY_ID_REQUIRED')).toMatchObject({
      operationName: 'TaskEvents',
    });
  });
});

describe('without PERSISTED_DOCUMENTS_ONLY (the default)', () => {
  let server: TestServer;
  let user: TestUser;

  beforeAll(async () => {
    server = await startServer({ PERSISTED_DOCUMENTS_FILE: MANIFEST });
    user = await signUp(server.url);
  });
  afterAll(() => server.stop());

  it('runs text as before, and listed ids too', async () => {
    const text = await send(server.graphqlUrl, 'POST', { query: print(MeDocument) }, user.token);
    expect(text.status).toBe(200);
    expect(text.body.data).toEqual({ me: { id: user.id, email: user.email, name: user.name } });
    for (const method of ['POST', 'GET'] as const) {
      const res = await send(server.graphqlUrl, method, byDocumentId(MeDocument), user.token);
      expect([method, res.status, res.body.data]).toEqual([method, 200, text.body.data]);
    }
    const unknown = await send(server.graphqlUrl, 'POST', { documentId: `sha256:${UNKNOWN_HEX}` }, user.token);
    expect([unknown.status, codesOf(unknown)]).toEqual([400, ['PERSISTED_QUERY_NOT_IN_LIST']]);
  });

  it('keeps automatic persisted queries: an unknown hash is PERSISTED_QUERY_NOT_FOUND until its text registers it', async () => {
    const query = '{ serverVersion }';
    const extensions = { persistedQuery: { version: 1, sha256Hash: sha256(query) } };
    const miss = await send(server.graphqlUrl, 'GET', { extensions });
    expect(codesOf(miss)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    const registered = await send(server.graphqlUrl, 'POST', { query, extensions });
    expect(registered.status).toBe(200);
    const hit = await send(server.graphqlUrl, 'GET', { extensions });
    expect([hit.status, hit.body.data]).toEqual([200, registered.body.data]);
  });

  it('logs what PERSISTED_DOCUMENTS_ONLY=true would refuse, with the name and hash of the operation', async () => {
    await send(server.graphqlUrl, 'POST', { query: 'query Stray { serverVersion }' });
    const stray = server.logs.find((l) => l['operationName'] === 'Stray');
    expect(stray).toMatchObject({
      level: 40,
      msg: 'would refuse this operation with PERSISTED_DOCUMENTS_ONLY=true',
      code: 'PERSISTED_QUERY_ID_REQUIRED',
      documentHash: `sha256:${sha256('query Stray { serverVersion }')}`,
      listed: false,
    });
    // A client sending a listed document as text: only the way it sends has to change.
    await send(server.graphqlUrl, 'POST', { query: manifest[idOf(MeDocument)] }, user.token);
    expect(server.logs.find((l) => l['documentHash'] === idOf(MeDocument))).toMatchObject({ operationName: 'Me', listed: true });
  });
});

describe('development', () => {
  it('ignores PERSISTED_DOCUMENTS_ONLY=true, with a warning, so that Apollo Sandbox keeps working', async () => {
    const server = await startServer({ NODE_ENV: 'development', PERSISTED_DOCUMENTS_ONLY: 'true', PERSISTED_DOCUMENTS_FILE: MANIFEST });
    try {
      expect(server.config.graphql.persistedDocuments).toMatchObject({ only: false, onlyIgnored: true });
      const res = await send(server.graphqlUrl, 'POST', { query: '{ serverVersion }' });
      expect([res.status, res.body.errors]).toEqual([200, undefined]);
      expect(server.logs.find((l) => String(l['msg']).startsWith('PERSISTED_DOCUMENTS_ONLY=true does not apply'))).toMatchObject({ level: 40 });
    } finally {
      await server.stop();
    }
  });
});

describe('a bad manifest stops the start', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'taskgraph-manifest-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, content: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, content);
    return file;
  };
  /** The real manifest with one entry replaced or added. */
  const withEntry = (key: string, text: string) => JSON.stringify({ ...manifest, [key]: text }, null, 2);
  const startWith = async (file: string): Promise<ConfigError> => {
    const error = await startServer({ PERSISTED_DOCUMENTS_ONLY: 'true', PERSISTED_DOCUMENTS_FILE: file }).then(
      async (server) => {
        await server.stop();
        throw new Error('the server started');
      },
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  };

  it.each([
    [
      'a text that does not hash to its key',
      () => withEntry(idOf(MeDocument), 'query Me { me { id email name } }'),
      /entry "sha256:[0-9a-f]{64}": its text hashes to sha256:[0-9a-f]{64}, not to its key/,
    ],
    [
      'a document the schema does not have',
      () => {
        const t = 'query Gone { me { salary } }';
        return withEntry(`sha256:${sha256(t)}`, t);
      },
      /not valid against this server's schema and limits: Cannot query field "salary" on type "User"/,
    ],
    [
      'a document that does not parse',
      () => {
        const t = 'query Broken { me { id }';
        return withEntry(`sha256:${sha256(t)}`, t);
      },
      /the text does not parse: Syntax Error/,
    ],
    [
      'a document over a limit of the server',
      () => {
        const t = `query Aliases { ${Array.from({ length: 31 }, (_, i) => `a${i}: serverVersion`).join(' ')} }`;
        return withEntry(`sha256:${sha256(t)}`, t);
      },
      /31 aliases; at most 30 are allowed \(GRAPHQL_MAX_ALIASES\)/,
    ],
    ['a key that is no sha256 id', () => withEntry('Me', 'query Me { me { id } }'), /entry "Me": the key is not a sha256 document id/],
    ['a file that is not JSON', () => '{ "sha256:abc": ', /is not JSON/],
    ['a JSON array', () => '[]', /must be a JSON object of "sha256:<hex>": "<document>" entries/],
  ])('%s', async (_what, content, message) => {
    const file = write(`${Math.random().toString(36).slice(2)}.json`, content());
    const error = await startWith(file);
    expect(error.problems.join('\n')).toMatch(/^PERSISTED_DOCUMENTS_FILE/);
    expect(error.problems.join('\n')).toContain(file);
    expect(error.problems.join('\n')).toMatch(message);
  });

  it('a missing file', async () => {
    const file = path.join(dir, 'nowhere.json');
    const error = await startWith(file);
    expect(error.problems).toEqual([
      expect.stringMatching(new RegExp(`^PERSISTED_DOCUMENTS_FILE: cannot read ${file.replace(/[.]/g, '\\.')} \\(ENOENT`)),
    ]);
  });

  it('npm start exits with 1 and says which variable and entry', async () => {
    const file = write('edited.json', withEntry(idOf(MeDocument), 'query Me { me { id } }'));
    const server = runServer({ PERSISTED_DOCUMENTS_FILE: file, BETTER_AUTH_SECRET: randomBytes(32).toString('base64') });
    expect(await server.exited).toBe(1);
    expect(server.output()).toContain('PERSISTED_DOCUMENTS_FILE');
    expect(server.output()).toContain(`entry "${idOf(MeDocument)}"`);
  });
});

describe('automatic persisted queries', () => {
  it('are kept in a store bounded by size: the least recently used text goes first', async () => {
    const cache = apqCache(1_000);
    const text = (n: number) => `query Q${n} { ${'serverVersion '.repeat(20)}}`; // ~300 bytes with its key
    for (const n of [1, 2, 3]) await cache.set(`apq:${n}`, text(n));
    await cache.get('apq:1'); // used: stays
    await cache.set('apq:4', text(4));
    expect(await Promise.all([1, 2, 3, 4].map((n) => cache.get(`apq:${n}`)))).toEqual([text(1), undefined, text(3), text(4)]);
  });
});
