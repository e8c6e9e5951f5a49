import type { GraphQLResolveInfo, GraphQLScalarType, GraphQLScalarTypeConfig } from 'graphql';
import type { TaskView, TaskPage, TaskEdgeRecord } from '../../tasks/task.model.ts';
import type { TaskEventRecord } from '../../tasks/task.feed.ts';
import type { UserRecord } from '../../users/user.model.ts';
import type { Context } from '../context.ts';
export type Maybe<T> = T | null;
export type InputMaybe<T> = Maybe<T>;
export type RequireFields<T, K extends keyof T> = Omit<T, K> & { [P in K]-?: NonNullable<T[P]> };
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
  /** A date and time with a UTC offset, as an RFC 3339 string, e.g. `2026-11-21T09:30:00.000Z`. */
  DateTime: { input: Date; output: Date | string; }
};

/** The fields of a new task. */
export type CreateTaskInput = {
  /** Longer notes: up to 10,000 characters; no control characters except tab and newline. */
  description?: InputMaybe<Scalars['String']['input']>;
  /** When the task is due. */
  dueAt?: InputMaybe<Scalars['DateTime']['input']>;
  /** How important the task is. */
  priority?: InputMaybe<TaskPriority>;
  /** Short summary: 1 to 200 characters after trimming; no control characters except tab and newline. */
  title: Scalars['String']['input'];
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

/**
 * The `extensions` of an error in a response's `errors`: `code`, and the fields some codes add (each
 * absent unless its code sends it). No field returns this type: it is here for clients, so that a
 * generated client can type `errors[].extensions`. With GraphQL Code Generator's client preset, put
 * `fragment ErrorExtensions on ErrorExtensions { code reason field currentVersion retryAfterSeconds
 * setting max found requestId validationErrorCode }` in your documents: the generated `ErrorExtensionsFragment`
 * and `ErrorCode` types describe what the server sends. Not typed here: `limit`, a number for
 * `RATE_LIMITED` (requests per minute), `QUOTA_EXCEEDED` and `IDEMPOTENCY_RESPONSE_NOT_KEPT` (the
 * quota or limit), and the setting's name for the operation limits (`GRAPHQL_MAX_ALIASES`, ...).
 */
export type ErrorExtensions = {
  __typename?: 'ErrorExtensions';
  /** What went wrong: branch on this. */
  code: ErrorCode;
  /** `CONFLICT`: the task's version now; read the task again before retrying with it. */
  currentVersion?: Maybe<Scalars['Int']['output']>;
  /** `BAD_USER_INPUT` found by the service: the argument at fault, e.g. `input.title`, `first`, `after`. */
  field?: Maybe<Scalars['String']['output']>;
  /**
   * `QUERY_TOO_COMPLEX`, `TOO_MANY_ALIASES`: how many the operation has (depth, directives, cost
   * points or aliases).
   */
  found?: Maybe<Scalars['Int']['output']>;
  /** `QUERY_TOO_COMPLEX`, `TOO_MANY_ALIASES`, `TOO_MANY_TOKENS`: the most the limit allows. */
  max?: Maybe<Scalars['Int']['output']>;
  /**
   * `UNAUTHENTICATED`: `TOKEN_EXPIRED` when the token has expired (or passed its maximum age): get a
   * new one and retry. Absent for any other refusal of the token.
   */
  reason?: Maybe<Scalars['String']['output']>;
  /**
   * `INTERNAL_SERVER_ERROR` of a field: the id of the server's log entry, also in the `X-Request-Id`
   * header. Quote it when reporting the problem.
   */
  requestId?: Maybe<Scalars['String']['output']>;
  /**
   * `RATE_LIMITED`, `SERVICE_UNAVAILABLE`, `IDEMPOTENCY_IN_PROGRESS`: seconds to wait before retrying
   * (also in the `Retry-After` header over HTTP).
   */
  retryAfterSeconds?: Maybe<Scalars['Int']['output']>;
  /**
   * `QUOTA_EXCEEDED`, `IDEMPOTENCY_RESPONSE_NOT_KEPT`: the variable that sets the quota or limit
   * (`MAX_TASKS_PER_USER`, `WS_MAX_SUBSCRIPTIONS_PER_USER`, `IDEMPOTENCY_MAX_RESPONSE_BYTES`, ...).
   */
  setting?: Maybe<Scalars['String']['output']>;
  /** `GRAPHQL_VALIDATION_FAILED`: `INTROSPECTION_DISABLED` when introspection is off. */
  validationErrorCode?: Maybe<Scalars['String']['output']>;
};

/** The write entry points of the API. */
export type Mutation = {
  __typename?: 'Mutation';
  /** Creates a task owned by the signed-in user. */
  createTask: Task;
  /**
   * Deletes one of the signed-in user's tasks and returns its id. Errors as for `Query.task`, and
   * `CONFLICT` (with `extensions.currentVersion`) when `expectedVersion` is not the task's version.
   */
  deleteTask: Scalars['ID']['output'];
  /**
   * Changes one of the signed-in user's tasks. Errors as for `Query.task`, and `CONFLICT` (with
   * `extensions.currentVersion`) when `input.expectedVersion` is not the task's version; nothing
   * changes on error.
   */
  updateTask: Task;
};


/** The write entry points of the API. */
export type MutationCreateTaskArgs = {
  input: CreateTaskInput;
};


/** The write entry points of the API. */
export type MutationDeleteTaskArgs = {
  expectedVersion?: InputMaybe<Scalars['Int']['input']>;
  id: Scalars['ID']['input'];
};


/** The write entry points of the API. */
export type MutationUpdateTaskArgs = {
  id: Scalars['ID']['input'];
  input: UpdateTaskInput;
};

/** Where a page of a list sits in the whole list, for cursor pagination. */
export type PageInfo = {
  __typename?: 'PageInfo';
  /** Cursor of the last item of the page; null when the page is empty. */
  endCursor?: Maybe<Scalars['String']['output']>;
  /** Whether more items follow this page: pass `endCursor` as `after` to get them. */
  hasNextPage: Scalars['Boolean']['output'];
  /** Whether items precede this page (true when the page was requested with `after`). */
  hasPreviousPage: Scalars['Boolean']['output'];
  /** Cursor of the first item of the page; null when the page is empty. */
  startCursor?: Maybe<Scalars['String']['output']>;
};

/** The read entry points of the API. */
export type Query = {
  __typename?: 'Query';
  /** The signed-in user. */
  me: User;
  /** The version of this server. Needs no sign-in; useful to check that the endpoint is reachable. */
  serverVersion: Scalars['String']['output'];
  /**
   * One of the signed-in user's tasks. Errors: `NOT_FOUND` when no task has this id, `FORBIDDEN`
   * when the task belongs to someone else, `BAD_USER_INPUT` when the id is not a task id.
   */
  task?: Maybe<Task>;
  /** The signed-in user's tasks, a page at a time (cursor pagination). */
  tasks: TaskConnection;
};


/** The read entry points of the API. */
export type QueryTaskArgs = {
  id: Scalars['ID']['input'];
};


/** The read entry points of the API. */
export type QueryTasksArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  filter?: InputMaybe<TaskFilter>;
  first?: InputMaybe<Scalars['Int']['input']>;
  orderBy?: InputMaybe<TaskOrder>;
};

