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
    "fragment TaskFields on Task {\n  id\n  title\n  description\n  completed\n  priority\n  dueAt\n  createdAt\n  updatedAt\n  version\n  owner {\n    id\n    email\n  }\n}\n\nquery Me {\n  me {\n    id\n    email\n    name\n  }\n}\n\nquery Task($id: ID!) {\n  task(id: $id) {\n    ...TaskFields\n  }\n}\n\nquery Tasks($first: Int, $after: String, $filter: TaskFilter, $orderBy: TaskOrder) {\n  tasks(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {\n    totalCount\n    pageInfo {\n      hasNextPage\n      hasPreviousPage\n      startCursor\n      endCursor\n    }\n    edges {\n      cursor\n      node {\n        id\n      }\n    }\n    nodes {\n      ...TaskFields\n    }\n  }\n}\n\nquery TaskPage($first: Int, $after: String, $filter: TaskFilter, $orderBy: TaskOrder) {\n  tasks(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    nodes {\n      id\n      priority\n      dueAt\n      createdAt\n    }\n  }\n}\n\nquery TasksWithEventsCursor($first: Int) {\n  tasks(first: $first) {\n    eventsCursor\n    nodes {\n      id\n      version\n    }\n  }\n}\n\nmutation CreateTask($input: CreateTaskInput!) {\n  createTask(input: $input) {\n    ...TaskFields\n  }\n}\n\nmutation UpdateTask($id: ID!, $input: UpdateTaskInput!) {\n  updateTask(id: $id, input: $input) {\n    ...TaskFields\n  }\n}\n\nmutation DeleteTask($id: ID!, $expectedVersion: Int) {\n  deleteTask(id: $id, expectedVersion: $expectedVersion)\n}\n\nsubscription TaskEvents($after: String) {\n  taskEvents(after: $after) {\n    kind\n    taskId\n    version\n    cursor\n    task {\n      id\n      title\n      completed\n      owner {\n        id\n      }\n    }\n  }\n}": typeof types.TaskFieldsFragmentDoc,
};
const documents: Documents = {
    "fragment TaskFields on Task {\n  id\n  title\n  description\n  completed\n  priority\n  dueAt\n  createdAt\n  updatedAt\n  version\n  owner {\n    id\n    email\n  }\n}\n\nquery Me {\n  me {\n    id\n    email\n    name\n  }\n}\n\nquery Task($id: ID!) {\n  task(id: $id) {\n    ...TaskFields\n  }\n}\n\nquery Tasks($first: Int, $after: String, $filter: TaskFilter, $orderBy: TaskOrder) {\n  tasks(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {\n    totalCount\n    pageInfo {\n      hasNextPage\n      hasPreviousPage\n      startCursor\n      endCursor\n    }\n    edges {\n      cursor\n      node {\n        id\n      }\n    }\n    nodes {\n      ...TaskFields\n    }\n  }\n}\n\nquery TaskPage($first: Int, $after: String, $filter: TaskFilter, $orderBy: TaskOrder) {\n  tasks(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    nodes {\n      id\n      priority\n      dueAt\n      createdAt\n    }\n  }\n}\n\nquery TasksWithEventsCursor($first: Int) {\n  tasks(first: $first) {\n    eventsCursor\n    nodes {\n      id\n      version\n    }\n  }\n}\n\nmutation CreateTask($input: CreateTaskInput!) {\n  createTask(input: $input) {\n    ...TaskFields\n  }\n}\n\nmutation UpdateTask($id: ID!, $input: UpdateTaskInput!) {\n  updateTask(id: $id, input: $input) {\n    ...TaskFields\n  }\n}\n\nmutation DeleteTask($id: ID!, $expectedVersion: Int) {\n  deleteTask(id: $id, expectedVersion: $expectedVersion)\n}\n\nsubscription TaskEvents($after: String) {\n  taskEvents(after: $after) {\n    kind\n    taskId\n    version\n    cursor\n    task {\n      id\n      title\n      completed\n      owner {\n        id\n      }\n    }\n  }\n}": types.TaskFieldsFragmentDoc,
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
export function graphql(source: "fragment TaskFields on Task {\n  id\n  title\n  description\n  completed\n  priority\n  dueAt\n  createdAt\n  updatedAt\n  version\n  owner {\n    id\n    email\n  }\n}\n\nquery Me {\n  me {\n    id\n    email\n    name\n  }\n}\n\nquery Task($id: ID!) {\n  task(id: $id) {\n    ...TaskFields\n  }\n}\n\nquery Tasks($first: Int, $after: String, $filter: TaskFilter, $orderBy: TaskOrder) {\n  tasks(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {\n    totalCount\n    pageInfo {\n      hasNextPage\n      hasPreviousPage\n      startCursor\n      endCursor\n    }\n    edges {\n      cursor\n      node {\n        id\n      }\n    }\n    nodes {\n      ...TaskFields\n    }\n  }\n}\n\nquery TaskPage($first: Int, $after: String, $filter: TaskFilter, $orderBy: TaskOrder) {\n  tasks(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    nodes {\n      id\n      priority\n      dueAt\n      createdAt\n    }\n  }\n}\n\nquery TasksWithEventsCursor($first: Int) {\n  tasks(first: $first) {\n    eventsCursor\n    nodes {\n      id\n      version\n    }\n  }\n}\n\nmutation CreateTask($input: CreateTaskInput!) {\n  createTask(input: $input) {\n    ...TaskFields\n  }\n}\n\nmutation UpdateTask($id: ID!, $input: UpdateTaskInput!) {\n  updateTask(id: $id, input: $input) {\n    ...TaskFields\n  }\n}\n\nmutation DeleteTask($id: ID!, $expectedVersion: Int) {\n  deleteTask(id: $id, expectedVersion: $expectedVersion)\n}\n\nsubscription TaskEvents($after: String) {\n  taskEvents(after: $after) {\n    kind\n    taskId\n    version\n    cursor\n    task {\n      id\n      title\n      completed\n      owner {\n        id\n      }\n    }\n  }\n}"): (typeof documents)["fragment TaskFields on Task {\n  id\n  title\n  description\n  completed\n  priority\n  dueAt\n  createdAt\n  updatedAt\n  version\n  owner {\n    id\n    email\n  }\n}\n\nquery Me {\n  me {\n    id\n    email\n    name\n  }\n}\n\nquery Task($id: ID!) {\n  task(id: $id) {\n    ...TaskFields\n  }\n}\n\nquery Tasks($first: Int, $after: String, $filter: TaskFilter, $orderBy: TaskOrder) {\n  tasks(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {\n    totalCount\n    pageInfo {\n      hasNextPage\n      hasPreviousPage\n      startCursor\n      endCursor\n    }\n    edges {\n      cursor\n      node {\n        id\n      }\n    }\n    nodes {\n      ...TaskFields\n    }\n  }\n}\n\nquery TaskPage($first: Int, $after: String, $filter: TaskFilter, $orderBy: TaskOrder) {\n  tasks(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    nodes {\n      id\n      priority\n      dueAt\n      createdAt\n    }\n  }\n}\n\nquery TasksWithEventsCursor($first: Int) {\n  tasks(first: $first) {\n    eventsCursor\n    nodes {\n      id\n      version\n    }\n  }\n}\n\nmutation CreateTask($input: CreateTaskInput!) {\n  createTask(input: $input) {\n    ...TaskFields\n  }\n}\n\nmutation UpdateTask($id: ID!, $input: UpdateTaskInput!) {\n  updateTask(id: $id, input: $input) {\n    ...TaskFields\n  }\n}\n\nmutation DeleteTask($id: ID!, $expectedVersion: Int) {\n  deleteTask(id: $id, expectedVersion: $expectedVersion)\n}\n\nsubscription TaskEvents($after: String) {\n  taskEvents(after: $after) {\n    kind\n    taskId\n    version\n    cursor\n    task {\n      id\n      title\n      completed\n      owner {\n        id\n      }\n    }\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;