import { Migration } from '@mikro-orm/migrations';

/**
 * The due-date indexes hold the due-date order's key, `coalesce(due_at, 'infinity')` (a task
 * without a due date sorts last, as at infinity), instead of `due_at asc nulls last`: the same
 * order, but one key, so that a cursor's condition ("after this task", with or without a due date)
 * and a due-date range are each one range of the index. Queries write the key the same way
 * (TaskRepository's DUE). Before, the cursor's `(due_at, id) > (...) or due_at is null` could not
 * bound the scan: a page deep into a user's 1.5M tasks by due date skipped every entry before it.
 * No task can be due at infinity (the API's DateTime cannot say it).
 */
export class Migration20261218000001_due_order_key extends Migration {
  override up(): void {
    this.addSql(`drop index if exists "task_owner_due_idx"`);
    this.addSql(`drop index if exists "task_open_due_idx"`);
    this.addSql(`create index "task_owner_due_idx" on "task" ("owner_id", coalesce("due_at", 'infinity'), "id")`);
    this.addSql(`create index "task_open_due_idx" on "task" ("owner_id", coalesce("due_at", 'infinity'), "id") where not "completed"`);
  }

  override down(): void {
    this.addSql(`drop index if exists "task_owner_due_idx"`);
    this.addSql(`drop index if exists "task_open_due_idx"`);
    this.addSql(`create index "task_owner_due_idx" on "task" ("owner_id", "due_at" asc nulls last, "id" asc)`);
    this.addSql(`create index "task_open_due_idx" on "task" ("owner_id", "due_at" asc nulls last, "id" asc) where not "completed"`);
  }
}
