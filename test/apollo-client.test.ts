import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Observable } from 'rxjs';
import { eventually } from './support/poll.ts';
import { startServer, type TestServer } from './support/server.ts';
import { signUp, type TestUser } from './support/users.ts';
import { UpdateTaskDocument } from './generated/graphql.ts';
// examples/client's operations, as its codegen typed them: the Apollo Client section of
// docs/clients.md uses them.
import {
  CompleteTaskDocument,
  NewTaskDocument,
  OpenTasksDocument,
  TaskChangesDocument,
  type ErrorExtensionsFragment,
} from '../examples/client/src/gql/graphql.ts';
// From here to the end of `apolloClient`: docs/clients.md's "Apollo Client 4" setup, as it is.
import { ApolloClient, ApolloLink, CombinedGraphQLErrors, HttpLink, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { OperationTypeNode } from 'graphql';
import { createClient } from 'graphql-ws';

function apolloClient(api: string, token: string) {
  const headers = { authorization: `Bearer ${token}` };
  return new ApolloClient({
    cache: new InMemoryCache(),
    link: ApolloLink.split(
      ({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION,
      // Node 20 has no WebSocket: add webSocketImpl: WebSocket (from the ws package) there.
      new GraphQLWsLink(createClient({ url: `${api.replace(/^http/, 'ws')}/graphql`, connectionParams: headers })),
      new HttpLink({ uri: `${api}/graphql`, headers }),
    ),
  });
}

/**
 * Apollo Client 4 as docs/clients.md sets it up (HttpLink for queries and mutations, GraphQLWsLink
 * over graphql-ws for subscriptions), against the real server with a real token: no configuration
 * of the server's for it, and errors arrive as CombinedGraphQLErrors with our `extensions.code`.
 */
let server: TestServer;
let user: TestUser;
let client: ReturnType<typeof apolloClient>;

beforeAll(async () => {
  server = await startServer();
  user = await signUp(server.url);
  client = apolloClient(server.url, user.token);
});

afterAll(async () => {
  client.stop();
  await server.stop();
});

/** What arrives on a subscription, recorded. */
function record<T>(observable: Observable<{ data?: T; error?: unknown }>) {
  const seen: { data: T[]; errors: unknown[] } = { data: [], errors: [] };
  const subscription = observable.subscribe({
    next: ({ data, error }) => {
      if (data) seen.data.push(data);
      if (error) seen.errors.push(error);
    },
    error: (error: unknown) => seen.errors.push(error),
  });
  return { seen, unsubscribe: () => subscription.unsubscribe() };
}

describe('Apollo Client 4 (HttpLink + GraphQLWsLink)', () => {
  it('runs a mutation and a query over HTTP with the Bearer token', async () => {
    const { data: created } = await client.mutate({
      mutation: NewTaskDocument,
      variables: { input: { title: 'Apollo: first', dueAt: '2026-12-31T17:00:00Z' } },
    });
    expect(created?.createTask).toEqual({ __typename: 'Task', id: expect.any(String), title: 'Apollo: first', version: 1 });

    const { data } = await client.query({ query: OpenTasksDocument, variables: { first: 5 }, fetchPolicy: 'network-only' });
    expect(data?.tasks.nodes.map((task) => [task.title, task.dueAt])).toEqual([['Apollo: first', '2026-12-31T17:00:00.000Z']]);
  });

  it('hears a change live over graphql-ws', async () => {
    const { data } = await client.mutate({ mutation: NewTaskDocument, variables: { input: { title: 'Apollo: live' } } });
    const task = data!.createTask;
    const live = record(client.subscribe({ query: TaskChangesDocument }));
    try {
      // Nothing tells when the server has the subscription: change the task until it hears of it
      // (a new title each time: an update that changes nothing notifies nobody).
      let touches = 0;
      const event = await eventually(
        async () => {
          const heard = live.seen.data.find((d) => d.taskEvents.taskId === task.id);
          if (heard) return heard.taskEvents;
          expect(live.seen.errors).toEqual([]);
          await client.mutate({ mutation: UpdateTaskDocument, variables: { id: task.id, input: { title: `Apollo: live ${++touches}` } } });
          return undefined;
        },
        undefined,
        () => `an event for the task (heard ${JSON.stringify(live.seen)})`,
      );
      expect(event).toEqual({
        __typename: 'TaskEvent',
        kind: 'UPDATED',
        taskId: task.id,
        version: expect.any(Number),
        task: { __typename: 'Task', id: task.id, title: expect.stringMatching(/^Apollo: live \d+$/), completed: false },
      });
    } finally {
      live.unsubscribe();
    }
  });

  it('hands a CONFLICT over as CombinedGraphQLErrors, with the code and currentVersion in extensions', async () => {
    const { data } = await client.mutate({ mutation: NewTaskDocument, variables: { input: { title: 'Apollo: conflict' } } });
    const { id } = data!.createTask;
    await client.mutate({ mutation: CompleteTaskDocument, variables: { id, expectedVersion: 1 } });

    let extensions: Partial<ErrorExtensionsFragment> | undefined;
    try {
      await client.mutate({ mutation: CompleteTaskDocument, variables: { id, expectedVersion: 1 } });
    } catch (error) {
      // GraphQL errors reject as CombinedGraphQLErrors (with the default errorPolicy, 'none').
      if (!CombinedGraphQLErrors.is(error)) throw error;
      extensions = error.errors[0]?.extensions;
    }
    // `code` is an ErrorCode: a misspelt code does not compile.
    const currentVersion = extensions?.code === 'CONFLICT' ? extensions.currentVersion : undefined;
    expect(currentVersion).toBe(2);
    expect(extensions?.code).toBe('CONFLICT');
  });
});
