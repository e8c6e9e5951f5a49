import { Migration } from '@mikro-orm/migrations';

/**
 * Idempotency keys of POST /graphql mutations (src/http/idempotency.ts): one row per user and key,
 * claimed by the first request (status null while it runs, `locked_until` bounding how long a
 * crashed instance's claim blocks retries), then holding the response to replay until
 * `expires_at`. No foreign key to "user": in the remote-token modes that table is elsewhere.
 */
export class Migration20261202000000_create_idempotency_key extends Migration {
  override up(): void {
    this.addSql(`
      create table "idempotency_key" (
        "user_id" text not null,
        "key" varchar(255) not null,
        "request_hash" char(64) not null,
        "status" smallint null,
        "headers" jsonb null,
        "body" text null,
        "locked_until" timestamptz not null,
        "created_at" timestamptz not null default now(),
        "expires_at" timestamptz not null,
        primary key ("user_id", "key")
      )`);
    // The periodic clean-up deletes expired rows by this.
    this.addSql(`create index "idempotency_key_expires_idx" on "idempotency_key" ("expires_at")`);
  }

  override down(): void {
    this.addSql(`drop table if exists "idempotency_key"`);
  }
}
