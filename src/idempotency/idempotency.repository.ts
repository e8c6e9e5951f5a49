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
  /** Undefined while the first request still runs. */
  response: StoredResponse | undefined;
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
      response: row.status === null ? undefined : { status: row.status, headers: row.headers ?? {}, body: row.body ?? '' },
    };
  }

  /** Gives up a claim whose request has no final outcome, so that a retry runs it. */
  async release(userId: string, key: string): Promise<void> {
    await this.#db.deleteFrom('idempotency_key').where('user_id', '=', userId).where('key', '=', key).where('status', 'is', null).execute();
  }

  /** Records the final response of a claimed key, to be replayed until the key expires. */
  async store(userId: string, key: string, response: StoredResponse): Promise<void> {
    await this.#db
      .updateTable('idempotency_key')
      .set({ status: response.status, headers: sql<Record<string, string>>`${JSON.stringify(response.headers)}::jsonb`, body: response.body })
      .where('user_id', '=', userId)
      .where('key', '=', key)
      .execute();
  }

  /**
   * Deletes up to `limit` expired keys (of any user: housekeeping, not a read). Bounded, so that it
   * never holds a long lock.
   */
  async deleteExpired(limit: number): Promise<void> {
    await sql`delete from idempotency_key where ctid in (select ctid from idempotency_key where expires_at < now() limit ${limit})`.execute(this.#db);
  }
}
