import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import type { InferKyselyDB } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';

/**
 * A task belongs to exactly one Better Auth user (`owner_id` references `"user"(id)`, cascading
 * deletes). This schema is the one description of the table: the repository's typed Kysely
 * (`TaskTables`) is inferred from it. The `owner` filter is on by default: a query through the
 * ORM's own API without `em.setFilterParams('owner', { id })` throws.
 */
export const TaskSchema = defineEntity({
  name: 'Task',
  tableName: 'task',
  properties: {
    // UUIDv7: time-ordered, so new rows append to the primary-key index.
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    ownerId: p.string().fieldName('owner_id'),
    title: p.string().length(200),
    description: p.text().nullable(),
    completed: p.boolean().default(false),
    /** 0 = LOW, 1 = MEDIUM, 2 = HIGH: numeric so that ordering by priority is an index scan. */
    priority: p.smallint().default(1),
    dueAt: p.datetime().nullable(),
    /** 1 at creation, one more per change: writers compare it to detect lost updates. */
    version: p.integer().default(1),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
  filters: {
    owner: {
      name: 'owner',
      cond: (args: { id?: unknown }) => {
        if (typeof args.id !== 'string' || args.id === '') throw new Error('task queries need an owner');
        return { ownerId: args.id };
      },
      default: true,
    },
  },
});

export type Task = InferEntity<typeof TaskSchema>;

/** The task table as the repository's Kysely sees it (column names, value types), from the schema. */
export type TaskTables = InferKyselyDB<typeof TaskSchema>;
