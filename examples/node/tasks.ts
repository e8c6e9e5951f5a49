/**
 * A typed Node client of the API: Better Auth's client signs in and hands out the JWT; the
 * operations codegen typed (examples/node/gql/, `npm run codegen`) go out by id, never as text
 * (docs/trusted-documents.md): the generated documents carry only their id, and the manifest
 * codegen wrote beside them (gql/persisted-documents.json) is what the server must list.
 *
 *   npm start                                # in another terminal
 *   node examples/node/tasks.ts              # API_URL, EMAIL, PASSWORD to override
 *
 * A server started with PERSISTED_DOCUMENTS_FILE=examples/node/gql/persisted-documents.json runs
 * these operations; with PERSISTED_DOCUMENTS_ONLY=true too, nothing else.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { createAuthClient } from 'better-auth/client';
import { jwtClient } from 'better-auth/client/plugins';
import { NewTaskDocument, OpenTasksDocument } from './gql/graphql.ts';

const api = process.env.API_URL ?? 'http://localhost:4000';
const email = process.env.EMAIL ?? 'ada@example.com';
const password = process.env.PASSWORD ?? 'correct horse battery';

// Outside a browser nobody keeps cookies or sends an Origin: do both, or Better Auth refuses
// (403 MISSING_OR_NULL_ORIGIN) and /token finds no session. The API's own origin is trusted.
const cookies = new Map<string, string>();
const auth = createAuthClient({
  baseURL: api,
  plugins: [jwtClient()],
  fetchOptions: {
    headers: { origin: new URL(api).origin },
    onRequest: (context) => {
      if (cookies.size > 0) context.headers.set('cookie', [...cookies].map(([name, value]) => `${name}=${value}`).join('; '));
    },
    onResponse: ({ response }) => {
      for (const line of response.headers.getSetCookie()) {
        const [pair = ''] = line.split(';');
        const eq = pair.indexOf('=');
        cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
      }
    },
  },
});

const signedIn = await auth.signIn.email({ email, password });
if (signedIn.error) {
  const signedUp = await auth.signUp.email({ email, password, name: 'Ada' });
  if (signedUp.error) throw new Error(`sign-in failed: ${signedIn.error.message}; sign-up failed: ${signedUp.error.message}`);
}
const { data, error } = await auth.token();
if (!data) throw new Error(`no token: ${error.message}`);
// The token lives 15 minutes; a long-running process asks auth.token() again before then.
const { token } = data;

/**
 * Runs a generated operation by id (`{ documentId, variables }`, GraphQL over HTTP's persisted
 * documents), typed by its document; any GraphQL error throws with its code.
 */
async function run<TData, TVariables>(document: TypedDocumentNode<TData, TVariables>, variables: TVariables): Promise<TData> {
  const { hash: documentId } = (document as unknown as { __meta__: { hash: string } }).__meta__;
  const res = await fetch(`${api}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ documentId, variables }),
  });
  const body = (await res.json()) as { data?: TData; errors?: Array<{ message: string; extensions?: { code?: string } }> };
  if (body.errors?.length || !body.data) {
    const [first] = body.errors ?? [];
    throw new Error(`HTTP ${res.status}: ${first ? `${first.extensions?.code ?? 'ERROR'}: ${first.message}` : 'no data'}`);
  }
  return body.data;
}

const created = await run(NewTaskDocument, { input: { title: 'Call the plumber', dueAt: '2026-12-31T17:00:00Z' } });
console.log('created', created.createTask.id);
const { tasks } = await run(OpenTasksDocument, { first: 5 });
for (const task of tasks.nodes) console.log(`${task.dueAt ?? 'no due date'}  ${task.title}`);
console.log(`${tasks.totalCount} open tasks`);
