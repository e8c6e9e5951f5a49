import { performance } from 'node:perf_hooks';
import type { ShedReason } from '../telemetry/metrics.ts';

export type { ShedReason };

/**
 * Overload shedding (issue 21): when work arrives faster than the server can do it, the excess is
 * refused at once (503, Retry-After, SERVICE_UNAVAILABLE) before anything is done for it, instead
 * of joining a queue that makes every request slow (Fastify's under-pressure is the model).
 *
 * Saturation is read from the server itself, two ways:
 * - **event-loop delay**: how late a timer that should fire every SAMPLE_MS ran, on average over
 *   the last WINDOW_MS, or how late it is now. A late loop means every callback, every request's
 *   next step, waits that long. Past OVERLOAD_MAX_EVENT_LOOP_DELAY_MS, new requests are refused
 *   (until the next window says otherwise), but for the first MIN_CONCURRENCY in flight.
 * - **queued database work**: how long the oldest statement waiting for a connection (or a page
 *   read waiting for its turn) has waited, for the pool the route uses. Past
 *   OVERLOAD_MAX_DB_WAIT_MS, new requests are refused until it is back under. A user's statements
 *   waiting for their own share of the pool (DB_POOL_MAX_PER_USER) do not count: one stuck user
 *   must not get everyone refused; nor do page reads and searches waiting for their own user's share
 *   of the slots (db/batcher.ts).
 *
 * Refusing while saturated alone lets a crowd of clients in at once the moment it clears (they all
 * retried while refused), and the crowd saturates the server again with every one of them slow.
 * So once saturated, a route also admits at most as many requests at once as it answered in
 * ADMITTED_TARGET_MS (Little's law: then what is admitted waits about that long), the figure
 * renewed every CONTROL_MS while saturation lasts. Without saturation the limit grows by a tenth
 * each CONTROL_MS in which it refused someone, and is lifted after RELEASE_MS in which it refused
 * no one.
 */

/** The routes guarded, each with its own measures and limit. */
export type GuardedRoute = '/graphql' | '/api/auth';

export interface OverloadOptions {
  /** Event-loop delay past which new requests are refused; 0 turns this measure off. */
  maxEventLoopDelayMs: number;
  /** Age of the oldest queued database work past which new requests are refused; 0 turns this measure off. */
  maxDbWaitMs: number;
  /** Milliseconds the oldest queued database work of what each route uses has waited (0: none waits). */
  dbWaitMs: Record<GuardedRoute, () => number>;
}

/** How often the event loop is sampled. */
export const SAMPLE_MS = 20;
/**
 * The event-loop delay judged is the mean lateness of the sampler's ticks over this long. A loop
 * that is saturated runs few ticks, all of them late; one that stalled once (a long garbage
 * collection) runs many on time around the one late tick, and is not refused for it.
 */
export const WINDOW_MS = 500;
/** How often a saturated route's limit on requests at once is renewed. */
export const CONTROL_MS = 100;
/** A saturated route admits at most as many requests at once as it answers in this long. */
export const ADMITTED_TARGET_MS = 250;
/** The limit on requests at once is lifted after this long without saturation. */
export const RELEASE_MS = 5_000;
/**
 * Never fewer requests at once than this, however slow the route got; and a late event loop still
 * admits requests while fewer than this are in flight.
 */
export const MIN_CONCURRENCY = 32;
/** `busy()` for this long after a route last refused someone. */
const BUSY_MS = 1_000;
/** Seconds a refused client is asked to wait (Retry-After): overload passes in seconds, not minutes. */
export const OVERLOAD_RETRY_AFTER_SECONDS = 1;

export interface OverloadGuard {
  /**
   * Whether a new request on `route` is refused now, and why; when admitted (undefined), `done`
   * must be called once its response is over.
   */
  check(route: GuardedRoute): ShedReason | undefined;
  done(route: GuardedRoute): void;
  /** Whether `route` is saturated now, and how; unlike `check`, admits nothing (WebSocket upgrades ask this). */
  saturated(route: GuardedRoute): ShedReason | undefined;
  /** Whether any route is saturated now, or refused a request within the last second. */
  busy(): boolean;
  /** The measures now, for logs. */
  state(): { eventLoopDelayMs: number; dbWaitMs: Record<GuardedRoute, number>; limits: Record<GuardedRoute, number | null> };
  stop(): void;
}

class RouteState {
  inFlight = 0;
  /** Requests admitted at once while saturated or recently so; Infinity when not limited. */
  limit = Infinity;
  /** Responses finished since the last control tick. */
  completed = 0;
  /** Responses a second, smoothed over control ticks. */
  rate = 0;
  /** When this route last found itself saturated (performance.now()); -Infinity: never. */
  saturatedAt = -Infinity;
  /** When a request was last refused for the limit alone. */
  limitedAt = -Infinity;
  reason: ShedReason = 'database';
}

