import { randomUUID } from 'node:crypto';
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
  /**
   * Sends `payload` on `channel` the way writers notify (from another connection: the
   * application's pool). After every (re)connection the listener checks that such a notification
   * reaches it; absent, no check. A LISTEN through a transaction pooler succeeds and then hears
   * nothing, and only this tells.
   */
  sendCheck?: ((channel: string, payload: string) => Promise<void>) | undefined;
  /** How long a check waits for its notification once sent. */
  checkTimeoutMs?: number;
  /** While notifications do not arrive, the check is repeated this often. */
  recheckMs?: number;
  /** Said in the error logged when notifications do not arrive: what to change. */
  deafHint?: string;
}

export type NotificationHandler = (payload: string) => void;
/** `true` once notifications are heard (again), `false` when the connection is lost. */
export type StateHandler = (up: boolean) => void;

/**
 * down: no connection (starting, reconnecting). deaf: connected and listening, but a notification
 * sent to check it never arrived (a transaction pooler in between). up: notifications are heard.
 */
export type ListenerState = 'down' | 'deaf' | 'up';

/** The channel of the self-checks; every instance listens on it and ignores the others' payloads. */
export const CHECK_CHANNEL = 'taskgraph_listener_check';

/**
 * The one LISTEN connection of an instance: its own pg.Client (a pooled connection would be handed
 * to queries and recycled), re-opened with backoff and re-LISTENed after any loss. A connection can
 * die without an error event (a half-open TCP connection, a black-holing network), so a periodic
 * `select 1` with a deadline checks it; a late answer counts as a loss.
 *
 * Notifications sent while the connection was down are lost for good: `onState(false)` tells the
 * users of this listener so that they make their clients resync.
 *
 * A connection is `up` only once a notification sent from elsewhere (`sendCheck`) has reached it;
 * one that does not hear it within the bound is `deaf`: an error is logged (once per episode) and
 * the check is repeated every `recheckMs` until it passes.
 */
export class PgListener {
  readonly #url: string;
  readonly #options: Required<Omit<ListenerOptions, 'logger' | 'sendCheck'>> & Pick<ListenerOptions, 'logger' | 'sendCheck'>;
  readonly #handlers = new Map<string, Set<NotificationHandler>>();
  readonly #stateHandlers = new Set<StateHandler>();
  #client: pg.Client | undefined;
  /** Rejects once #client is lost: what a check in flight on it races with. */
  #broken: Promise<never> | undefined;
  #state: ListenerState = 'down';
  /** Checks waiting for their notification, by payload. */
  readonly #checks = new Map<string, () => void>();
  #recheck: NodeJS.Timeout | undefined;
  /** Resolves when stop() is called: a check in flight gives up rather than hold up shutdown. */
  #stopping: Promise<false>;
  #stop: () => void = () => {};
  #stopped = false;
  #backoffMs: number;
  #heartbeat: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;
  #connecting: Promise<void> | undefined;

