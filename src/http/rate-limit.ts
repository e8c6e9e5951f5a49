import { BlockList, isIP } from 'node:net';
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../config.ts';
import type { Caller } from '../graphql/context.ts';
import { RateLimited } from '../errors.ts';
import type { Logger } from '../logger.ts';

/**
 * Spends one operation of a caller's budget (an HTTP request, a WebSocket message); throws
 * RateLimited when it is spent.
 */
export type RateLimit = (req: Caller, viewerId: string | null) => Promise<void>;

/**
 * Spends `bytes` of GraphQL document text (what parsing and validation work on) of a caller's
 * budget on this instance, before the document is parsed; throws RateLimited when it is spent.
 */
export type DocumentBudget = (req: Caller, viewerId: string | null, bytes: number) => void;

/**
 * Tokens counted against the client address that sent them. A request whose token is refused does
 * no work but the verification, and no user is known to charge: its address pays instead.
 */
export interface TokenGuard {
  /**
   * Throws RateLimited while the request's client address is over its budget after refused
   * tokens: its next token is refused before it is even verified (verifying costs CPU; this a
   * map lookup).
   */
  check(req: Caller): void;
  /** A request's token was refused: one operation of its client address's budget; throws RateLimited once spent. */
  refused(req: Caller): Promise<void>;
}

export interface ApiRateLimiter {
  /** Undefined when RATE_LIMIT_PER_MINUTE is 0 (off). */
  consume: RateLimit | undefined;
  /** Undefined when RATE_LIMIT_PER_MINUTE is 0 (off). */
  tokens: TokenGuard | undefined;
  /** Undefined when RATE_LIMIT_BYTES_PER_MINUTE is 0 (off). */
  spendDocument: DocumentBudget | undefined;
  close(): Promise<void>;
}

const WINDOW_SECONDS = 60;
/**
 * Largest burst of document bytes: a full bucket holds this much (or the whole per-minute budget
 * if smaller). One document may take the bucket below zero (it is never refused for being larger
 * than the burst), and the next waits until the bucket is above zero again.
 */
export const DOCUMENT_BURST_BYTES = 64 * 1024;
/** How often buckets that have filled up again are dropped (a full bucket is no bucket). */
const SWEEP_MS = 60_000;

/**
 * Token buckets of bytes, one per caller, in memory: `perMinute` refilled continuously, at most
 * `burst` held. A document is admitted while its caller's bucket is above zero and may take it
 * below; the caller then waits until the debt is paid.
 */
export class ByteBuckets {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { bytes: number; at: number }>();
  #swept: number;

  constructor(perMinute: number, burst: number, now: () => number = performance.now.bind(performance)) {
    this.#perMs = perMinute / 60_000;
    this.#burst = burst;
    this.#now = now;
    this.#swept = now();
  }

