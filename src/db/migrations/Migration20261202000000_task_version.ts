import { Migration } from '@mikro-orm/migrations';

/**
 * Optimistic concurrency: every task carries a version, 1 at creation and one more per change.
 * Writers that pass the version they read change the row only if it is still that version.
 * Adding a column with a constant default is a catalog-only change in PostgreSQL 11+ (no rewrite).
 */
export class Migration20261202000000_task_version extends Migration {
  override up(): void {
    this.addSql(`alter table "task" add column "version" integer not null default 1 check ("version" >= 1)`);
  }

  override down(): void {
    this.addSql(`alter table "task" drop column if exists "version"`);
  }
}