/**
 * The live entry points of the API, served over WebSocket (protocol `graphql-transport-ws`) on the
 * same `/graphql` path. The token travels in the `connection_init` payload:
 * `{ "authorization": "Bearer <jwt>" }`.
 */
export type Subscription = {
  __typename?: 'Subscription';
  /**
   * Changes to the signed-in user's own tasks, never anyone else's, made through any instance of the
   * API or directly in the database. Live, events arrive as their transactions commit. What is read in
   * one go (changes that committed within a few milliseconds of each other, or those missed while
   * away) arrives in the order the transactions first wrote (for changes made one after another: the
   * order they were made), the changes of one transaction in the order they were made.
   *
   * Without `after`, starts at the present. With `after` (the `cursor` of the last event received),
   * first delivers every change committed after that event, exactly once (including those of
   * transactions that began before it and committed after it), then continues live with no gap and
   * no duplicate. After a dropped connection, a restart of the server (the socket closes with 1001),
   * or an interruption (the operation ends with `SERVICE_UNAVAILABLE`, or the socket closes with
   * 1013), subscribe again with the last cursor: nothing is lost.
   *
   * Errors: `BAD_USER_INPUT` for an `after` that is not a cursor of this user's events;
   * `CURSOR_EXPIRED` for one older than the changes kept (TASK_EVENTS_RETENTION_SECONDS): refetch
   * your lists (with `eventsCursor`), then subscribe after it.
   */
  taskEvents: TaskEvent;
};


