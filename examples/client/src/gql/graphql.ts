/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** The fields of a new task. */
export type CreateTaskInput = {
  /** Longer notes: up to 10,000 characters; no control characters except tab and newline. */
  description?: string | null | undefined;
  /** When the task is due. */
  dueAt?: string | null | undefined;
  /** How important the task is. */
  priority?: TaskPriority | null | undefined;
  /** Short summary: 1 to 200 characters after trimming; no control characters except tab and newline. */
  title: string;
};

/**
 * The `extensions.code` of an error in a response's `errors`, over HTTP and WebSocket: every code this
 * server sends (a test holds the server to this list). Clients branch on the code, never on the
 * message. No field returns it: it types `errors[].extensions.code`, and `ErrorExtensions` the rest
 * of `extensions`. (Better Auth's `/api/auth/*` answers carry codes of their own, not these.)
 */
export type ErrorCode =
  /**
   * The request is not a GraphQL request this server takes: body not valid JSON, no `query`, a bare
   * GET (CSRF prevention), a mutation over GET (HTTP 405), both `query` and `documentId`; over
   * WebSocket a query or mutation (send those over HTTP), or several operations without
   * `operationName`. HTTP 400.
   */
  | 'BAD_REQUEST'
  /**
   * Invalid input: found by the service (HTTP 200, `field` names the argument, e.g. `input.title`), or
   * variables or literals of the wrong type (HTTP 400).
   */
  | 'BAD_USER_INPUT'
  /**
   * `expectedVersion` is not the task's version; nothing changed. HTTP 200; `currentVersion` is the
   * task's version now.
   */
  | 'CONFLICT'
  /**
   * `taskEvents(after:)` with a cursor older than the changes kept (`TASK_EVENTS_RETENTION_SECONDS`):
   * what happened since cannot be told. Refetch your lists (with `TaskConnection.eventsCursor`), then subscribe after it.
   */
  | 'CURSOR_EXPIRED'
  /** The task belongs to another user; nothing of it is returned or changed. HTTP 200. */
  | 'FORBIDDEN'
  /** A syntax error in the operation. HTTP 400. */
  | 'GRAPHQL_PARSE_FAILED'
  /**
   * The operation does not match the schema. HTTP 400. `validationErrorCode` is
   * `INTROSPECTION_DISABLED` when `__schema` or `__type` was asked for and `GRAPHQL_INTROSPECTION` is
   * off (the default in production).
   */
  | 'GRAPHQL_VALIDATION_FAILED'
  /**
   * The first request with this `Idempotency-Key` still runs: retry with the same key. HTTP 409 with
   * `Retry-After`; `retryAfterSeconds`.
   */
  | 'IDEMPOTENCY_IN_PROGRESS'
  /** `Idempotency-Key` is empty, over 255 characters or not printable ASCII; nothing ran. HTTP 400. */
  | 'IDEMPOTENCY_KEY_INVALID'
  /** The same `Idempotency-Key` was sent with another request body. HTTP 422. */
  | 'IDEMPOTENCY_KEY_REUSED'
  /**
   * The first request with this `Idempotency-Key` ran, but its response was over
   * `IDEMPOTENCY_MAX_RESPONSE_BYTES` and was not kept: there is nothing to replay, and the mutation
   * does not run again (read what it changed). HTTP 409; `limit`, `setting`.
   */
  | 'IDEMPOTENCY_RESPONSE_NOT_KEPT'
  /**
   * Anything unexpected (a bug); the details are only in the server's log. HTTP 200 with the error on
   * its field (`requestId` names the log entry), or 500 for the request as a whole.
   */
  | 'INTERNAL_SERVER_ERROR'
  /** No task has this id. HTTP 200. */
  | 'NOT_FOUND'
  /**
   * The operation to run cannot be told: several operations and no (or an unknown) `operationName`.
   * HTTP 400 (Apollo Server's).
   */
  | 'OPERATION_RESOLUTION_FAILURE'
  /** The request body is over 1 MiB. HTTP 413. */
  | 'PAYLOAD_TOO_LARGE'
  /** `PERSISTED_DOCUMENTS_ONLY=true` and the operation was sent as text: send its id. HTTP 400. */
  | 'PERSISTED_QUERY_ID_REQUIRED'
  /**
   * An automatic persisted query's hash the server does not know yet: send the query's text with it.
   * HTTP 200 (Apollo Server's automatic persisted queries).
   */
  | 'PERSISTED_QUERY_NOT_FOUND'
  /**
   * The document id is not in the server's list of trusted documents (`PERSISTED_DOCUMENTS_FILE`).
   * HTTP 400.
   */
  | 'PERSISTED_QUERY_NOT_IN_LIST'
  /**
   * Automatic persisted queries are off (`PERSISTED_DOCUMENTS_ONLY=true`): send a `documentId`.
   * HTTP 200 (Apollo Server's).
   */
  | 'PERSISTED_QUERY_NOT_SUPPORTED'
  /**
   * Over `GRAPHQL_MAX_DEPTH`, `GRAPHQL_MAX_DIRECTIVES` or `GRAPHQL_MAX_COST` (`limit` names the setting;
   * `max`, `found`), or nested too deeply to process (no other field); nothing ran. HTTP 400.
   */
  | 'QUERY_TOO_COMPLEX'
  /**
   * Over a quota that waiting does not refill; nothing of it ran or was stored: free something first.
   * A task past what one user may store (`MAX_TASKS_PER_USER` tasks, `MAX_TASK_TEXT_BYTES_PER_USER`
   * bytes of text: delete or shorten tasks; HTTP 200), more than `WS_MAX_SUBSCRIPTIONS_PER_USER`
   * subscriptions at once (complete one), more than `IDEMPOTENCY_MAX_KEYS_PER_USER` keys kept (HTTP
   * 403). `limit` is the quota, `setting` the variable that sets it.
   */
  | 'QUOTA_EXCEEDED'
  /**
   * Over the rate limit (`RATE_LIMIT_PER_MINUTE`); nothing ran. HTTP 429 with `Retry-After`;
   * `retryAfterSeconds`, and `limit` (the number of requests per minute).
   */
  | 'RATE_LIMITED'
  /** The request body did not arrive within 10 s of its headers; the connection is closed. HTTP 408. */
  | 'REQUEST_TIMEOUT'
  /**
   * The database is unreachable or too slow, or the server is still starting: retry later. HTTP 503
   * with `Retry-After` when nothing else in the operation succeeded; `retryAfterSeconds`. Also the
   * server overloaded ("too busy"): refused before anything ran, safe to send again as it is (HTTP
   * 503, `Retry-After: 1`). Over WebSocket it ends a subscription whose events may have been missed:
   * subscribe again and refetch.
   */
  | 'SERVICE_UNAVAILABLE'
  /** Over `GRAPHQL_MAX_ALIASES` (`limit`, `max`, `found`); nothing ran. HTTP 400. */
  | 'TOO_MANY_ALIASES'
  /** Over `GRAPHQL_MAX_TOKENS` (`limit`, `max`); not even parsed. HTTP 400. */
  | 'TOO_MANY_TOKENS'
  /**
   * No token for a field that needs one (HTTP 401 when nothing in the operation succeeded, else 200 with
   * the error on its field), or a token that was sent and refused (HTTP 401 for the whole request;
   * `reason` is `TOKEN_EXPIRED` when it expired: get a new token and retry).
   */
  | 'UNAUTHENTICATED';

