import pg from 'pg';
import { withDeadline, withLoopDeadline } from '../deadline.ts';
import type { Logger } from '../logger.ts';

export interface ListenerOptions {
  /** Channels to LISTEN on (plain identifiers). */
  channels: string[];
  logger: Logger;
  /** Bound on opening the connection. */
  connectTimeoutMs: number;
  /** A `select 1` this often proves the connection still carries traffic. */
  heartbeatMs?: number;
  /**
   * A heartbeat unanswered for this long (counted while the event loop is free, not while it is
   * busy with other work) counts as a lost connection.
   */
  heartbeatTimeoutMs?: number;
  /** Reconnect backoff: first delay and cap. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export type NotificationHandler = (payload: string) => void;
/** `true` once the channels are listened to (again), `false` when the connection is lost. */
export type StateHandler = (up: boolean) => void;

/**
 * The one LISTEN connection of an instance: its own pg.Client (a pooled connection would be handed
 * to queries and recycled), re-opened with backoff and re-LISTENed after any loss. A connection can
 * die without an error event (a half-open TCP connection, a black-holing network), so a periodic
 * `select 1` with a deadline checks it; a late answer counts as a loss.
 *
 * Notifications sent while the connection was down are lost for good: `onState(false)` tells the
 * users of this listener so that they make their clients resync.
 */
export class PgListener {
  readonly #url: string;
  readonly #options: Required<Omit<ListenerOptions, 'logger'>> & { logger: Logger };
  readonly #handlers = new Map<string, Set<NotificationHandler>>();
  readonly #stateHandlers = new Set<StateHandler>();
  #client: pg.Client | undefined;
  #up = false;
  #stopped = false;
  #backoffMs: number;
  #heartbeat: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;
  #connecting: Promise<void> | undefined;

  constructor(url: string, options: ListenerOptions) {
    this.#url = url;
    this.#options = { heartbeatMs: 2_000, heartbeatTimeoutMs: 3_000, minBackoffMs: 100, maxBackoffMs: 5_000, ...options };
    this.#backoffMs = this.#options.minBackoffMs;
  }

  /** Whether notifications are being received now. */
  get up(): boolean {
    return this.#up;
  }

  on(channel: string, handler: NotificationHandler): () => void {
    let set = this.#handlers.get(channel);
    if (!set) this.#handlers.set(channel, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  onState(handler: StateHandler): () => void {
    this.#stateHandlers.add(handler);
    return () => this.#stateHandlers.delete(handler);
  }

  /** Connects once (rejects if that fails, so that start-up reports it); reconnects by itself later. */
  async start(): Promise<void> {
    await this.#connect();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    clearInterval(this.#heartbeat);
    await this.#connecting?.catch(() => {});
    const client = this.#client;
    this.#client = undefined;
    this.#up = false;
    await client?.end().catch(() => {});
  }

  #connect(): Promise<void> {
    return (this.#connecting ??= (async () => {
      const client = new pg.Client({
        connectionString: this.#url,
        connectionTimeoutMillis: this.#options.connectTimeoutMs,
        keepAlive: true,
        application_name: 'taskgraph-listener',
      });
      // Errors also surface as 'end' or as a failed heartbeat; unhandled, this one would crash.
      client.on('error', (err) => this.#lost(client, err));
      client.on('end', () => this.#lost(client, new Error('connection ended')));
      client.on('notification', ({ channel, payload }) => {
        for (const handler of this.#handlers.get(channel) ?? []) {
          try {
            handler(payload ?? '');
          } catch (err) {
            this.#options.logger.error({ err, channel }, 'notification handler failed');
          }
        }
      });
      try {
        await withDeadline(client.connect(), this.#options.connectTimeoutMs, 'connect');
        for (const channel of this.#options.channels) {
          await withDeadline(client.query(`listen ${client.escapeIdentifier(channel)}`), this.#options.heartbeatTimeoutMs, 'listen');
        }
      } catch (err) {
        await client.end().catch(() => {});
        throw err;
      }
      if (this.#stopped) {
        await client.end().catch(() => {});
        return;
      }
      this.#client = client;
      this.#backoffMs = this.#options.minBackoffMs;
      clearInterval(this.#heartbeat);
      this.#heartbeat = setInterval(() => this.#beat(client), this.#options.heartbeatMs);
      this.#heartbeat.unref();
      this.#setUp(true);
    })().finally(() => (this.#connecting = undefined)));
  }

  #beat(client: pg.Client): void {
    // Counted in time the event loop was free: a process busy for seconds (a flood of work, a long
    // GC) must not close every socket of the instance as if the database had gone.
    withLoopDeadline(client.query('select 1'), this.#options.heartbeatTimeoutMs, 'heartbeat').catch((err: unknown) => this.#lost(client, err));
  }

  #lost(client: pg.Client, err: unknown): void {
    if (client !== this.#client || this.#stopped) return;
    this.#client = undefined;
    clearInterval(this.#heartbeat);
    this.#options.logger.warn({ err }, 'LISTEN connection lost; reconnecting');
    // A silent connection may never answer: do not wait for a clean end.
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    client.end().catch(() => {});
    this.#setUp(false);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#stopped) return;
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.#options.maxBackoffMs);
    this.#retry = setTimeout(() => {
      this.#connect().catch((err: unknown) => {
        this.#options.logger.warn({ err, retryInMs: this.#backoffMs }, 'LISTEN connection could not be opened');
        this.#scheduleReconnect();
      });
    }, delay);
    this.#retry.unref();
  }

  #setUp(up: boolean): void {
    if (this.#up === up) return;
    this.#up = up;
    if (up) this.#options.logger.info({ channels: this.#options.channels }, 'listening for change notifications');
    for (const handler of this.#stateHandlers) {
      try {
        handler(up);
      } catch (err) {
        this.#options.logger.error({ err }, 'listener state handler failed');
      }
    }
  }
}
