import { Migration } from '@mikro-orm/migrations';

/**
 * A user's open tasks in every order, whatever else they store (issue 19): partial indexes of
 * the tasks not completed, one per TaskOrder, laid out as the full ones (owner first, the order,
 * id last). A list of open tasks (`filter: { completed: false }`) then reads only open tasks: for
 * a user with 1.5M completed tasks, `tasks(first: 20, orderBy: DUE_AT_ASC, filter: { completed:
 * false })` walked all of them through task_owner_due_idx (2-3 s, in every order) and now takes
 * under a millisecond. The queries write `completed = false` as a constant (a parameter could not
 * prove the index's predicate in a prepared statement's generic plan). The indexes hold only open
 * tasks, so they stay small where the cost was: users who keep what they completed.
 */
export class Migration20261218000000_open_task_indexes extends Migration {
  override up(): void {
    this.addSql(`create index "task_open_created_idx" on "task" ("owner_id", "created_at" desc, "id" desc) where not "completed"`);
    this.addSql(`create index "task_open_due_idx" on "task" ("owner_id", "due_at" asc nulls last, "id" asc) where not "completed"`);
    this.addSql(`create index "task_open_priority_idx" on "task" ("owner_id", "priority" desc, "created_at" desc, "id" desc) where not "completed"`);
  }

  override down(): void {
    this.addSql(`drop index if exists "task_open_created_idx"`);
    this.addSql(`drop index if exists "task_open_due_idx"`);
    this.addSql(`drop index if exists "task_open_priority_idx"`);
  }
}
