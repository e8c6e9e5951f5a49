import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * A name unique to this process, set as PostgreSQL's `application_name` on every connection it
 * opens: at shutdown it finds exactly this instance's backends in pg_stat_activity (and only
 * those), whichever pool opened them. Also visible to operators in pg_stat_activity.
 */
export function connectionTag(): string {
  return `taskgraph-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** `url` with `application_name` set to `tag` (replacing one given in DATABASE_URL). */
export function tagUrl(url: string, tag: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('application_name', tag);
  return parsed.toString();
}

/**
 * Terminates every backend tagged `tag` (but the one asking): statements in flight abort and their
 * transactions roll back at once, even one waiting on a lock, which closing our end of the socket
 * would not do (PostgreSQL notices a vanished client only when it next writes to it). Bounded by
 * `timeoutMs`; resolves with how many backends were terminated, or rejects when the database
 * cannot be reached (then nothing of ours can commit either: the connections are dead too).
 */
export async function terminateBackends(url: string, tag: string, timeoutMs: number): Promise<number> {
  const client = new pg.Client({ connectionString: tagUrl(url, `${tag}-shutdown`), connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  // An 'error' event without a listener would crash the process that is trying to shut down.
  client.on('error', () => {});
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      'select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where application_name = $1 and pid <> pg_backend_pid()',
      [tag],
    );
    return rows[0]?.n ?? 0;
  } finally {
    await client.end().catch(() => {});
  }
}