  constructor(url: string, options: ListenerOptions) {
    this.#url = url;
    this.#options = {
      heartbeatMs: 2_000,
      heartbeatTimeoutMs: 3_000,
      minBackoffMs: 100,
      maxBackoffMs: 5_000,
      checkTimeoutMs: 5_000,
      recheckMs: 30_000,
      deafHint: '',
      ...options,
    };
    this.#backoffMs = this.#options.minBackoffMs;
    this.#stopping = new Promise<false>((resolve) => (this.#stop = () => resolve(false)));
  }

  /** Whether notifications are being received now. */
  get up(): boolean {
    return this.#state === 'up';
  }

  get state(): ListenerState {
    return this.#state;
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
    this.#stop();
    clearTimeout(this.#retry);
    clearTimeout(this.#recheck);
    clearInterval(this.#heartbeat);
    await this.#connecting?.catch(() => {});
    const client = this.#client;
    this.#client = undefined;
    this.#state = 'down';
    await client?.end().catch(() => {});
  }

  #connect(): Promise<void> {
    return (this.#connecting ??= (async () => {
      let heard: boolean;
      const client = new pg.Client({
        connectionString: this.#url,
        connectionTimeoutMillis: this.#options.connectTimeoutMs,
        keepAlive: true,
        application_name: 'taskgraph-listener',
      });
      let fail: (err: unknown) => void = () => {};
      const broken = new Promise<never>((_, reject) => (fail = reject));
      broken.catch(() => {});
      // Errors also surface as 'end' or as a failed heartbeat; unhandled, this one would crash.
      client.on('error', (err) => {
        fail(err);
        this.#lost(client, err);
      });
      client.on('end', () => {
        fail(new Error('connection ended'));
        this.#lost(client, new Error('connection ended'));
      });
      client.on('notification', ({ channel, payload }) => {
        if (channel === CHECK_CHANNEL) {
          this.#checks.get(payload ?? '')?.();
          return;
        }
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
        const channels = this.#options.sendCheck ? [...this.#options.channels, CHECK_CHANNEL] : this.#options.channels;
        for (const channel of channels) {
          await withDeadline(client.query(`listen ${client.escapeIdentifier(channel)}`), this.#options.heartbeatTimeoutMs, 'listen');
        }
        // Before the connection counts: a check that cannot be sent (the database went away
        // again) fails this attempt, which is retried; one that is not heard makes it deaf.
        heard = await this.#hears(broken);
      } catch (err) {
        await client.end().catch(() => {});
        throw err;
      }
      if (this.#stopped) {
        await client.end().catch(() => {});
        return;
      }
      this.#client = client;
      this.#broken = broken;
      this.#backoffMs = this.#options.minBackoffMs;
      clearInterval(this.#heartbeat);
      this.#heartbeat = setInterval(() => this.#beat(client), this.#options.heartbeatMs);
      this.#heartbeat.unref();
      if (heard) this.#setState('up');
      else this.#deaf(client);
    })().finally(() => (this.#connecting = undefined)));
  }

  /**
   * Whether a notification sent by `sendCheck` reaches this listener within checkTimeoutMs of
   * being sent (true when there is no check). Rejects when the send fails or the connection does
   * (`broken`): neither says anything about hearing.
   */
  async #hears(broken: Promise<never>): Promise<boolean> {
    const send = this.#options.sendCheck;
    if (!send) return true;
    const token = randomUUID();
    let arrive: () => void = () => {};
    const arrived = new Promise<true>((resolve) => (arrive = () => resolve(true)));
    this.#checks.set(token, arrive);
    let timer: NodeJS.Timeout | undefined;
    try {
      const sent = await Promise.race([
        withDeadline(send(CHECK_CHANNEL, token), this.#options.checkTimeoutMs, 'sending a check notification').then(() => true),
        broken,
        this.#stopping,
      ]);
      if (!sent) return false;
      const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), this.#options.checkTimeoutMs)));
      return await Promise.race([arrived, late, broken, this.#stopping]);
    } finally {
      clearTimeout(timer);
      this.#checks.delete(token);
    }
  }

  /** `client` listens but does not hear: said once per episode, checked again every recheckMs. */
  #deaf(client: pg.Client): void {
    if (this.#state !== 'deaf') {
      this.#options.logger.error(
        { checkTimeoutMs: this.#options.checkTimeoutMs, recheckMs: this.#options.recheckMs },
        `a notification sent to the database did not reach this instance's LISTEN connection: it goes through a transaction pooler. ${this.#options.deafHint}`.trim(),
      );
    }
    this.#setState('deaf');
    clearTimeout(this.#recheck);
    this.#recheck = setTimeout(() => {
      const broken = this.#broken;
      if (client !== this.#client || !broken || this.#stopped) return;
      this.#hears(broken).then(
        (heard) => {
          if (client !== this.#client || this.#stopped) return;
          if (!heard) {
            this.#deaf(client);
            return;
          }
          this.#options.logger.info('notifications reach the LISTEN connection now');
          this.#setState('up');
        },
        (err: unknown) => {
          // Lost connections are the heartbeat's to report; a failed send is checked again later.
          if (client !== this.#client || this.#stopped) return;
          this.#options.logger.debug({ err }, 'could not check the LISTEN connection');
          this.#deaf(client);
        },
      );
    }, this.#options.recheckMs);
    this.#recheck.unref();
  }

  #beat(client: pg.Client): void {
    // Counted in time the event loop was free: a process busy for seconds (a flood of work, a long
    // GC) must not close every socket of the instance as if the database had gone.
    withLoopDeadline(client.query('select 1'), this.#options.heartbeatTimeoutMs, 'heartbeat').catch((err: unknown) => this.#lost(client, err));
  }

  #lost(client: pg.Client, err: unknown): void {
    if (client !== this.#client || this.#stopped) return;
    this.#client = undefined;
    this.#broken = undefined;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#recheck);
    this.#options.logger.warn({ err }, 'LISTEN connection lost; reconnecting');
    // A silent connection may never answer: do not wait for a clean end.
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    client.end().catch(() => {});
    this.#setState('down');
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

  /** Handlers hear of `up` changing; deaf and down are both "not up" to them. */
  #setState(state: ListenerState): void {
    const was = this.#state;
    this.#state = state;
    const up = state === 'up';
    if ((was === 'up') === up) return;
    if (up)
      this.#options.logger.info(
        { channels: this.#options.channels, checked: Boolean(this.#options.sendCheck) },
        'listening for change notifications',
      );
    for (const handler of this.#stateHandlers) {
      try {
        handler(up);
      } catch (err) {
        this.#options.logger.error({ err }, 'listener state handler failed');
      }
    }
  }
}
