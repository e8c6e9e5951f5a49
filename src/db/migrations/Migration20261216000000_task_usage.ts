import { Migration } from '@mikro-orm/migrations';

/**
 * What each user stores: tasks and bytes of text (title and description, UTF-8), one row per
 * owner, kept by triggers so that every write path counts, psql and the cascade of a deleted user
 * included. The quotas (MAX_TASKS_PER_USER, MAX_TASK_TEXT_BYTES_PER_USER) are enforced by the same
 * triggers when the writing statement names them (the server sets `taskgraph.max_tasks` and
 * `taskgraph.max_text_bytes` with set_config(..., true) in its insert and text updates; a write
 * without them, from psql, is counted and not refused). The counter row's lock makes the check
 * exact under concurrency: a writer waits for the one before it and re-checks its WHERE against
 * the count that one left (READ COMMITTED re-evaluates an UPDATE's condition on the newest row).
 *
 * Refusals raise SQLSTATE QT001 (tasks) or QT002 (text); nothing of the statement is stored.
 */
export class Migration20261216000000_task_usage extends Migration {
  override up(): void {
    this.addSql(`
      create table "task_usage" (
        "owner_id" text primary key,
        "tasks" integer not null default 0,
        "text_bytes" bigint not null default 0
      )`);
    // A deleted user's row goes with the user (when Better Auth's table shares this database).
    this.addSql(`
      do $$ begin
        if to_regclass('"user"') is not null then
          alter table "task_usage" add constraint "task_usage_owner_id_fkey"
            foreign key ("owner_id") references "user" ("id") on delete cascade;
        end if;
      end $$`);
    this.addSql(`
      create function "task_text_bytes"(title text, description text) returns bigint
        language sql immutable parallel safe
        return octet_length(title) + coalesce(octet_length(description), 0)`);
    this.addSql(`
      create function "task_usage_added"() returns trigger language plpgsql as $$
      declare
        max_tasks bigint := nullif(current_setting('taskgraph.max_tasks', true), '')::bigint;
        max_bytes bigint := nullif(current_setting('taskgraph.max_text_bytes', true), '')::bigint;
        bytes bigint := "task_text_bytes"(new."title", new."description");
        used "task_usage";
      begin
        if bytes > max_bytes then
          raise exception 'task text quota exceeded' using errcode = 'QT002';
        end if;
        insert into "task_usage" as u ("owner_id", "tasks", "text_bytes") values (new."owner_id", 1, bytes)
          on conflict ("owner_id") do update set "tasks" = u."tasks" + 1, "text_bytes" = u."text_bytes" + excluded."text_bytes"
          where (max_tasks is null or u."tasks" < max_tasks) and (max_bytes is null or u."text_bytes" + excluded."text_bytes" <= max_bytes);
        if not found then
          select * into used from "task_usage" where "owner_id" = new."owner_id";
          if used."tasks" >= max_tasks then
            raise exception 'task quota exceeded' using errcode = 'QT001';
          end if;
          raise exception 'task text quota exceeded' using errcode = 'QT002';
        end if;
        return null;
      end $$`);
    this.addSql(`
      create function "task_usage_changed"() returns trigger language plpgsql as $$
      declare
        max_bytes bigint := nullif(current_setting('taskgraph.max_text_bytes', true), '')::bigint;
        before_ bigint := "task_text_bytes"(old."title", old."description");
        after_ bigint := "task_text_bytes"(new."title", new."description");
      begin
        if old."owner_id" is distinct from new."owner_id" then
          -- Only outside the server (it never moves a task): counted, not refused.
          update "task_usage" set "tasks" = "tasks" - 1, "text_bytes" = "text_bytes" - before_ where "owner_id" = old."owner_id";
          insert into "task_usage" as u ("owner_id", "tasks", "text_bytes") values (new."owner_id", 1, after_)
            on conflict ("owner_id") do update set "tasks" = u."tasks" + 1, "text_bytes" = u."text_bytes" + excluded."text_bytes";
          return null;
        end if;
        if after_ = before_ then
          return null;
        end if;
        update "task_usage" set "text_bytes" = "text_bytes" + (after_ - before_)
          where "owner_id" = new."owner_id" and (after_ < before_ or max_bytes is null or "text_bytes" + (after_ - before_) <= max_bytes);
        if not found then
          raise exception 'task text quota exceeded' using errcode = 'QT002';
        end if;
        return null;
      end $$`);
    // One update per owner per statement: a user's cascade deletes thousands of rows at once.
    this.addSql(`
      create function "task_usage_removed"() returns trigger language plpgsql as $$
      begin
        update "task_usage" u set "tasks" = u."tasks" - g.n, "text_bytes" = u."text_bytes" - g.bytes
          from (select "owner_id", count(*) as n, sum("task_text_bytes"("title", "description")) as bytes from removed group by "owner_id") g
          where u."owner_id" = g."owner_id";
        return null;
      end $$`);
    this.addSql(`
      create function "task_usage_truncated"() returns trigger language plpgsql as $$
      begin
        update "task_usage" set "tasks" = 0, "text_bytes" = 0;
        return null;
      end $$`);
    this.addSql(`create trigger "task_usage_added" after insert on "task" for each row execute function "task_usage_added"()`);
    // Fires only when a statement sets one of these columns and the text (or owner) really changes:
    // completing a task or changing its priority costs nothing here.
    this.addSql(`
      create trigger "task_usage_changed" after update of "owner_id", "title", "description" on "task" for each row
        when (old."owner_id" is distinct from new."owner_id" or old."title" is distinct from new."title" or old."description" is distinct from new."description")
        execute function "task_usage_changed"()`);
    this.addSql(`
      create trigger "task_usage_removed" after delete on "task" referencing old table as removed
        for each statement execute function "task_usage_removed"()`);
    this.addSql(`create trigger "task_usage_truncated" after truncate on "task" for each statement execute function "task_usage_truncated"()`);
    // Tasks written before the triggers existed. Creating a trigger locks out writers until this
    // migration commits, so none is counted twice or missed.
    this.addSql(`
      insert into "task_usage" ("owner_id", "tasks", "text_bytes")
        select "owner_id", count(*), sum("task_text_bytes"("title", "description")) from "task" group by "owner_id"`);
  }

  override down(): void {
    this.addSql(`drop trigger if exists "task_usage_truncated" on "task"`);
    this.addSql(`drop trigger if exists "task_usage_removed" on "task"`);
    this.addSql(`drop trigger if exists "task_usage_changed" on "task"`);
    this.addSql(`drop trigger if exists "task_usage_added" on "task"`);
    this.addSql(`drop function if exists "task_usage_truncated"()`);
    this.addSql(`drop function if exists "task_usage_removed"()`);
    this.addSql(`drop function if exists "task_usage_changed"()`);
    this.addSql(`drop function if exists "task_usage_added"()`);
    this.addSql(`drop function if exists "task_text_bytes"(text, text)`);
    this.addSql(`drop table if exists "task_usage"`);
  }
}