/**
 * The live entry points of the API, served over WebSocket (protocol `graphql-transport-ws`) on the
 * same `/graphql` path. The token travels in the `connection_init` payload:
 * `{ "authorization": "Bearer <jwt>" }`.
 */
export type SubscriptionTaskEventsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
};

/** Something a user has to do. Only its owner can see or change it. */
export type Task = {
  __typename?: 'Task';
  /** Whether the task is done. */
  completed: Scalars['Boolean']['output'];
  /** When the task was created. */
  createdAt: Scalars['DateTime']['output'];
  /** Longer notes: up to 10,000 characters. */
  description?: Maybe<Scalars['String']['output']>;
  /** When the task is due, if it has a due date. */
  dueAt?: Maybe<Scalars['DateTime']['output']>;
  /** The task's id, a UUID (version 7, so ids sort by creation time). */
  id: Scalars['ID']['output'];
  /**
   * The user the task belongs to, from the task's owner: only its owner can see a task, so this is
   * the signed-in user.
   */
  owner: User;
  /** How important the task is. */
  priority: TaskPriority;
  /** Short summary: 1 to 200 characters, trimmed. */
  title: Scalars['String']['output'];
  /** When the task was last changed. */
  updatedAt: Scalars['DateTime']['output'];
  /**
   * 1 when the task is created, one more with every change. Pass it as `expectedVersion` to change
   * or delete the task only if nobody changed it since you read it.
   */
  version: Scalars['Int']['output'];
};

/** A page of the signed-in user's tasks. */
export type TaskConnection = {
  __typename?: 'TaskConnection';
  /** The tasks of the page with their cursors. */
  edges: Array<TaskEdge>;
  /**
   * Where the feed of your task changes stood just before this page was read, as a
   * `taskEvents(after:)` cursor: subscribe with it and you get every change committed since, so that
   * nothing is lost between loading a list and subscribing. A change this page already shows may come
   * again as an event: drop an event whose `version` is not above the one you hold. Null when the
   * server has no live updates.
   */
  eventsCursor?: Maybe<Scalars['String']['output']>;
  /** The tasks of the page, without cursors. */
  nodes: Array<Task>;
  /** Where the page sits in the whole list. */
  pageInfo: PageInfo;
  /** How many tasks match the filter, over all pages. */
  totalCount: Scalars['Int']['output'];
};

/** A task in a page, with the cursor that points at it. */
export type TaskEdge = {
  __typename?: 'TaskEdge';
  /** Opaque cursor: pass it as `after` to get the tasks that follow this one in the same order. */
  cursor: Scalars['String']['output'];
  /** The task. */
  node: Task;
};

/**
 * A change to one of the signed-in user's tasks, made by anyone who can write them: through any
 * instance of the API, or directly in the database.
 */
export type TaskEvent = {
  __typename?: 'TaskEvent';
  /**
   * Where this event stands in the feed, as an opaque string: pass it as `taskEvents(after:)` to get
   * every change after this one, exactly once, after a reconnect. Valid for
   * TASK_EVENTS_RETENTION_SECONDS (one day by default) and only for the user it was sent to.
   */
  cursor: Scalars['String']['output'];
  /** What happened. */
  kind: TaskEventKind;
  /**
   * The task as it is now (which may be a later version than `version`), read with the same checks as
   * `Query.task`; null for DELETED, and when the task has been deleted since.
   */
  task?: Maybe<Task>;
  /** The id of the task that changed. */
  taskId: Scalars['ID']['output'];
  /**
   * The version this change produced (CREATED: 1, UPDATED: the new version), or for DELETED the
   * version that was deleted. Changes of one task made in separate transactions that committed close
   * together can arrive out of version order: a client that has already seen a higher version of the
   * task drops this event as stale.
   */
  version: Scalars['Int']['output'];
};

/** What happened to a task. */
export type TaskEventKind =
  /** The task was created. */
  | 'CREATED'
  /** The task was deleted (also when its owner's account was deleted). */
  | 'DELETED'
  /** The task was changed. */
  | 'UPDATED';