export function createOverloadGuard(options: OverloadOptions): OverloadGuard {
  const routes: Record<GuardedRoute, RouteState> = { '/graphql': new RouteState(), '/api/auth': new RouteState() };
  /** The mean lateness of the sampler's ticks over the last window (ms): the measure judged. */
  let delayMs = 0;
  let late = false;
  let windowStart = performance.now();
  let windowSum = 0;
  let windowTicks = 0;
  let expected = performance.now() + SAMPLE_MS;
  const sampler =
    options.maxEventLoopDelayMs > 0
      ? setInterval(() => {
          const now = performance.now();
          windowSum += Math.max(0, now - expected);
          windowTicks++;
          expected = now + SAMPLE_MS;
          if (now - windowStart >= WINDOW_MS) {
            delayMs = windowSum / windowTicks;
            late = delayMs > options.maxEventLoopDelayMs;
            windowStart = now;
            windowSum = 0;
            windowTicks = 0;
          }
        }, SAMPLE_MS)
      : undefined;
  sampler?.unref();

  const saturation = (route: GuardedRoute, now: number): ShedReason | undefined => {
    // Late over the last window, or late now: the sampler is overdue by more than the bound while
    // a long turn of the loop (a burst of arrivals, say) is still running.
    if (late || (sampler && now - expected > options.maxEventLoopDelayMs)) return 'event_loop';
    if (options.maxDbWaitMs > 0 && options.dbWaitMs[route]() > options.maxDbWaitMs) return 'database';
    return undefined;
  };

  let lastControl = performance.now();
  const control = setInterval(() => {
    const now = performance.now();
    const since = lastControl;
    lastControl = now;
    const seconds = Math.max(0.001, (now - since) / 1000);
    for (const name of Object.keys(routes) as GuardedRoute[]) {
      const route = routes[name];
      const rate = route.completed / seconds;
      route.completed = 0;
      route.rate = route.rate * 0.5 + rate * 0.5;
      const found = saturation(name, now);
      if (found) {
        route.saturatedAt = now;
        route.reason = found;
      }
      if (route.saturatedAt >= since) {
        // As many at once as the route answers in ADMITTED_TARGET_MS.
        route.limit = Math.max(MIN_CONCURRENCY, Math.round((route.rate * ADMITTED_TARGET_MS) / 1000));
      } else if (route.limitedAt >= since) {
        // More wanted in than the limit lets, and no saturation: probe for room, a tenth at a time.
        route.limit = Math.ceil(route.limit * 1.1);
      } else if (now - Math.max(route.saturatedAt, route.limitedAt) > RELEASE_MS) {
        route.limit = Infinity;
      }
    }
  }, CONTROL_MS);
  control.unref();

  return {
    check(name) {
      const route = routes[name];
      const now = performance.now();
      const reason = saturation(name, now);
      if (reason) {
        // Found between control ticks: the limit is set at the next one.
        route.saturatedAt = now;
        route.reason = reason;
        // Queued database work: whatever is admitted only queues behind it. A late loop: a few
        // requests still go in, for refusing every one can keep the loop late by itself (clients
        // that retry at once, ignoring Retry-After, send thousands a second) and nothing would
        // ever be answered.
        if (reason === 'database' || route.inFlight >= MIN_CONCURRENCY) return reason;
      }
      if (route.inFlight >= route.limit) {
        route.limitedAt = now;
        return route.reason;
      }
      route.inFlight++;
      return undefined;
    },
    done(name) {
      const route = routes[name];
      route.inFlight--;
      route.completed++;
    },
    saturated: (name) => saturation(name, performance.now()),
    busy() {
      const now = performance.now();
      return (Object.keys(routes) as GuardedRoute[]).some(
        (name) => saturation(name, now) !== undefined || now - Math.max(routes[name].saturatedAt, routes[name].limitedAt) < BUSY_MS,
      );
    },
    state() {
      const round = (n: number) => Math.round(n * 10) / 10;
      return {
        eventLoopDelayMs: round(Math.max(delayMs, sampler ? performance.now() - expected : 0)),
        dbWaitMs: { '/graphql': round(options.dbWaitMs['/graphql']()), '/api/auth': round(options.dbWaitMs['/api/auth']()) },
        limits: {
          '/graphql': Number.isFinite(routes['/graphql'].limit) ? routes['/graphql'].limit : null,
          '/api/auth': Number.isFinite(routes['/api/auth'].limit) ? routes['/api/auth'].limit : null,
        },
      };
    },
    stop() {
      clearInterval(sampler);
      clearInterval(control);
    },
  };
}
