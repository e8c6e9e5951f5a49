import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';

/** The bounds on every wait of a database connection, from config.db. */
export type DatabaseBounds = Config['db'];

/** The client-side backstop on one query: past statement_timeout, for a server that never answers. */
export function queryTimeoutMs(bounds: DatabaseBounds): number {
  return bounds.statementTimeoutMs + 1_000;
}

/**
 * SQL texts that run as named prepared statements: PostgreSQL parses and plans each once per
 * connection instead of on every request. Repositories register the few fixed texts of their hot
 * queries; everything else (Better Auth, migrations) stays unnamed. Whether names are used is the
 * ConnectionMode's choice (DB_PREPARED_STATEMENTS, or the fallback after a pooler refused them).
 */
const statementNames = new Map<string, string>();

export function prepareStatement(text: string): void {
  if (!statementNames.has(text)) statementNames.set(text, `s_${createHash('sha1').update(text).digest('base64url').slice(0, 20)}`);
}

/** SQLSTATEs of a named statement that this server connection does not know, or knows already. */
const PREPARED_STATEMENT_STATES = new Set(['26000', '42P05']);

function errorCode(err: unknown): unknown {
  return (err as { code?: unknown } | undefined)?.code;
}

/** PgBouncer's answer to a startup parameter it does not pass on (SQLSTATE 08P01). */
function refusedStartupParameter(err: unknown): boolean {
  return /unsupported startup parameter/i.test(String((err as { message?: unknown } | undefined)?.message));
}

/**
 * How statements reach PostgreSQL through one URL, shared by every pool on it.
 *
 * - `startupParameters`: the statement bounds travel as startup parameters of each connection
 *   (a direct connection: free), or, behind a transaction pooler, which refuses them (PgBouncer:
 *   "unsupported startup parameter") or drops them (`ignore_startup_parameters`), are set in each
 *   transaction with SET LOCAL. `detect()` decides at start; a refusal later switches too.
 * - `preparedStatements`: DB_PREPARED_STATEMENTS; switched off for good, with a warning, the first
 *   time a named statement is missing (26000) or already there (42P05): what a transaction pooler
 *   without prepared statement support does (PgBouncer before 1.21, Supavisor's transaction mode).
 *
 * A switch only ever goes one way, so a connection made before it is still right (bounded by its
 * startup parameters; its named statements retried unnamed).
 */
export class ConnectionMode {
  startupParameters = true;
  preparedStatements: boolean;
  readonly #variable: string;
  readonly #logger: Logger;

  /** `variable` names the URL in log lines (DATABASE_URL or DATABASE_URL_UNPOOLED). */
  constructor(options: { preparedStatements: boolean; variable: string; logger: Logger }) {
    this.preparedStatements = options.preparedStatements;
    this.#variable = options.variable;
    this.#logger = options.logger;
  }

  /**
   * Opens one connection with the bounds as startup parameters and reads them back. Rejects when
   * the database cannot be reached (start-up retries); afterwards `startupParameters` is right.
   */
  async detect(url: string, bounds: DatabaseBounds): Promise<void> {
    if (!this.startupParameters) return;
    const client = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: bounds.connectTimeoutMs,
      query_timeout: bounds.connectTimeoutMs,
      statement_timeout: bounds.statementTimeoutMs,
      lock_timeout: bounds.statementTimeoutMs,
    });
    client.on('error', () => {}); // a drop shows as the failure of the step in flight
    try {
      await client.connect();
    } catch (err) {
      destroy(client);
      if (!refusedStartupParameter(err)) throw err;
      this.useSetLocal(err);
      return;
    }
    try {
      // pg_settings shows both in milliseconds.
      const { rows } = await client.query<{ statement: string; lock: string }>(
        "select (select setting from pg_settings where name = 'statement_timeout') as statement, (select setting from pg_settings where name = 'lock_timeout') as lock",
      );
      const { statement, lock } = rows[0] ?? {};
      if (Number(statement) !== bounds.statementTimeoutMs || Number(lock) !== bounds.statementTimeoutMs) {
        this.useSetLocal(new Error(`the startup parameters were dropped: statement_timeout is ${statement} ms, lock_timeout ${lock} ms`));
      }
    } finally {
      await client.end().catch(() => {});
    }
  }

  /** From now on, new connections carry no startup parameters: bounds are set per transaction. */
  useSetLocal(reason: unknown): void {
    if (!this.startupParameters) return;
    this.startupParameters = false;
    this.#logger.warn(
      { err: reason },
      `${this.#variable} does not take the statement bounds as startup parameters (a transaction pooler such as PgBouncer?): ` +
        'they are set in each transaction (SET LOCAL) from now on',
    );
  }

  /** From now on, statements are unnamed. */
  unnamedStatements(reason: unknown): void {
    if (!this.preparedStatements) return;
    this.preparedStatements = false;
    this.#logger.warn(
      { err: reason },
      `named prepared statements fail on ${this.#variable} (a transaction pooler without prepared statement support?): ` +
        'running them unnamed from now on; set DB_PREPARED_STATEMENTS=false to start so',
    );
  }
}

