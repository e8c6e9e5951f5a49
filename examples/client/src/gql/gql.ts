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
    "query OpenTasks($first: Int!) {\n  tasks(first: $first, filter: {completed: false}, orderBy: DUE_AT_ASC) {\n    totalCount\n    nodes {\n      id\n      title\n      dueAt\n    }\n  }\n}\n\nmutation NewTask($input: CreateTaskInput!) {\n  createTask(input: $input) {\n    id\n    title\n    version\n  }\n}\n\nmutation CompleteTask($id: ID!, $expectedVersion: Int!) {\n  updateTask(id: $id, input: {completed: true, expectedVersion: $expectedVersion}) {\n    id\n    version\n  }\n}\n\nsubscription TaskChanges {\n  taskEvents {\n    kind\n    taskId\n    version\n    task {\n      id\n      title\n      completed\n    }\n  }\n}\n\nfragment ErrorExtensions on ErrorExtensions {\n  code\n  reason\n  field\n  currentVersion\n  retryAfterSeconds\n  setting\n  max\n  found\n  requestId\n  validationErrorCode\n}": typeof types.OpenTasksDocument,
};
const documents: Documents = {
    "query OpenTasks($first: Int!) {\n  tasks(first: $first, filter: {completed: false}, orderBy: DUE_AT_ASC) {\n    totalCount\n    nodes {\n      id\n      title\n      dueAt\n    }\n  }\n}\n\nmutation NewTask($input: CreateTaskInput!) {\n  createTask(input: $input) {\n    id\n    title\n    version\n  }\n}\n\nmutation CompleteTask($id: ID!, $expectedVersion: Int!) {\n  updateTask(id: $id, input: {completed: true, expectedVersion: $expectedVersion}) {\n    id\n    version\n  }\n}\n\nsubscription TaskChanges {\n  taskEvents {\n    kind\n    taskId\n    version\n    task {\n      id\n      title\n      completed\n    }\n  }\n}\n\nfragment ErrorExtensions on ErrorExtensions {\n  code\n  reason\n  field\n  currentVersion\n  retryAfterSeconds\n  setting\n  max\n  found\n  requestId\n  validationErrorCode\n}": types.OpenTasksDocument,
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
export function graphql(source: "query OpenTasks($first: Int!) {\n  tasks(first: $first, filter: {completed: false}, orderBy: DUE_AT_ASC) {\n    totalCount\n    nodes {\n      id\n      title\n      dueAt\n    }\n  }\n}\n\nmutation NewTask($input: CreateTaskInput!) {\n  createTask(input: $input) {\n    id\n    title\n    version\n  }\n}\n\nmutation CompleteTask($id: ID!, $expectedVersion: Int!) {\n  updateTask(id: $id, input: {completed: true, expectedVersion: $expectedVersion}) {\n    id\n    version\n  }\n}\n\nsubscription TaskChanges {\n  taskEvents {\n    kind\n    taskId\n    version\n    task {\n      id\n      title\n      completed\n    }\n  }\n}\n\nfragment ErrorExtensions on ErrorExtensions {\n  code\n  reason\n  field\n  currentVersion\n  retryAfterSeconds\n  setting\n  max\n  found\n  requestId\n  validationErrorCode\n}"): (typeof documents)["query OpenTasks($first: Int!) {\n  tasks(first: $first, filter: {completed: false}, orderBy: DUE_AT_ASC) {\n    totalCount\n    nodes {\n      id\n      title\n      dueAt\n    }\n  }\n}\n\nmutation NewTask($input: CreateTaskInput!) {\n  createTask(input: $input) {\n    id\n    title\n    version\n  }\n}\n\nmutation CompleteTask($id: ID!, $expectedVersion: Int!) {\n  updateTask(id: $id, input: {completed: true, expectedVersion: $expectedVersion}) {\n    id\n    version\n  }\n}\n\nsubscription TaskChanges {\n  taskEvents {\n    kind\n    taskId\n    version\n    task {\n      id\n      title\n      completed\n    }\n  }\n}\n\nfragment ErrorExtensions on ErrorExtensions {\n  code\n  reason\n  field\n  currentVersion\n  retryAfterSeconds\n  setting\n  max\n  found\n  requestId\n  validationErrorCode\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;