/* eslint-disable */
import * as types from './graphql.ts';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "fragment TaskItem on Task {\n  id\n  title\n  completed\n  priority\n  dueAt\n  createdAt\n  version\n}\n\nquery TaskList($first: Int!, $after: String, $filter: TaskFilter) {\n  tasks(first: $first, after: $after, filter: $filter, orderBy: CREATED_AT_DESC) {\n    nodes {\n      ...TaskItem\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    totalCount\n    eventsCursor\n  }\n}\n\nmutation AddTask($input: CreateTaskInput!) {\n  createTask(input: $input) {\n    ...TaskItem\n  }\n}\n\nmutation SetTaskCompleted($id: ID!, $completed: Boolean!, $expectedVersion: Int!) {\n  updateTask(\n    id: $id\n    input: {completed: $completed, expectedVersion: $expectedVersion}\n  ) {\n    ...TaskItem\n  }\n}\n\nmutation RemoveTask($id: ID!, $expectedVersion: Int!) {\n  deleteTask(id: $id, expectedVersion: $expectedVersion)\n}\n\nsubscription LiveTaskEvents($after: String!) {\n  taskEvents(after: $after) {\n    kind\n    taskId\n    version\n    cursor\n    task {\n      ...TaskItem\n    }\n  }\n}": typeof types.TaskItemFragmentDoc,
};
const documents: Documents = {
    "fragment TaskItem on Task {\n  id\n  title\n  completed\n  priority\n  dueAt\n  createdAt\n  version\n}\n\nquery TaskList($first: Int!, $after: String, $filter: TaskFilter) {\n  tasks(first: $first, after: $after, filter: $filter, orderBy: CREATED_AT_DESC) {\n    nodes {\n      ...TaskItem\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    totalCount\n    eventsCursor\n  }\n}\n\nmutation AddTask($input: CreateTaskInput!) {\n  createTask(input: $input) {\n    ...TaskItem\n  }\n}\n\nmutation SetTaskCompleted($id: ID!, $completed: Boolean!, $expectedVersion: Int!) {\n  updateTask(\n    id: $id\n    input: {completed: $completed, expectedVersion: $expectedVersion}\n  ) {\n    ...TaskItem\n  }\n}\n\nmutation RemoveTask($id: ID!, $expectedVersion: Int!) {\n  deleteTask(id: $id, expectedVersion: $expectedVersion)\n}\n\nsubscription LiveTaskEvents($after: String!) {\n  taskEvents(after: $after) {\n    kind\n    taskId\n    version\n    cursor\n    task {\n      ...TaskItem\n    }\n  }\n}": types.TaskItemFragmentDoc,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment TaskItem on Task {\n  id\n  title\n  completed\n  priority\n  dueAt\n  createdAt\n  version\n}\n\nquery TaskList($first: Int!, $after: String, $filter: TaskFilter) {\n  tasks(first: $first, after: $after, filter: $filter, orderBy: CREATED_AT_DESC) {\n    nodes {\n      ...TaskItem\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    totalCount\n    eventsCursor\n  }\n}\n\nmutation AddTask($input: CreateTaskInput!) {\n  createTask(input: $input) {\n    ...TaskItem\n  }\n}\n\nmutation SetTaskCompleted($id: ID!, $completed: Boolean!, $expectedVersion: Int!) {\n  updateTask(\n    id: $id\n    input: {completed: $completed, expectedVersion: $expectedVersion}\n  ) {\n    ...TaskItem\n  }\n}\n\nmutation RemoveTask($id: ID!, $expectedVersion: Int!) {\n  deleteTask(id: $id, expectedVersion: $expectedVersion)\n}\n\nsubscription LiveTaskEvents($after: String!) {\n  taskEvents(after: $after) {\n    kind\n    taskId\n    version\n    cursor\n    task {\n      ...TaskItem\n    }\n  }\n}"): (typeof documents)["fragment TaskItem on Task {\n  id\n  title\n  completed\n  priority\n  dueAt\n  createdAt\n  version\n}\n\nquery TaskList($first: Int!, $after: String, $filter: TaskFilter) {\n  tasks(first: $first, after: $after, filter: $filter, orderBy: CREATED_AT_DESC) {\n    nodes {\n      ...TaskItem\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    totalCount\n    eventsCursor\n  }\n}\n\nmutation AddTask($input: CreateTaskInput!) {\n  createTask(input: $input) {\n    ...TaskItem\n  }\n}\n\nmutation SetTaskCompleted($id: ID!, $completed: Boolean!, $expectedVersion: Int!) {\n  updateTask(\n    id: $id\n    input: {completed: $completed, expectedVersion: $expectedVersion}\n  ) {\n    ...TaskItem\n  }\n}\n\nmutation RemoveTask($id: ID!, $expectedVersion: Int!) {\n  deleteTask(id: $id, expectedVersion: $expectedVersion)\n}\n\nsubscription LiveTaskEvents($after: String!) {\n  taskEvents(after: $after) {\n    kind\n    taskId\n    version\n    cursor\n    task {\n      ...TaskItem\n    }\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;