/** Closes a client's socket without waiting for a goodbye a silent server never sends. */
function destroy(client: pg.Client): void {
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

/** What pg's Connection offers a Query (pg/lib/connection.js; not in @types/pg). */
interface Wire {
  parse(message: { text: string; name?: string }): void;
  bind(message: { portal?: string; statement?: string; values?: unknown[] }): void;
  execute(message: { portal?: string }): void;
}

/** The parts of pg's Query (pg/lib/query.js) a BoundedQuery builds on; not in @types/pg. */
interface QueryInternals {
  text: string;
  callback: ((err: Error | null, result?: unknown) => void) | undefined;
  requiresPreparation(): boolean;
  prepare(connection: Wire): void;
  handleDataRow(message: unknown): void;
  handleCommandComplete(message: unknown, connection: Wire): void;
}
const PgQuery = pg.Query as unknown as new (...args: unknown[]) => pg.Query & QueryInternals;

/** The SET LOCAL statements of one connection mode's bounds, for an autocommit statement or a transaction. */
interface Bounds {
  /** Extended protocol: one statement (unnamed) run before the caller's, in the same implicit transaction. */
  extended: string;
  /** Simple protocol: prefixed to the caller's text; two command completions. */
  simple: string;
  /** Appended to BEGIN: the transaction's bounds, idle time included. */
  transaction: string;
}

function boundsSql(bounds: DatabaseBounds): Bounds {
  const ms = bounds.statementTimeoutMs;
  const idleMs = idleInTransactionMs(bounds);
  return {
    extended: `select set_config('statement_timeout', '${ms}', true), set_config('lock_timeout', '${ms}', true)`,
    simple: `set local statement_timeout = ${ms}; set local lock_timeout = ${ms}; `,
    transaction: `; set local statement_timeout = ${ms}; set local lock_timeout = ${ms}; set local idle_in_transaction_session_timeout = ${idleMs}`,
  };
}

/**
 * A query that carries its own statement bounds in the same round trip, for connections without
 * startup parameters (behind a transaction pooler). Outside a transaction, every message up to
 * Sync (extended protocol), or every statement of one text (simple protocol), is one implicit
 * transaction: the bounds set there first hold for the caller's statement and end with it, on
 * whichever server connection the pooler lent. PostgreSQL arms statement_timeout per message, so
 * the statement that follows runs under the new value. The prelude's rows and command
 * completions are dropped: the caller sees its own result only. A BEGIN gets the bounds (and the
 * idle-in-transaction bound) appended; the caller sees BEGIN's result.
 */
class BoundedQuery extends PgQuery {
  /** Command completions of the prelude still to drop. */
  #prelude = 0;
  #extendedPrelude: string | undefined;
  /** BEGIN: completions after the first are the appended SET LOCALs. */
  #firstOnly = false;
  #completed = 0;

  constructor(bounds: Bounds, begin: boolean, args: unknown[]) {
    super(...args);
    if (begin && !this.requiresPreparation()) {
      this.text += bounds.transaction;
      this.#firstOnly = true;
    } else if (this.requiresPreparation()) {
      this.#extendedPrelude = bounds.extended;
      this.#prelude = 1;
    } else {
      this.text = bounds.simple + this.text;
      this.#prelude = 2;
    }
  }

  override prepare(connection: Wire): void {
    const prelude = this.#extendedPrelude;
    if (prelude !== undefined) {
      // A named statement is parsed before the prelude's unnamed one: pg marks the active query's
      // name as parsed on every ParseComplete, the prelude's included.
      const self = this as unknown as { name?: string; hasBeenParsed(c: Wire): boolean; types?: unknown };
      const wire = connection as Wire & { submittedNamedStatements: Record<string, string> };
      if (self.name && !self.hasBeenParsed(connection)) {
        wire.parse({ text: this.text, name: self.name, types: self.types } as { text: string; name: string });
        wire.submittedNamedStatements[self.name] = this.text;
      }
      wire.parse({ text: prelude, name: '' });
      wire.bind({ portal: '', statement: '', values: [] });
      wire.execute({ portal: '' });
    }
    super.prepare(connection);
  }

  override handleDataRow(message: unknown): void {
    if (this.#prelude === 0) super.handleDataRow(message);
  }

  override handleCommandComplete(message: unknown, connection: Wire): void {
    if (this.#prelude > 0) {
      this.#prelude--;
      return;
    }
    if (this.#firstOnly && this.#completed++ > 0) return;
    super.handleCommandComplete(message, connection);
  }
}

/** BEGIN or START TRANSACTION, which gets the bounds appended. */
const TRANSACTION_START = /^\s*(begin|start\s+transaction)\b/i;
/**
 * Texts run as they are: transaction control (a transaction has its bounds from BEGIN), session
 * commands (a session SET through a pooler is a bug the prelude would not fix), and statements
 * PostgreSQL refuses inside a transaction block.
 */
const AS_IS =
  /^\s*(begin|start|commit|end|rollback|abort|savepoint|release|prepare|set|reset|discard|listen|unlisten|vacuum|checkpoint|create\s+database|drop\s+database|alter\s+system)\b|\bconcurrently\b/i;

interface Submittable {
  submit?: unknown;
}

/**
 * A pg Client that (1) runs registered texts as named prepared statements while its mode allows
 * (retrying once unnamed when the server does not have the name), (2) behind a transaction
 * pooler, bounds each statement in PostgreSQL itself (BoundedQuery), and (3) drops its connection
 * when a query outlives query_timeout. node-postgres only stops waiting on a read timeout: the
 * connection stays in the pool with the late answer still to come (a black-holed server never
 * sends it), so every later query on it would wait the timeout again or read the wrong answer.
 * Destroying the socket makes the pool discard the client on release.
 */
class BoundedClient extends pg.Client {
  readonly #mode: ConnectionMode;
  /** Bounds to set per transaction, or undefined when this connection carries them from its start. */
  readonly #bounds: Bounds | undefined;
  readonly #sentStartupParameters: boolean;

  constructor(config: pg.ClientConfig, mode: ConnectionMode, bounds: DatabaseBounds) {
    const direct = mode.startupParameters;
    super(direct ? config : { ...config, statement_timeout: undefined, lock_timeout: undefined, idle_in_transaction_session_timeout: undefined });
    this.#mode = mode;
    this.#bounds = direct ? undefined : boundsSql(bounds);
    this.#sentStartupParameters = direct;
  }

  override connect(...args: unknown[]): never {
    const [callback] = args as [((err: Error | null, client?: unknown) => void) | undefined];
    const noted = (err: unknown) => {
      if (err && this.#sentStartupParameters && refusedStartupParameter(err)) this.#mode.useSetLocal(err);
    };
    const connect = super.connect.bind(this) as (...a: unknown[]) => unknown;
    if (callback) {
      return connect((err: Error | null, client?: unknown) => {
        noted(err);
        callback(err, client);
      }) as never;
    }
    return (connect() as Promise<unknown>).catch((err: unknown) => {
      noted(err);
      throw err;
    }) as never;
  }

  override query(...args: unknown[]): never {
    const [text, values] = args;
    let name: string | undefined;
    if (typeof text === 'string' && Array.isArray(values) && args.length === 2 && this.#mode.preparedStatements) {
      name = statementNames.get(text);
      if (name) args = [{ name, text, values }];
    }
    const result = this.#send(args);
    if (typeof (result as Promise<unknown> | undefined)?.then !== 'function') return result as never;
    const promise = result as Promise<unknown>;
    promise.catch((err: unknown) => {
      if (String((err as { message?: unknown } | undefined)?.message).startsWith('Query read timeout')) destroy(this);
    });
    if (name === undefined) return promise as never;
    // Parse or Bind failed, so the statement did not run: running it again unnamed is safe.
    return promise.catch((err: unknown) => {
      if (!PREPARED_STATEMENT_STATES.has(errorCode(err) as string)) throw err;
      this.#mode.unnamedStatements(err);
      return this.query(text, values);
    }) as never;
  }

  /**
   * super.query, through a BoundedQuery where this connection has no bounds of its own and no
   * transaction is open (one that is has its bounds from BEGIN). The status is the last
   * ReadyForQuery's: right for callers that wait for each query, as Kysely and MikroORM do.
   */
  #send(args: unknown[]): unknown {
    const send = super.query.bind(this) as (...a: unknown[]) => unknown;
    const bounds = this.#bounds;
    const [first] = args;
    const status = this.getTransactionStatus();
    if (!bounds || status === 'T' || status === 'E' || first === null || typeof (first as Submittable).submit === 'function') return send(...args);
    const text = typeof first === 'string' ? first : (first as { text?: unknown }).text;
    if (typeof text !== 'string') return send(...args);
    const begin = TRANSACTION_START.test(text);
    if (!begin && AS_IS.test(text)) return send(...args);
    const query = new BoundedQuery(bounds, begin, args);
    let promise: Promise<unknown> | undefined;
    if (!query.callback) {
      promise = new Promise((resolve, reject) => {
        query.callback = (err, res) => (err ? reject(err) : resolve(res));
      });
    }
    send(query);
    return promise;
  }
}

function idleInTransactionMs(bounds: DatabaseBounds): number {
  return Math.max(10_000, 2 * bounds.statementTimeoutMs);
}

/**
 * Told of every query a pool's connections send (tracing's PostgreSQL spans). `start` is called
 * as the query is sent and returns what to call when it ends, or undefined to leave it alone.
 */
export interface QueryObserver {
  start(text: string, target: pg.Client): ((err?: unknown) => void) | undefined;
}

/** What app.ts hooks into a pool: an observer of its queries, and the pool once it exists (metrics). */
export interface PoolHooks {
  queries?: QueryObserver | undefined;
  onPool?: ((pool: pg.Pool) => void) | undefined;
}

/**
 * The Client class of a pool on a URL whose statements `mode` describes; reporting each query to
 * `observer` when there is one (tracing on).
 */
function boundedClient(mode: ConnectionMode, bounds: DatabaseBounds, observer?: QueryObserver): typeof pg.Client {
  class ModeClient extends BoundedClient {
    constructor(config: pg.ClientConfig) {
      super(config, mode, bounds);
    }
  }
  return observer ? observedClient(ModeClient, observer) : ModeClient;
}

/** `Base` that reports each query to `observer`. */
function observedClient(Base: new (config: pg.ClientConfig) => BoundedClient, observer: QueryObserver): typeof pg.Client {
  const Observed = class ObservedClient extends Base {
    override query(...args: unknown[]): never {
      const [first] = args;
      const text = typeof first === 'string' ? first : (first as { text?: unknown } | null | undefined)?.text;
      const done = typeof text === 'string' ? observer.start(text, this) : undefined;
      if (!done) return super.query(...args);
      const last = args.length - 1;
      const callback = args[last];
      if (typeof callback === 'function') {
        args[last] = (err: unknown, res: unknown) => {
          done(err ?? undefined);
          (callback as (e: unknown, r: unknown) => void)(err, res);
        };
        return super.query(...args);
      }
      const result: unknown = super.query(...args);
      if (typeof (result as Promise<unknown> | undefined)?.then === 'function') {
        (result as Promise<unknown>).then(
          () => done(),
          (err: unknown) => done(err),
        );
      }
      return result as never;
    }
  };
  return Observed as unknown as typeof pg.Client;
}

/**
 * node-postgres pool options with every wait bounded: connecting and waiting for a free
 * connection (`connectionTimeoutMillis`), each statement (`statement_timeout`, and `lock_timeout`
 * for row locks), a transaction left open (`idle_in_transaction_session_timeout`), and the
 * client-side `query_timeout` as a backstop for a server that never answers. The three server
 * bounds are startup parameters on a direct connection, SET LOCAL behind a transaction pooler
 * (see ConnectionMode).
 */
export function poolOptions(url: string, max: number, bounds: DatabaseBounds, mode: ConnectionMode, queries?: QueryObserver): pg.PoolConfig {
  return {
    connectionString: url,
    max,
    // pg-pool uses one timer for both waits: acquiring a pooled connection, and opening a new one.
    connectionTimeoutMillis: Math.max(bounds.acquireTimeoutMs, bounds.connectTimeoutMs),
    idleTimeoutMillis: 30_000,
    statement_timeout: bounds.statementTimeoutMs,
    lock_timeout: bounds.statementTimeoutMs,
    idle_in_transaction_session_timeout: idleInTransactionMs(bounds),
    query_timeout: queryTimeoutMs(bounds),
    keepAlive: true,
    Client: boundedClient(mode, bounds, queries),
  };
}

/**
 * Whether the database answers `select 1` within `timeoutMs`, on a connection of its own (not
 * from a pool: a pool busy with slow queries must not make the answer wrong).
 */
async function probeDatabase(url: string, timeoutMs: number): Promise<boolean> {
  // No startup parameters: a transaction pooler refuses them, and `select 1` needs no server-side bound.
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  // A connection reset while connecting or querying is reported here too; the promise says it.
  client.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const attempt = (async () => {
    await client.connect();
    await client.query('select 1');
    return true;
  })().catch(() => false);
  try {
    return await Promise.race([attempt, deadline]);
  } finally {
    clearTimeout(timer);
    // end() waits for the server's goodbye, which a black-holed connection never sends.
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    void client.end().catch(() => {});
  }
}

/** Bound on one probe: /readyz must answer within 5 s, auth failures within 10 s. */
export const PROBE_TIMEOUT_MS = 2_000;
/** A "down" answer is reused this long. */
const DOWN_CACHE_MS = 1_000;

/**
 * `probeDatabase` for /readyz, which anyone can call: concurrent callers join the probe in flight,
 * and a "down" answer is reused for a second, so that a flood of checks during an outage does not
 * pile up connection attempts. An "up" answer is not reused: readiness must see an outage at once.
 */
export function databaseProbe(url: string): () => Promise<boolean> {
  let inFlight: Promise<boolean> | undefined;
  let downAt = 0;
  return () => {
    if (Date.now() - downAt < DOWN_CACHE_MS) return Promise.resolve(false);
    return (inFlight ??= probeDatabase(url, PROBE_TIMEOUT_MS).then((up) => {
      inFlight = undefined;
      if (!up) downAt = Date.now();
      return up;
    }));
  };
}

/**
 * Whether `pool` answers `select 1` within PROBE_TIMEOUT_MS: a cheap check (a pooled connection,
 * no new backend) for paths that run often, such as every refused sign-in.
 */
export function poolProbe(pool: pg.Pool): () => Promise<boolean> {
  return async () => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS);
    });
    try {
      return await Promise.race([
        pool.query('select 1').then(
          () => true,
          () => false,
        ),
        deadline,
      ]);
    } finally {
      clearTimeout(timer);
    }
  };
}
