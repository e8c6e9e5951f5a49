import { Migration } from '@mikro-orm/migrations';

/**
 * Change notifications for live updates and for the caches of every instance (PostgreSQL
 * LISTEN/NOTIFY). Row triggers rather than NOTIFY calls in the application: they run inside the
 * writing transaction (delivered only on commit, never for a rollback), in one place, and cover every
 * write path, the cascade delete of a deleted user's tasks included. Payloads carry ids only
 * (NOTIFY payloads are limited to 8000 bytes; listeners re-read rows as the subscriber).
 *
 * - `task_events`: {"kind":"CREATED"|"UPDATED"|"DELETED","taskId":...,"ownerId":...}
 * - `user_events`: {"kind":"UPDATED"|"DELETED"|"SIGNED_OUT","userId":...}; SIGNED_OUT when the
 *   last session of a user is deleted (sign-out on the only device, or everywhere). Created only
 *   when Better Auth's tables share this database, as the task foreign key is.
 */
export class Migration20261202000000_notify_changes extends Migration {
  override up(): void {
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
    this.addSql(`
      do $$ begin
        if to_regclass('"user"') is not null then
          create function "user_notify"() returns trigger language plpgsql as $f$
          begin
            perform pg_notify('user_events', json_build_object(
              'kind', case tg_op when 'UPDATE' then 'UPDATED' else 'DELETED' end,
              'userId', old."id")::text);
            return null;
          end $f$;
          create trigger "user_notify" after update or delete on "user"
            for each row execute function "user_notify"();
        end if;
        if to_regclass('"session"') is not null then
          create function "session_notify"() returns trigger language plpgsql as $f$
          begin
            -- After the statement's deletions: a user without any session left is signed out
            -- everywhere. (pg_notify sends identical payloads of one transaction once.)
            if not exists (select 1 from "session" where "userId" = old."userId") then
              perform pg_notify('user_events', json_build_object('kind', 'SIGNED_OUT', 'userId', old."userId")::text);
            end if;
            return null;
          end $f$;
          create trigger "session_notify" after delete on "session"
            for each row execute function "session_notify"();
        end if;
      end $$`);
  }

  override down(): void {
    this.addSql(`drop trigger if exists "session_notify" on "session"`);
    this.addSql(`drop function if exists "session_notify"()`);
    this.addSql(`drop trigger if exists "user_notify" on "user"`);
    this.addSql(`drop function if exists "user_notify"()`);
    this.addSql(`drop trigger if exists "task_notify" on "task"`);
    this.addSql(`drop function if exists "task_notify"()`);
  }
}