/** Narrows a task list. All given conditions must hold. */
export type TaskFilter = {
  /** Only done (true) or only open (false) tasks. */
  completed?: InputMaybe<Scalars['Boolean']['input']>;
  /** Only tasks due after this time (tasks without a due date are left out). */
  dueAfter?: InputMaybe<Scalars['DateTime']['input']>;
  /** Only tasks due before this time (tasks without a due date are left out). */
  dueBefore?: InputMaybe<Scalars['DateTime']['input']>;
  /** Only tasks of this priority. */
  priority?: InputMaybe<TaskPriority>;
  /** Only tasks whose title or description contains this text, ignoring case (up to 200 characters). */
  search?: InputMaybe<Scalars['String']['input']>;
};

/** The order of a task list. Ties are broken by id, so every order is total and stable. */
export type TaskOrder =
  /** Oldest first. */
  | 'CREATED_AT_ASC'
  /** Newest first. */
  | 'CREATED_AT_DESC'
  /** Soonest due first; tasks without a due date last. */
  | 'DUE_AT_ASC'
  /** HIGH first, then MEDIUM, then LOW; newest first within a priority. */
  | 'PRIORITY_DESC';

/** How important a task is. */
export type TaskPriority =
  /** Do it first. */
  | 'HIGH'
  /** Can wait. */
  | 'LOW'
  /** The default. */
  | 'MEDIUM';

/**
 * Changes to a task. Omitted fields stay as they are; `description` and `dueAt` can be cleared
 * with null, the other fields cannot be null.
 */
export type UpdateTaskInput = {
  /** Mark the task done or not done. */
  completed?: InputMaybe<Scalars['Boolean']['input']>;
  /** New notes, or null to remove them. */
  description?: InputMaybe<Scalars['String']['input']>;
  /** New due date, or null to remove it. */
  dueAt?: InputMaybe<Scalars['DateTime']['input']>;
  /**
   * The task's `version` as you last read it: if the task has changed since, nothing changes and
   * the error is `CONFLICT` with `extensions.currentVersion`. Omitted: the last write wins.
   */
  expectedVersion?: InputMaybe<Scalars['Int']['input']>;
  /** New priority. */
  priority?: InputMaybe<TaskPriority>;
  /** New title: 1 to 200 characters after trimming. */
  title?: InputMaybe<Scalars['String']['input']>;
};

/** A person with an account, as Better Auth knows them. */
export type User = {
  __typename?: 'User';
  /** The email address the user signed up with. */
  email: Scalars['String']['output'];
  /** The user's id (Better Auth's user id). */
  id: Scalars['ID']['output'];
  /** The display name given at sign-up, if any. */
  name?: Maybe<Scalars['String']['output']>;
};



export type ResolverTypeWrapper<T> = T | Promise<T>;


export type ResolverWithResolve<TResult, TParent, TContext, TArgs> = {
  resolve: ResolverFn<TResult, TParent, TContext, TArgs>;
};
export type Resolver<TResult, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> = ResolverFn<TResult, TParent, TContext, TArgs> | ResolverWithResolve<TResult, TParent, TContext, TArgs>;

export type ResolverFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => Promise<TResult> | TResult;

export type SubscriptionSubscribeFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => AsyncIterable<TResult> | Promise<AsyncIterable<TResult>>;

export type SubscriptionResolveFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => TResult | Promise<TResult>;

export interface SubscriptionSubscriberObject<TResult, TKey extends string, TParent, TContext, TArgs> {
  subscribe: SubscriptionSubscribeFn<{ [key in TKey]: TResult }, TParent, TContext, TArgs>;
  resolve?: SubscriptionResolveFn<TResult, { [key in TKey]: TResult }, TContext, TArgs>;
}

export interface SubscriptionResolverObject<TResult, TParent, TContext, TArgs> {
  subscribe: SubscriptionSubscribeFn<any, TParent, TContext, TArgs>;
  resolve: SubscriptionResolveFn<TResult, any, TContext, TArgs>;
}

export type SubscriptionObject<TResult, TKey extends string, TParent, TContext, TArgs> =
  | SubscriptionSubscriberObject<TResult, TKey, TParent, TContext, TArgs>
  | SubscriptionResolverObject<TResult, TParent, TContext, TArgs>;

export type SubscriptionResolver<TResult, TKey extends string, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> =
  | ((...args: any[]) => SubscriptionObject<TResult, TKey, TParent, TContext, TArgs>)
  | SubscriptionObject<TResult, TKey, TParent, TContext, TArgs>;

export type TypeResolveFn<TTypes, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>> = (
  parent: TParent,
  context: TContext,
  info: GraphQLResolveInfo
) => Maybe<TTypes> | Promise<Maybe<TTypes>>;

