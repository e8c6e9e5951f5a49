import type { PageInfo, TaskOrder, TaskPriority } from '../graphql/generated/resolvers-types.ts';

/** A task row as services and resolvers pass it around (plain data, not an ORM entity). */
export interface TaskRecord {
  id: string;
  ownerId: string;
  title: string;
  description: string | null;
  completed: boolean;
  /** 0 = LOW, 1 = MEDIUM, 2 = HIGH, as stored. */
  priority: number;
  /** Timestamps are ISO 8601 strings in UTC with milliseconds, as clients receive them. */
  dueAt: string | null;
  createdAt: string;
  updatedAt: string;
  /** 1 at creation, one more per change (optimistic concurrency). */
  version: number;
}

/** A task in a page; its cursor is encoded only if a client selects it. */
export interface TaskEdgeRecord {
  order: TaskOrder;
  node: TaskRecord;
}

/** A page of tasks. Edges, cursors and `totalCount` cost nothing unless a client selects them. */
export interface TaskPage {
  order: TaskOrder;
  nodes: TaskRecord[];
  pageInfo: PageInfo;
  totalCount: () => Promise<number>;
}

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

export type { TaskOrder };
