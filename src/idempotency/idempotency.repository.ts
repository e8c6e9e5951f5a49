import { sql, type Kysely } from 'kysely';

/** The idempotency_key table (migration 20261202000000_create_idempotency_key). */
export interface IdempotencyTables {
  idempotency_key: {
    user_id: string;
    key: string;
    request_hash: string;
    status: number | null;
    headers: Record<string, string> | null;
    body: string | null;
    locked_until: Date;
    created_at: Date;
    expires_at: Date;
  };
}

/** A response kept to be replayed: status, headers and body, byte for byte. */
export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A key as another request left it: the hash of its request, and its response once it has one. */
export interface IdempotencyEntry {
  requestHash: string;
  /** Undefined while the first request still runs, or when it ran and its response was not kept. */
  response: StoredResponse | undefined;
  /** The first request ran, and its response was too large to keep. */
  notKept: boolean;
}

/**
 * Every query of idempotency keys (one row per user and key), through the application's one pool.
 * Every method takes the user: a key is only ever looked up among its user's own.
 */
export class IdempotencyRepository {
  readonly #db: Kysely<IdempotencyTables>;

  constructor(db: Kysely<IdempotencyTables>) {
    this.#db = db;
  }

  /**
   * How many unexpired keys the user holds, and whether `key` is one of them. Deletes the user's
   * expired keys in the same statement: a user who keeps adding keys drops their own garbage as
   * fast as they make it.
   */
  async usage(userId: string, key: string): Promise<{ keys: number; exists: boolean }> {
    const { rows } = await sql<{ keys: number; exists: boolean }>`
      with expired as (delete from idempotency_key where user_id = ${userId} and expires_at <= now())
      select count(*)::int as keys, coalesce(bool_or(key = ${key}), false) as exists
      from idempotency_key where user_id = ${userId} and expires_at > now()`.execute(this.#db);
    return rows[0] ?? { keys: 0, exists: false };
  }

  /**
   * Claims (user, key) for a request with this hash, for `leaseMs`, kept for `ttlMs`: true when it
   * is the caller's to run. A claim is taken over when the key has expired, or when its request
   * (the same one) never finished and its lease has run out (the instance running it died).
   */
  async claim(userId: string, key: string, requestHash: string, leaseMs: number, ttlMs: number): Promise<boolean> {
    const { rows } = await sql`
      insert into idempotency_key (user_id, key, request_hash, locked_until, expires_at)
      values (${userId}, ${key}, ${requestHash}, now() + ${leaseMs} * interval '1 millisecond', now() + ${ttlMs} * interval '1 millisecond')
      on conflict (user_id, key) do update
        set request_hash = excluded.request_hash, status = null, headers = null, body = null,
            locked_until = excluded.locked_until, created_at = now(), expires_at = excluded.expires_at
        where idempotency_key.expires_at <= now()
           or (idempotency_key.status is null and idempotency_key.locked_until <= now()
               and idempotency_key.request_hash = excluded.request_hash)
      returning 1`.execute(this.#db);
    return rows.length === 1;
  }

  /** The user's unexpired entry for `key`, if any. */
  async find(userId: string, key: string): Promise<IdempotencyEntry | undefined> {
    const row = await this.#db
      .selectFrom('idempotency_key')
      .select(['request_hash', 'status', 'headers', 'body'])
      .where('user_id', '=', userId)
      .where('key', '=', key)
      .where('expires_at', '>', sql<Date>`now()`)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      requestHash: row.request_hash,
      response: row.status === null || row.body === null ? undefined : { status: row.status, headers: row.headers ?? {}, body: row.body },
      notKept: row.status !== null && row.body === null,
    };
  }

  /** Gives up a claim whose request has no final outcome, so that a retry runs it. */
  async release(userId: string, key: string): Promise<void> {
    await this.#db.deleteFrom('idempotency_key').where('user_id', '=', userId).where('key', '=', key).where('status', 'is', null).execute();
  }

  /**
   * Records the final response of a claimed key, to be replayed until the key expires; `undefined`
   * records that the request ran but its response is not kept (a status, no body).
   */
  async store(userId: string, key: string, response: StoredResponse | undefined): Promise<void> {
    await this.#db
      .updateTable('idempotency_key')
      .set(
        response
          ? { status: response.status, headers: sql<Record<string, string>>`${JSON.stringify(response.headers)}::jsonb`, body: response.body }
          : { status: 0, headers: null, body: null },
      )
      .where('user_id', '=', userId)
      .where('key', '=', key)
      .execute();
  }

  /**
   * Deletes up to `limit` expired keys (of any user: housekeeping, not a read). Bounded, so that it
   * never holds a long lock.
   */
  async deleteExpired(limit: number): Promise<number> {
    const result =
      await sql`delete from idempotency_key where ctid in (select ctid from idempotency_key where expires_at < now() limit ${limit})`.execute(
        this.#db,
      );
    return Number(result.numAffectedRows ?? 0);
  }
}
