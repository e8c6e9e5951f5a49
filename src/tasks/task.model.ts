/**
 * The task domain's own types: what services take and return. The GraphQL schema's types are
 * generated from schema/ for the resolvers (graphql/generated), which hand these in and map them
 * out; the compiler checks at each resolver that the two agree (a new enum value in the schema
 * does not compile until the domain knows it).
 */

import type { UserRecord } from '../users/user.model.ts';

/** Orders a list can be read in; ties are broken by id. */
export type TaskOrder = 'CREATED_AT_ASC' | 'CREATED_AT_DESC' | 'DUE_AT_ASC' | 'PRIORITY_DESC';
/** How important a task is, by name. */
export type TaskPriority = 'LOW' | 'MEDIUM' | 'HIGH';

/**
 * A task row as services and resolvers pass it around (plain data, not an ORM entity), with every
 * field as clients receive it: GraphQL writes these values as they are, with no resolver per field
 * (a resolver per task field cost each page 40 calls and a fifth of its allocations).
 */
export interface TaskRecord {
  id: string;
  ownerId: string;
  title: string;
  description: string | null;
  completed: boolean;
  /** By name; stored as its rank (priorityRank: 0 = LOW, 1 = MEDIUM, 2 = HIGH), which orders it. */
  priority: TaskPriority;
  /** Timestamps are ISO 8601 strings in UTC with milliseconds, as clients receive them. */
  dueAt: string | null;
  createdAt: string;
  updatedAt: string;
  /** 1 at creation, one more per change (optimistic concurrency). */
  version: number;
}

/** A task as clients see it: its record and the user of its owner column (TaskService.present). */
export interface TaskView extends TaskRecord {
  owner: UserRecord;
}

/** A task in a page; its cursor is encoded only if a client selects it. */
export interface TaskEdgeRecord {
  order: TaskOrder;
  node: TaskView;
}

/** Where a page sits in the whole list; a cursor is null when the page is empty. */
export interface PageInfoRecord {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

/** A page of tasks. Edges, cursors and `totalCount` cost nothing unless a client selects them. */
export interface TaskPage {
  order: TaskOrder;
  nodes: TaskView[];
  pageInfo: PageInfoRecord;
  totalCount: () => Promise<number>;
  /** A taskEvents cursor taken before the page was read (only when asked for: it costs a query). */
  eventsCursor: string | null;
}

/** A list request as a client makes it (unvalidated: TaskService checks every field). */
export interface TaskListInput {
  first?: number | null;
  after?: string | null;
  orderBy?: TaskOrder | null;
  filter?: TaskFilterInput | null;
}

/** Conditions a client may put on a list; omitted or null means no condition. */
export interface TaskFilterInput {
  completed?: boolean | null;
  priority?: TaskPriority | null;
  search?: string | null;
  dueBefore?: Date | null;
  dueAfter?: Date | null;
}

/** A new task as a client sends it (unvalidated). */
export interface NewTaskInput {
  title: string;
  description?: string | null;
  priority?: TaskPriority | null;
  dueAt?: Date | null;
}

/**
 * Changes to a task as a client sends them (unvalidated): omitted fields stay, null clears
 * `description` and `dueAt` and is refused elsewhere; `expectedVersion` guards against lost updates.
 */
export interface TaskUpdateInput {
  title?: string | null;
  description?: string | null;
  completed?: boolean | null;
  priority?: TaskPriority | null;
  dueAt?: Date | null;
  expectedVersion?: number | null;
}

/** A validated filter, as the repository takes it (priority as its stored rank). */
export interface TaskFilterValues {
  completed?: boolean | undefined;
  priority?: number | undefined;
  search?: string | undefined;
  dueBefore?: Date | undefined;
  dueAfter?: Date | undefined;
}

export const PRIORITY_NAMES = ['LOW', 'MEDIUM', 'HIGH'] as const satisfies readonly TaskPriority[];

export function priorityRank(name: TaskPriority): number {
  return PRIORITY_NAMES.indexOf(name);
}

export function priorityName(rank: number): TaskPriority {
  const name = PRIORITY_NAMES[rank];
  if (!name) throw new Error(`task priority out of range: ${rank}`);
  return name;
}
