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


export type NewTaskMutation = { createTask: { id: string, title: string, dueAt: string | null } };


export const OpenTasksDocument = {"__meta__":{"hash":"sha256:2382aa4fb70cb431cc881ad8a29a9f5a38087d47aef7cf458b1ea3fc5f61a093"}} as unknown as DocumentNode<OpenTasksQuery, OpenTasksQueryVariables>;
export const NewTaskDocument = {"__meta__":{"hash":"sha256:83fddae1f6a5b8ffb1c6d66d03cb133a5eea732bfe49f8962879fb042ec17807"}} as unknown as DocumentNode<NewTaskMutation, NewTaskMutationVariables>;