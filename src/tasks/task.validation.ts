import { BadInput } from '../errors.ts';

// Control characters (C0, DEL and C1) other than tab and newline; carriage returns are normalised
// away before the check (text pasted from Windows), so they never reach the database.
const CONTROL = /(?![\t\n])\p{Cc}/u;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const TITLE_MAX = 200;
export const DESCRIPTION_MAX = 10_000;
export const SEARCH_MAX = 200;
export const PAGE_MAX = 100;

/** Length in characters (code points), as PostgreSQL counts them, not UTF-16 units. */
function length(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function text(field: string, value: string, max: number): string {
  // Lone surrogates cannot be stored as UTF-8: make them U+FFFD here, so that what the mutation
  // returns is what later reads return.
  const normalised = value.toWellFormed().replace(/\r\n?/g, '\n');
  if (CONTROL.test(normalised)) {
    throw new BadInput(field, 'must not contain control characters other than tab and newline');
  }
  if (length(normalised) > max) throw new BadInput(field, `must be at most ${max} characters`);
  return normalised;
}

export function taskId(field: string, value: string): string {
  if (!UUID.test(value)) throw new BadInput(field, 'must be a task id (a UUID)');
  return value.toLowerCase();
}

export function title(field: string, value: string): string {
  const trimmed = text(field, value, Number.MAX_SAFE_INTEGER).trim();
  if (trimmed === '') throw new BadInput(field, 'must not be empty');
  if (length(trimmed) > TITLE_MAX) throw new BadInput(field, `must be at most ${TITLE_MAX} characters`);
  return trimmed;
}

export function description(field: string, value: string): string {
  return text(field, value, DESCRIPTION_MAX);
}

export function search(field: string, value: string): string {
  return text(field, value, SEARCH_MAX);
}

export function pageSize(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > PAGE_MAX) {
    throw new BadInput(field, `must be between 1 and ${PAGE_MAX}`);
  }
  return value;
}

/** Rejects an explicit null for a field that cannot be cleared. */
export function notNull<T>(field: string, value: T | null): T {
  if (value === null) throw new BadInput(field, 'cannot be null');
  return value;
}

/** Years 1 to 9999: what RFC 3339 can write and PostgreSQL stores without an era (year 0 is 1 BC). */
export function dateTime(field: string, value: Date): Date {
  const year = value.getUTCFullYear();
  if (year < 1 || year > 9999) throw new BadInput(field, 'must be a date between the years 0001 and 9999');
  return value;
}

/** A version a client read: a task's versions start at 1. */
export function version(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new BadInput(field, 'must be a task version (1 or more)');
  return value;
}