  /** Takes `bytes` from `key`'s bucket; returns the milliseconds to wait instead when it is empty. */
  spend(key: string, bytes: number): number | undefined {
    const now = this.#now();
    if (now - this.#swept > SWEEP_MS) this.#sweep(now);
    const bucket = this.#buckets.get(key);
    const available = bucket ? Math.min(this.#burst, bucket.bytes + (now - bucket.at) * this.#perMs) : this.#burst;
    if (available <= 0) return Math.ceil((1 - available) / this.#perMs);
    if (bucket) {
      bucket.bytes = available - bytes;
      bucket.at = now;
    } else {
      this.#buckets.set(key, { bytes: available - bytes, at: now });
    }
    return undefined;
  }

  /** Callers tracked now (tests). */
  get size(): number {
    return this.#buckets.size;
  }

  #sweep(now: number): void {
    this.#swept = now;
    for (const [key, bucket] of this.#buckets) {
      if (bucket.bytes + (now - bucket.at) * this.#perMs >= this.#burst) this.#buckets.delete(key);
    }
  }
}

/** IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is the IPv4 address. */
function plain(ip: string): string {
  return ip.toLowerCase().startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/**
 * The client's address as the rate limiter sees it. `X-Forwarded-For` is believed only when the
 * connection comes from a trusted proxy, and then read from the right, skipping trusted proxies
 * (the leftmost entries are whatever the client wrote), as Better Auth's `advanced.ipAddress` does.
 * IPv6 clients are grouped by /64: one host usually owns a whole /64.
 */
export function clientAddress(req: Caller, trusted: BlockList | undefined): string {
  const peer = plain(req.socket.remoteAddress ?? 'unknown');
  let ip = peer;
  const isTrusted = (a: string) => trusted !== undefined && isIP(a) !== 0 && trusted.check(a, isIP(a) === 6 ? 'ipv6' : 'ipv4');
  const forwarded = req.headers['x-forwarded-for'];
  if (trusted && isTrusted(peer) && typeof forwarded === 'string') {
    const hops = forwarded
      .split(',')
      .map((h) => plain(h.trim()))
      .filter(Boolean);
    for (const hop of hops.toReversed()) {
      if (isIP(hop) === 0) break; // garbage in the chain: keep the last address we can vouch for
      ip = hop;
      if (!isTrusted(hop)) break;
    }
  }
  if (isIP(ip) === 6) {
    // Expand `::`, keep the first four groups (the /64).
    const [head = '', tail = ''] = ip.split('::');
    const left = head ? head.split(':') : [];
    const right = tail ? tail.split(':') : [];
    const groups = ip.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : ip.split(':');
    return `${groups
      .slice(0, 4)
      .map((g) => g.padStart(4, '0'))
      .join(':')}::/64`;
  }
  return ip;
}

function trustedProxies(entries: string[]): BlockList | undefined {
  if (entries.length === 0) return undefined;
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefix] = entry.split('/');
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return list;
}

/**
 * The API's rate limit (RATE_LIMIT_PER_MINUTE per user, or per client address when anonymous).
 * With RATE_LIMIT_STORE=redis the budget is shared by every instance using the same Redis. Redis
 * has no offline queue and a limiter that refuses at once when Redis is not ready; it then falls
 * back to an in-memory limiter with the same budget per instance (the "insurance"), so an outage
 * of Redis never refuses or fails a request by itself.
 */
export function createRateLimiter(config: Config, logger: Logger): ApiRateLimiter {
  const { perMinute, bytesPerMinute, store, redisUrl } = config.rateLimit;
  const keyPrefix = config.rateLimitKeyPrefix;
  const trusted = trustedProxies(config.auth.trustedProxies);
  const keyOf = (req: Caller, viewerId: string | null) => (viewerId !== null ? `user:${viewerId}` : `ip:${clientAddress(req, trusted)}`);
  const spendDocument = bytesPerMinute > 0 ? documentBudget(bytesPerMinute, keyOf) : undefined;
  if (perMinute === 0) return { consume: undefined, tokens: undefined, spendDocument, close: () => Promise.resolve() };

  const memory = new RateLimiterMemory({ points: perMinute, duration: WINDOW_SECONDS, keyPrefix });
  let limiter: RateLimiterAbstract = memory;
  let redis: Redis | undefined;
  if (store === 'redis' && redisUrl) {
    redis = new Redis(redisUrl, {
      enableOfflineQueue: false,
      // Fail fast: a command that cannot be sent goes to the insurance limiter instead of waiting.
      maxRetriesPerRequest: 0,
      connectTimeout: 2_000,
      commandTimeout: 500,
      // Keep trying to reconnect, at most every 2 s.
      retryStrategy: (times) => Math.min(times * 200, 2_000),
    });
    let down = false;
    redis.on('error', (err: Error) => {
      if (!down) logger.warn({ err }, 'rate limit store (Redis) unreachable: using the in-memory limiter of this instance');
      down = true;
    });
    redis.on('ready', () => {
      if (down) logger.info('rate limit store (Redis) reachable again');
      down = false;
    });
    limiter = new RateLimiterRedis({
      storeClient: redis,
      points: perMinute,
      duration: WINDOW_SECONDS,
      keyPrefix,
      rejectIfRedisNotReady: true,
      insuranceLimiter: memory,
    });
  }

  const limited = (msBeforeNext: number) => {
    const retryAfter = Math.max(1, Math.ceil(msBeforeNext / 1000));
    return new RateLimited(`Rate limit of ${perMinute} requests per minute reached; retry in ${retryAfter} s.`, retryAfter, { limit: perMinute });
  };
  /** Spends one operation of `key`; the milliseconds to wait when it is spent, else undefined. */
  const spend = async (key: string): Promise<number | undefined> => {
    try {
      await limiter.consume(key);
    } catch (err) {
      if (err instanceof RateLimiterRes) return err.msBeforeNext;
      // A store error the insurance limiter could not absorb: never refuse a request for it.
      logger.warn({ err }, 'rate limit check failed; request let through');
    }
    return undefined;
  };
  const consume: RateLimit = async (req, viewerId) => {
    const wait = await spend(keyOf(req, viewerId));
    if (wait !== undefined) throw limited(wait);
  };

  // Addresses over their budget after refused tokens, until when (this instance's own note).
  const barred = new Map<string, number>();
  let swept = Date.now();
  const tokens: TokenGuard = {
    check(req) {
      if (barred.size === 0) return;
      const key = keyOf(req, null);
      const until = barred.get(key);
      if (until === undefined) return;
      const left = until - Date.now();
      if (left > 0) throw limited(left);
      barred.delete(key);
    },
    async refused(req) {
      const key = keyOf(req, null);
      const wait = await spend(key);
      if (wait === undefined) return;
      const now = Date.now();
      if (now - swept > WINDOW_SECONDS * 1000) {
        swept = now;
        for (const [k, until] of barred) if (until <= now) barred.delete(k);
      }
      barred.set(key, now + wait);
      throw limited(wait);
    },
  };
  return {
    consume,
    tokens,
    spendDocument,
    close: async () => {
      if (redis) await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/**
 * The parse budget (RATE_LIMIT_BYTES_PER_MINUTE): bytes of GraphQL documents per caller, counted
 * on this instance only. It bounds the CPU one caller can make this process spend on parsing and
 * validating: that CPU is the instance's own, so a budget shared through Redis would only add a
 * round trip before every document (and a dependency) without protecting anything more.
 */
function documentBudget(bytesPerMinute: number, keyOf: (req: Caller, viewerId: string | null) => string): DocumentBudget {
  const buckets = new ByteBuckets(bytesPerMinute, Math.min(bytesPerMinute, DOCUMENT_BURST_BYTES));
  return (req, viewerId, bytes) => {
    const waitMs = buckets.spend(keyOf(req, viewerId), bytes);
    if (waitMs === undefined) return;
    const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
    throw new RateLimited(`Rate limit of ${bytesPerMinute} bytes of GraphQL documents per minute reached; retry in ${retryAfter} s.`, retryAfter, {
      limit: bytesPerMinute,
    });
  };
}