/** What happened to a task. */
export type TaskEventKind =
  /** The task was created. */
  | 'CREATED'
  /** The task was deleted (also when its owner's account was deleted). */
  | 'DELETED'
  /** The task was changed. */
  | 'UPDATED';

/** How important a task is. */
export type TaskPriority =
  /** Do it first. */
  | 'HIGH'
  /** Can wait. */
  | 'LOW'
  /** The default. */
  | 'MEDIUM';

export type OpenTasksQueryVariables = Exact<{
  first: number;
}>;


export type OpenTasksQuery = { tasks: { totalCount: number, nodes: Array<{ id: string, title: string, dueAt: string | null }> } };

export type NewTaskMutationVariables = Exact<{
  input: CreateTaskInput;
}>;


export type NewTaskMutation = { createTask: { id: string, title: string, version: number } };

export type CompleteTaskMutationVariables = Exact<{
  id: string | number;
  expectedVersion: number;
}>;


export type CompleteTaskMutation = { updateTask: { id: string, version: number } };

export type TaskChangesSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type TaskChangesSubscription = { taskEvents: { kind: TaskEventKind, taskId: string, version: number, task: { id: string, title: string, completed: boolean } | null } };

export type ErrorExtensionsFragment = { code: ErrorCode, reason: string | null, field: string | null, currentVersion: number | null, retryAfterSeconds: number | null, setting: string | null, max: number | null, found: number | null, requestId: string | null, validationErrorCode: string | null };

