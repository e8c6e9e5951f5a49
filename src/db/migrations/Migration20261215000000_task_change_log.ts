import { Migration } from '@mikro-orm/migrations';

/**
 * The change log behind resumable live updates (src/tasks/task.feed.ts). Written by a row trigger,
 * so that every writer is covered: the API, the cascade delete of a deleted user's tasks, an
 * operator in psql. Replaces the task table's NOTIFY trigger: instances read the log instead of
 * being notified (a notifying commit takes a cluster-wide lock, which serialised every write).
 *
 * Each row carries the writing transaction's top-level id (`pg_current_xact_id()`, xid8: 64 bits,
 * no wraparound) and an identity for the order within that transaction. A reader's position is a
 * snapshot (which transactions it has seen), not a number: a row becomes readable only when its
 * transaction commits, and transactions commit in another order than their ids.
 *
 * - task_change: one row per written task row; `version` is the version the change produced
 *   (CREATED, UPDATED) or deleted (DELETED). Read per owner (primary key) and, by every instance
 *   polling for new rows and by pruning, in (xid, id) order.
 * - task_change_horizon: samples of the oldest running transaction over time; pruning removes
 *   the rows of transactions that had all ended TASK_EVENTS_RETENTION_SECONDS ago, never more.
 * - task_change_pruned: the boundary below which rows may be gone; a position that needs rows
 *   below it is refused (CURSOR_EXPIRED) rather than served with a gap.
 */
export class Migration20261215000000_task_change_log extends Migration {
  override up(): void {
    this.addSql(`create type "task_change_kind" as enum ('CREATED', 'UPDATED', 'DELETED')`);
    this.addSql(`
      create table "task_change" (
        "xid" xid8 not null default pg_current_xact_id(),
        "id" bigint generated always as identity,
        "owner_id" text not null,
        "task_id" uuid not null,
        "kind" "task_change_kind" not null,
        "version" integer not null,
        "changed_at" timestamptz not null default now(),
        primary key ("owner_id", "xid", "id")
      )`);
    this.addSql(`create index "task_change_xid_idx" on "task_change" ("xid", "id")`);
    this.addSql(`
      create table "task_change_horizon" (
        "sampled_at" timestamptz primary key,
        "running_from" xid8 not null
      )`);
    this.addSql(`
      create table "task_change_pruned" (
        "one" boolean primary key default true check ("one"),
        "below" xid8 not null
      )`);
    this.addSql(`insert into "task_change_pruned" ("below") values ('0')`);
    // One row per written row, nothing else: no NOTIFY, no lookup. A task moved to another owner
    // (only possible in SQL) leaves the old owner's feed as DELETED and enters the new one's as CREATED.
    this.addSql(`
      create function "task_change_log"() returns trigger language plpgsql as $$
      begin
        if tg_op = 'INSERT' then
          insert into "task_change" ("owner_id", "task_id", "kind", "version") values (new."owner_id", new."id", 'CREATED', new."version");
        elsif tg_op = 'DELETE' then
          insert into "task_change" ("owner_id", "task_id", "kind", "version") values (old."owner_id", old."id", 'DELETED', old."version");
        elsif new."owner_id" is distinct from old."owner_id" then
          insert into "task_change" ("owner_id", "task_id", "kind", "version")
            values (old."owner_id", old."id", 'DELETED', old."version"), (new."owner_id", new."id", 'CREATED', new."version");
        else
          insert into "task_change" ("owner_id", "task_id", "kind", "version") values (new."owner_id", new."id", 'UPDATED', new."version");
        end if;
        return null;
      end $$`);
    this.addSql(`drop trigger if exists "task_notify" on "task"`);
    this.addSql(`drop function if exists "task_notify"()`);
    this.addSql(`
      create trigger "task_change_log" after insert or update or delete on "task"
        for each row execute function "task_change_log"()`);
  }

  override down(): void {
    this.addSql(`drop trigger if exists "task_change_log" on "task"`);
    this.addSql(`drop function if exists "task_change_log"()`);
    this.addSql(`drop table if exists "task_change_pruned"`);
    this.addSql(`drop table if exists "task_change_horizon"`);
    this.addSql(`drop table if exists "task_change"`);
    this.addSql(`drop type if exists "task_change_kind"`);
    this.addSql(`
      create function "task_notify"() returns trigger language plpgsql as $$
      declare
        row_ record := coalesce(new, old);
      begin
        perform pg_notify('task_events', json_build_object(
          'kind', case tg_op when 'INSERT' then 'CREATED' when 'UPDATE' then 'UPDATED' else 'DELETED' end,
          'taskId', row_."id",
          'ownerId', row_."owner_id")::text);
        return null;
      end $$`);
    this.addSql(`
      create trigger "task_notify" after insert or update or delete on "task"
        for each row execute function "task_notify"()`);
  }
}
