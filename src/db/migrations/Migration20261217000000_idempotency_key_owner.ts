import { Migration } from '@mikro-orm/migrations';

/**
 * A user's idempotency keys, and the responses they hold (task titles, descriptions), go with the
 * user, as their tasks do: with Better Auth in the same database, a foreign key to "user" with
 * `on delete cascade`. Keys of users already gone are deleted first. Without a "user" table here
 * (remote tokens), keys expire after their 24 hours as before.
 */
export class Migration20261217000000_idempotency_key_owner extends Migration {
  override up(): void {
    this.addSql(`
      do $$ begin
        if to_regclass('"user"') is not null then
          delete from "idempotency_key" k where not exists (select 1 from "user" u where u."id" = k."user_id");
          alter table "idempotency_key" add constraint "idempotency_key_user_id_fkey"
            foreign key ("user_id") references "user" ("id") on delete cascade;
        end if;
      end $$`);
  }

  override down(): void {
    this.addSql(`alter table "idempotency_key" drop constraint if exists "idempotency_key_user_id_fkey"`);
  }
}
