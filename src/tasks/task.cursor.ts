import { priorityRank, type TaskOrder, type TaskRecord } from './task.model.ts';

/**
 * The position of a task in one order: the values of the order's columns and the id that breaks
 * ties. Cursors are opaque to clients (base64url JSON) and bound to the order they came from.
 */
export type CursorPosition =
  | { order: 'CREATED_AT_DESC' | 'CREATED_AT_ASC'; createdAt: string; id: string }
  | { order: 'DUE_AT_ASC'; dueAt: string | null; id: string }
  | { order: 'PRIORITY_DESC'; priority: number; createdAt: string; id: string };

type Encoded = [TaskOrder, ...Array<string | number | null>];

export function encodeCursor(order: TaskOrder, task: TaskRecord): string {
  let value: Encoded;
  switch (order) {
    case 'CREATED_AT_DESC':
    case 'CREATED_AT_ASC':
      value = [order, task.createdAt, task.id];
      break;
    case 'DUE_AT_ASC':
      value = [order, task.dueAt, task.id];
      break;
    case 'PRIORITY_DESC':
      // The stored rank, which the order compares (the cursor's position).
      value = [order, priorityRank(task.priority), task.createdAt, task.id];
      break;
  }
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** An ISO timestamp as this server writes them: a real date (no 30 February), years 1 to 9999. */
function date(value: unknown): string | undefined {
  if (typeof value !== 'string' || !ISO.test(value)) return undefined;
  const parsed = new Date(value);
  const year = parsed.getUTCFullYear();
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString() === value && year >= 1 && year <= 9999 ? value : undefined;
}

/** The position a cursor points at, or undefined when it is malformed or from another order. */
export function decodeCursor(cursor: string, order: TaskOrder): CursorPosition | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value[0] !== order) return undefined;
  const id: unknown = value.at(-1);
  if (typeof id !== 'string' || !UUID.test(id)) return undefined;
  switch (order) {
    case 'CREATED_AT_DESC':
    case 'CREATED_AT_ASC': {
      const createdAt = date(value[1]);
      return value.length === 3 && createdAt ? { order, createdAt, id } : undefined;
    }
    case 'DUE_AT_ASC': {
      const dueAt = value[1] === null ? null : date(value[1]);
      return value.length === 3 && dueAt !== undefined ? { order, dueAt, id } : undefined;
    }
    case 'PRIORITY_DESC': {
      const priority: unknown = value[1];
      const createdAt = date(value[2]);
      return value.length === 4 && (priority === 0 || priority === 1 || priority === 2) && createdAt ? { order, priority, createdAt, id } : undefined;
    }
  }
}
