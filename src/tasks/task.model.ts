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
  dueAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface TaskEdgeRecord {
  cursor: string;
  node: TaskRecord;
}

/** A page of tasks. `totalCount` runs its query only when a client selects the field. */
export interface TaskPage {
  edges: TaskEdgeRecord[];
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
export const TASK_ORDERS = ['CREATED_AT_DESC', 'CREATED_AT_ASC', 'DUE_AT_ASC', 'PRIORITY_DESC'] as const satisfies readonly TaskOrder[];
