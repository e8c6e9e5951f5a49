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
  completed?: boolean | null | undefined;
  /** Only tasks due after this time (tasks without a due date are left out). */
  dueAfter?: string | null | undefined;
  /** Only tasks due before this time (tasks without a due date are left out). */
  dueBefore?: string | null | undefined;
  /** Only tasks of this priority. */
  priority?: TaskPriority | null | undefined;
  /** Only tasks whose title or description contains this text, ignoring case (up to 200 characters). */
  search?: string | null | undefined;
};

/** How important a task is. */
export type TaskPriority =
  /** Do it first. */
  | 'HIGH'
  /** Can wait. */
  | 'LOW'
  /** The default. */
  | 'MEDIUM';

export type TaskItemFragment = { __typename: 'Task', id: string, title: string, completed: boolean, priority: TaskPriority, dueAt: string | null, createdAt: string, version: number };

export type TaskListQueryVariables = Exact<{
  first: number;
  after?: string | null | undefined;
  filter?: TaskFilter | null | undefined;
}>;


export type TaskListQuery = { __typename: 'Query', tasks: { __typename: 'TaskConnection', totalCount: number, eventsCursor: string | null, nodes: Array<{ __typename: 'Task', id: string, title: string, completed: boolean, priority: TaskPriority, dueAt: string | null, createdAt: string, version: number }>, pageInfo: { __typename: 'PageInfo', hasNextPage: boolean, endCursor: string | null } } };

export type AddTaskMutationVariables = Exact<{
  input: CreateTaskInput;
}>;


export type AddTaskMutation = { __typename: 'Mutation', createTask: { __typename: 'Task', id: string, title: string, completed: boolean, priority: TaskPriority, dueAt: string | null, createdAt: string, version: number } };

export type SetTaskCompletedMutationVariables = Exact<{
  id: string | number;
  completed: boolean;
  expectedVersion: number;
}>;


export type SetTaskCompletedMutation = { __typename: 'Mutation', updateTask: { __typename: 'Task', id: string, title: string, completed: boolean, priority: TaskPriority, dueAt: string | null, createdAt: string, version: number } };

export type RemoveTaskMutationVariables = Exact<{
  id: string | number;
  expectedVersion: number;
}>;


export type RemoveTaskMutation = { __typename: 'Mutation', deleteTask: string };

export type LiveTaskEventsSubscriptionVariables = Exact<{
  after: string;
}>;


export type LiveTaskEventsSubscription = { taskEvents: { __typename: 'TaskEvent', kind: TaskEventKind, taskId: string, version: number, cursor: string, task: { __typename: 'Task', id: string, title: string, completed: boolean, priority: TaskPriority, dueAt: string | null, createdAt: string, version: number } | null } };

export const TaskItemFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"TaskItem"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Task"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"title"}},{"kind":"Field","name":{"kind":"Name","value":"completed"}},{"kind":"Field","name":{"kind":"Name","value":"priority"}},{"kind":"Field","name":{"kind":"Name","value":"dueAt"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"version"}}]}}]} as unknown as DocumentNode<TaskItemFragment, unknown>;
export const TaskListDocument = {"__meta__":{"operationType":"query","operationName":"TaskList","hash":"sha256:ff8dda3422ad04b39e91b42eabbed886dcf55dec6ca86a81a42e657182e07362"}} as unknown as DocumentNode<TaskListQuery, TaskListQueryVariables>;
export const AddTaskDocument = {"__meta__":{"operationType":"mutation","operationName":"AddTask","hash":"sha256:462ad0f5298af10f1889f55341a560ceb9574ce4f8b4422e26a1fa779efb1511"}} as unknown as DocumentNode<AddTaskMutation, AddTaskMutationVariables>;
export const SetTaskCompletedDocument = {"__meta__":{"operationType":"mutation","operationName":"SetTaskCompleted","hash":"sha256:92b97332cf0f30b22d5ae31ce74eba6b0a2c649f768e74c538a8d0c36bca6d99"}} as unknown as DocumentNode<SetTaskCompletedMutation, SetTaskCompletedMutationVariables>;
export const RemoveTaskDocument = {"__meta__":{"operationType":"mutation","operationName":"RemoveTask","hash":"sha256:c7b692424c89329eaad8560b23f7c32faf719ca24fec8adddd63fb64ed0b3c7e"}} as unknown as DocumentNode<RemoveTaskMutation, RemoveTaskMutationVariables>;
export const LiveTaskEventsDocument = {"__meta__":{"operationType":"subscription","operationName":"LiveTaskEvents","hash":"sha256:55043b5111ee877272a0ba8a9922e6a4716b659d2e745e7a5e131074ff04a57b"}} as unknown as DocumentNode<LiveTaskEventsSubscription, LiveTaskEventsSubscriptionVariables>;