export type IsTypeOfResolverFn<T = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>> = (obj: T, context: TContext, info: GraphQLResolveInfo) => boolean | Promise<boolean>;

export type NextResolverFn<T> = () => Promise<T>;

export type DirectiveResolverFn<TResult = Record<PropertyKey, never>, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> = (
  next: NextResolverFn<TResult>,
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => TResult | Promise<TResult>;





/** Mapping between all available schema types and the resolvers types */
export type ResolversTypes = {
  Boolean: ResolverTypeWrapper<Scalars['Boolean']['output']>;
  CreateTaskInput: CreateTaskInput;
  DateTime: ResolverTypeWrapper<Scalars['DateTime']['output']>;
  ErrorCode: ErrorCode;
  ErrorExtensions: ResolverTypeWrapper<ErrorExtensions>;
  ID: ResolverTypeWrapper<Scalars['ID']['output']>;
  Int: ResolverTypeWrapper<Scalars['Int']['output']>;
  Mutation: ResolverTypeWrapper<Record<PropertyKey, never>>;
  PageInfo: ResolverTypeWrapper<PageInfo>;
  Query: ResolverTypeWrapper<Record<PropertyKey, never>>;
  String: ResolverTypeWrapper<Scalars['String']['output']>;
  Subscription: ResolverTypeWrapper<Record<PropertyKey, never>>;
  Task: ResolverTypeWrapper<TaskView>;
  TaskConnection: ResolverTypeWrapper<TaskPage>;
  TaskEdge: ResolverTypeWrapper<TaskEdgeRecord>;
  TaskEvent: ResolverTypeWrapper<TaskEventRecord>;
  TaskEventKind: TaskEventKind;
  TaskFilter: TaskFilter;
  TaskOrder: TaskOrder;
  TaskPriority: TaskPriority;
  UpdateTaskInput: UpdateTaskInput;
  User: ResolverTypeWrapper<UserRecord>;
};

/** Mapping between all available schema types and the resolvers parents */
export type ResolversParentTypes = {
  Boolean: Scalars['Boolean']['output'];
  CreateTaskInput: CreateTaskInput;
  DateTime: Scalars['DateTime']['output'];
  ErrorExtensions: ErrorExtensions;
  ID: Scalars['ID']['output'];
  Int: Scalars['Int']['output'];
  Mutation: Record<PropertyKey, never>;
  PageInfo: PageInfo;
  Query: Record<PropertyKey, never>;
  String: Scalars['String']['output'];
  Subscription: Record<PropertyKey, never>;
  Task: TaskView;
  TaskConnection: TaskPage;
  TaskEdge: TaskEdgeRecord;
  TaskEvent: TaskEventRecord;
  TaskFilter: TaskFilter;
  UpdateTaskInput: UpdateTaskInput;
  User: UserRecord;
};

export type AuthDirectiveArgs = { };

export type AuthDirectiveResolver<Result, Parent, ContextType = Context, Args = AuthDirectiveArgs> = DirectiveResolverFn<Result, Parent, ContextType, Args>;

export type PublicDirectiveArgs = { };

export type PublicDirectiveResolver<Result, Parent, ContextType = Context, Args = PublicDirectiveArgs> = DirectiveResolverFn<Result, Parent, ContextType, Args>;

export interface DateTimeScalarConfig extends GraphQLScalarTypeConfig<ResolversTypes['DateTime'], any> {
  name: 'DateTime';
}

export type ErrorExtensionsResolvers<ContextType = Context, ParentType extends ResolversParentTypes['ErrorExtensions'] = ResolversParentTypes['ErrorExtensions']> = {
  code?: Resolver<ResolversTypes['ErrorCode'], ParentType, ContextType>;
  currentVersion?: Resolver<Maybe<ResolversTypes['Int']>, ParentType, ContextType>;
  field?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  found?: Resolver<Maybe<ResolversTypes['Int']>, ParentType, ContextType>;
  max?: Resolver<Maybe<ResolversTypes['Int']>, ParentType, ContextType>;
  reason?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  requestId?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  retryAfterSeconds?: Resolver<Maybe<ResolversTypes['Int']>, ParentType, ContextType>;
  setting?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  validationErrorCode?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
};

export type MutationResolvers<ContextType = Context, ParentType extends ResolversParentTypes['Mutation'] = ResolversParentTypes['Mutation']> = {
  createTask?: Resolver<ResolversTypes['Task'], ParentType, ContextType, RequireFields<MutationCreateTaskArgs, 'input'>>;
  deleteTask?: Resolver<ResolversTypes['ID'], ParentType, ContextType, RequireFields<MutationDeleteTaskArgs, 'id'>>;
  updateTask?: Resolver<ResolversTypes['Task'], ParentType, ContextType, RequireFields<MutationUpdateTaskArgs, 'id' | 'input'>>;
};

export type PageInfoResolvers<ContextType = Context, ParentType extends ResolversParentTypes['PageInfo'] = ResolversParentTypes['PageInfo']> = {
  endCursor?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  hasNextPage?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  hasPreviousPage?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  startCursor?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
};

export type QueryResolvers<ContextType = Context, ParentType extends ResolversParentTypes['Query'] = ResolversParentTypes['Query']> = {
  me?: Resolver<ResolversTypes['User'], ParentType, ContextType>;
  serverVersion?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  task?: Resolver<Maybe<ResolversTypes['Task']>, ParentType, ContextType, RequireFields<QueryTaskArgs, 'id'>>;
  tasks?: Resolver<ResolversTypes['TaskConnection'], ParentType, ContextType, RequireFields<QueryTasksArgs, 'first' | 'orderBy'>>;
};

export type SubscriptionResolvers<ContextType = Context, ParentType extends ResolversParentTypes['Subscription'] = ResolversParentTypes['Subscription']> = {
  taskEvents?: SubscriptionResolver<ResolversTypes['TaskEvent'], "taskEvents", ParentType, ContextType, Partial<SubscriptionTaskEventsArgs>>;
};

export type TaskResolvers<ContextType = Context, ParentType extends ResolversParentTypes['Task'] = ResolversParentTypes['Task']> = {
  completed?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  createdAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  description?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  dueAt?: Resolver<Maybe<ResolversTypes['DateTime']>, ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  owner?: Resolver<ResolversTypes['User'], ParentType, ContextType>;
  priority?: Resolver<ResolversTypes['TaskPriority'], ParentType, ContextType>;
  title?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  updatedAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  version?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type TaskConnectionResolvers<ContextType = Context, ParentType extends ResolversParentTypes['TaskConnection'] = ResolversParentTypes['TaskConnection']> = {
  edges?: Resolver<Array<ResolversTypes['TaskEdge']>, ParentType, ContextType>;
  eventsCursor?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  nodes?: Resolver<Array<ResolversTypes['Task']>, ParentType, ContextType>;
  pageInfo?: Resolver<ResolversTypes['PageInfo'], ParentType, ContextType>;
  totalCount?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type TaskEdgeResolvers<ContextType = Context, ParentType extends ResolversParentTypes['TaskEdge'] = ResolversParentTypes['TaskEdge']> = {
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  node?: Resolver<ResolversTypes['Task'], ParentType, ContextType>;
};

export type TaskEventResolvers<ContextType = Context, ParentType extends ResolversParentTypes['TaskEvent'] = ResolversParentTypes['TaskEvent']> = {
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  kind?: Resolver<ResolversTypes['TaskEventKind'], ParentType, ContextType>;
  task?: Resolver<Maybe<ResolversTypes['Task']>, ParentType, ContextType>;
  taskId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  version?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type UserResolvers<ContextType = Context, ParentType extends ResolversParentTypes['User'] = ResolversParentTypes['User']> = {
  email?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  name?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
};

export type Resolvers<ContextType = Context> = {
  DateTime?: GraphQLScalarType;
  ErrorExtensions?: ErrorExtensionsResolvers<ContextType>;
  Mutation?: MutationResolvers<ContextType>;
  PageInfo?: PageInfoResolvers<ContextType>;
  Query?: QueryResolvers<ContextType>;
  Subscription?: SubscriptionResolvers<ContextType>;
  Task?: TaskResolvers<ContextType>;
  TaskConnection?: TaskConnectionResolvers<ContextType>;
  TaskEdge?: TaskEdgeResolvers<ContextType>;
  TaskEvent?: TaskEventResolvers<ContextType>;
  User?: UserResolvers<ContextType>;
};

export type DirectiveResolvers<ContextType = Context> = {
  auth?: AuthDirectiveResolver<any, any, ContextType>;
  public?: PublicDirectiveResolver<any, any, ContextType>;
};
