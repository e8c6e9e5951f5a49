import { Migration } from '@mikro-orm/migrations';

/**
 * The task table. Runs after Better Auth's own migrations, which create `"user"` (embedded mode).
 * Timestamps keep milliseconds, as JavaScript dates do, so a keyset cursor holds them exactly.
 * The service validates lengths first; the checks are the last line of defence.
 * Indexes lead with owner_id and follow each TaskOrder with a unique tie-breaker (id), so a
 * viewer's page in any order is one index range scan.
 */
export class Migration20261121000000_create_task extends Migration {
  override up(): void {
    this.addSql(`
      create table "task" (
        "id" uuid primary key,
        "owner_id" text not null,
        "title" varchar(200) not null check (char_length(btrim("title")) between 1 and 200),
        "description" text null check (char_length("description") <= 10000),
        "completed" boolean not null default false,
        "priority" smallint not null default 1 check ("priority" between 0 and 2),
        "due_at" timestamptz(3) null,
        "created_at" timestamptz(3) not null,
        "updated_at" timestamptz(3) not null
      )`);
    // With Better Auth in the same database (embedded mode, or a remote Better Auth sharing it),
    // a task cannot outlive its user. Otherwise users live with the token issuer, out of reach.
    this.addSql(`
      do $$ begin
        if to_regclass('"user"') is not null then
          alter table "task" add constraint "task_owner_id_fkey"
            foreign key ("owner_id") references "user" ("id") on delete cascade;
        end if;
      end $$`);
    this.addSql(`create index "task_owner_created_idx" on "task" ("owner_id", "created_at" desc, "id" desc)`);
    this.addSql(`create index "task_owner_due_idx" on "task" ("owner_id", "due_at" asc nulls last, "id" asc)`);
    this.addSql(`create index "task_owner_priority_idx" on "task" ("owner_id", "priority" desc, "created_at" desc, "id" desc)`);
  }

  override down(): void {
    this.addSql(`drop table if exists "task"`);
  }
}