export const ErrorExtensionsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ErrorExtensions"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ErrorExtensions"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"reason"}},{"kind":"Field","name":{"kind":"Name","value":"field"}},{"kind":"Field","name":{"kind":"Name","value":"currentVersion"}},{"kind":"Field","name":{"kind":"Name","value":"retryAfterSeconds"}},{"kind":"Field","name":{"kind":"Name","value":"setting"}},{"kind":"Field","name":{"kind":"Name","value":"max"}},{"kind":"Field","name":{"kind":"Name","value":"found"}},{"kind":"Field","name":{"kind":"Name","value":"requestId"}},{"kind":"Field","name":{"kind":"Name","value":"validationErrorCode"}}]}}]} as unknown as DocumentNode<ErrorExtensionsFragment, unknown>;
export const OpenTasksDocument = {"__meta__":{"hash":"sha256:2382aa4fb70cb431cc881ad8a29a9f5a38087d47aef7cf458b1ea3fc5f61a093"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"OpenTasks"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"tasks"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"filter"},"value":{"kind":"ObjectValue","fields":[{"kind":"ObjectField","name":{"kind":"Name","value":"completed"},"value":{"kind":"BooleanValue","value":false}}]}},{"kind":"Argument","name":{"kind":"Name","value":"orderBy"},"value":{"kind":"EnumValue","value":"DUE_AT_ASC"}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"nodes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"title"}},{"kind":"Field","name":{"kind":"Name","value":"dueAt"}}]}}]}}]}}]} as unknown as DocumentNode<OpenTasksQuery, OpenTasksQueryVariables>;
export const NewTaskDocument = {"__meta__":{"hash":"sha256:d820a917167a8851eb49771f37aac6c7c1b98baa0b0bfb0e78f5323ae78557c9"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"NewTask"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CreateTaskInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createTask"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"title"}},{"kind":"Field","name":{"kind":"Name","value":"version"}}]}}]}}]} as unknown as DocumentNode<NewTaskMutation, NewTaskMutationVariables>;
export const CompleteTaskDocument = {"__meta__":{"hash":"sha256:b799e957b3d3d945c4ac40074f729f190fec6779348562804e14746df5328b40"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CompleteTask"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"expectedVersion"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"updateTask"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}},{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"ObjectValue","fields":[{"kind":"ObjectField","name":{"kind":"Name","value":"completed"},"value":{"kind":"BooleanValue","value":true}},{"kind":"ObjectField","name":{"kind":"Name","value":"expectedVersion"},"value":{"kind":"Variable","name":{"kind":"Name","value":"expectedVersion"}}}]}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"version"}}]}}]}}]} as unknown as DocumentNode<CompleteTaskMutation, CompleteTaskMutationVariables>;
export const TaskChangesDocument = {"__meta__":{"hash":"sha256:2febabfc5ba89db5594a7f1f69e3c1244a549059f0c182a4984add522c388dd9"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"TaskChanges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"taskEvents"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"taskId"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"task"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"title"}},{"kind":"Field","name":{"kind":"Name","value":"completed"}}]}}]}}]}}]} as unknown as DocumentNode<TaskChangesSubscription, TaskChangesSubscriptionVariables>;