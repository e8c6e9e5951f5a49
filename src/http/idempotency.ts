import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { getOperationAST, GraphQLError, OperationTypeNode, parse } from 'graphql';
import { RateLimited, ServiceUnavailable } from '../errors.ts';
import { domainRefusal, ErrorCode, refusal, type Refusal } from '../graphql/errors.ts';
import type { Logger } from '../logger.ts';
import { sendJson } from './respond.ts';

/**
 * Where keys and their responses are kept: src/idempotency/idempotency.repository.ts, handed in
 * by app.ts (http/ runs no query of its own). Every method is scoped to one user.
 */
export interface IdempotencyStore {
  /**
   * The user's unexpired keys, and whether `key` is one of them; drops the user's expired keys on
   * the way (so each user's own garbage goes as fast as they add keys).
   */
  usage(userId: string, key: string): Promise<{ keys: number; exists: boolean }>;
  /** True when (user, key) is now this request's to run (see IdempotencyRepository.claim). */
  claim(userId: string, key: string, requestHash: string, leaseMs: number, ttlMs: number): Promise<boolean>;
  /**
   * The unexpired entry: its request's hash, and its response once the first request finished
   * (`notKept` when it finished with a response too large to keep).
   */
  find(userId: string, key: string): Promise<{ requestHash: string; response: BufferedResponse | undefined; notKept: boolean } | undefined>;
  release(userId: string, key: string): Promise<void>;
  /** Records the final response (or, with `undefined`, that the request ran but its response is not kept). */
  store(userId: string, key: string, response: BufferedResponse | undefined): Promise<void>;
  /** Deletes up to `limit` expired keys of any user; resolves with how many it deleted. */
  deleteExpired(limit: number): Promise<number>;
}

/** A whole response, held in memory so that it can be stored and replayed byte for byte. */
export interface BufferedResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Runs the request through Apollo and buffers its response. */
export type Execute = () => Promise<BufferedResponse>;

/**
 * Handles a POST /graphql carrying an `Idempotency-Key` header, from the parsed body on.
 * `documentBytes`: the size of the operation's text, for the parse budget.
 */
export type IdempotentHandler = (req: IncomingMessage, res: ServerResponse, body: unknown, execute: Execute, documentBytes: number) => Promise<void>;

export interface IdempotencyOptions {
  store: IdempotencyStore;
  /**
   * The request's viewer, from the one place that authenticates and admits a request (the GraphQL
   * context factory, which memoizes it per request): the token is verified, and the rate limit and
   * parse budget charged, once, before anything is replayed or claimed. A refusal for the rate
   * limit is answered here (429); any other rejection (a bad token, the database down) is left to
   * the context to answer.
   */
  admit: (req: IncomingMessage, documentBytes: number) => Promise<{ id: string } | null>;
  /** Responses larger than this are not kept (a retry is refused with IDEMPOTENCY_RESPONSE_NOT_KEPT). */
  maxResponseBytes: number;
  /** Unexpired keys one user may hold; a new key past it is refused with QUOTA_EXCEEDED. */
  maxKeysPerUser: number;
  logger: Logger;
  /** Token limit for parsing the operation (to tell a mutation); the operation limits' own. */
  maxTokens: number;
  /** How long a key and its response are kept. */
  ttlMs?: number;
  /** How long a repeat waits for the first request to finish before 409 IDEMPOTENCY_IN_PROGRESS. */
  waitMs?: number;
  /** How long a claim holds while its request runs: after it, a repeat may run (the first died). */
  leaseMs?: number;
}

export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** Set to `true` on a response replayed from the store. */
export const REPLAYED_HEADER = 'idempotency-replayed';
export const MAX_KEY_LENGTH = 255;

const DAY_MS = 24 * 3600_000;
const POLL_MS = 100;
const CLEANUP_INTERVAL_MS = 60_000;
/**
 * Expired keys deleted per statement (a short lock each). A clean-up deletes batch after batch
 * until none is left or CLEANUP_MAX_MS has passed: users who keep adding keys drop their own
 * expired ones as they do (see `usage`), so this catches those who left.
 */
const CLEANUP_BATCH = 1000;
const CLEANUP_MAX_MS = 5_000;
/**
 * Nesting of the request body that the key's hash follows: far deeper than any operation, its
 * variables or extensions need, and far from the stack's depth.
 */
export const MAX_BODY_DEPTH = 64;
// Printable ASCII, as an HTTP header value is in practice (UUIDs, ULIDs, base64).
const KEY = /^[\x20-\x7e]+$/;
/**
 * Outcomes that say nothing about whether the mutation ran to completion (outage, overload, a
 * bug): the key is released so that a retry runs, instead of replaying the failure for a day.
 */
const RETRYABLE = new Set<string>([ErrorCode.SERVICE_UNAVAILABLE, ErrorCode.RATE_LIMITED, ErrorCode.INTERNAL_SERVER_ERROR]);

class TooDeep extends Error {}

/**
 * JSON with object keys sorted: the same request in another key order hashes the same. Throws
 * TooDeep past MAX_BODY_DEPTH levels (recursing further could overflow the stack).
 */
function canonical(value: unknown, depth = 0): string {
  if (depth > MAX_BODY_DEPTH && value !== null && typeof value === 'object') throw new TooDeep();
  if (Array.isArray(value)) return `[${value.map((v) => canonical(v, depth + 1)).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v, depth + 1)}`).join(',')}}`;
  }
  // undefined (and functions) have no JSON text.
  return value === undefined ? 'null' : JSON.stringify(value);
}

function send(res: ServerResponse, response: Refusal): void {
  sendJson(res, response.status, response.body, response.headers);
}

function sendBuffered(res: ServerResponse, response: BufferedResponse, extra: Record<string, string> = {}): void {
  res.writeHead(response.status, { ...response.headers, ...extra, 'content-length': Buffer.byteLength(response.body) }).end(response.body);
}

/**
 * Whether a response may be stored: the mutation ran (the response has `data`: a document that did
 * not parse or validate, or variables that did not coerce, have none and leave nothing to replay,
 * as Stripe does not store them) and its outcome is final.
 */
function final(response: BufferedResponse): boolean {
  if (response.status >= 500 || response.status === 429) return false;
  try {
    const result = JSON.parse(response.body) as { data?: unknown; errors?: Array<{ extensions?: { code?: unknown } }> };
    return result.data !== undefined && !result.errors?.some((e) => RETRYABLE.has(String(e.extensions?.code)));
  } catch {
    return false;
  }
}

/** The 429 of a request admission refused for the rate limit, as the context would have answered it. */
function rateLimitedRefusal(err: unknown): Refusal | undefined {
  const cause = err instanceof GraphQLError ? err.originalError : undefined;
  return cause instanceof RateLimited ? domainRefusal(cause) : undefined;
}

/**
 * Idempotent retries of mutations (the `Idempotency-Key` header, as in the IETF draft and
 * Stripe's API). A mutation runs once per user and key within `ttlMs` (24 h): a repeat with the
 * same body gets the first response (status, headers, body, plus `Idempotency-Replayed: true`),
 * from any instance sharing the database, and also while the first still runs (it waits up to
 * `waitMs`, then gets 409 IDEMPOTENCY_IN_PROGRESS with Retry-After). The same key with another
 * body: 422 IDEMPOTENCY_KEY_REUSED. An empty key, one over 255 characters or one with a character outside printable ASCII: 400
 * IDEMPOTENCY_KEY_INVALID. Queries and requests without a valid token just run (anonymous
 * mutations are refused by @auth anyway). Failures that may be retried (5xx, 429, outage and
 * internal errors), and requests that never ran (no `data`: parse, validation, variable errors),
 * release the key instead of being stored.
 *
 * Bounds: the request is admitted (rate limit, parse budget) before anything is replayed or
 * claimed; a response over `maxResponseBytes` is not kept (a retry: 409
 * IDEMPOTENCY_RESPONSE_NOT_KEPT, and the mutation does not run again); a user holds at most
 * `maxKeysPerUser` unexpired keys (a new one past it: 403 QUOTA_EXCEEDED); a body nested deeper
 * than MAX_BODY_DEPTH is not hashed (400 BAD_USER_INPUT).
 */
export function idempotency(options: IdempotencyOptions): IdempotentHandler {
  const { store: keys, logger } = options;
  const ttlMs = options.ttlMs ?? DAY_MS;
  const waitMs = options.waitMs ?? 5_000;
  const leaseMs = options.leaseMs ?? 60_000;
  let lastCleanup = 0;

  const cleanup = () => {
    if (Date.now() - lastCleanup < CLEANUP_INTERVAL_MS) return;
    lastCleanup = Date.now();
    // Batch after batch, each a short statement, for a bounded time.
    void (async () => {
      const until = Date.now() + CLEANUP_MAX_MS;
      while ((await keys.deleteExpired(CLEANUP_BATCH)) === CLEANUP_BATCH && Date.now() < until);
    })().catch((err: unknown) => logger.warn({ err }, 'could not delete expired idempotency keys'));
  };

  const isMutation = (body: unknown): boolean => {
    if (!body || typeof body !== 'object' || Array.isArray(body)) return false;
    const { query, operationName } = body as { query?: unknown; operationName?: unknown };
    if (typeof query !== 'string') return false;
    try {
      const operation = getOperationAST(
        parse(query, { maxTokens: options.maxTokens }),
        typeof operationName === 'string' ? operationName : undefined,
      );
      return operation?.operation === OperationTypeNode.MUTATION;
    } catch {
      return false; // Apollo reports the syntax error
    }
  };

  const unavailable = (err: unknown) => {
    logger.warn({ err }, 'idempotency store unavailable');
    return domainRefusal(new ServiceUnavailable('The service is temporarily unavailable; retry with the same Idempotency-Key.', 2));
  };

  return async (req, res, body, execute, documentBytes) => {
    const key = req.headers[IDEMPOTENCY_HEADER];
    if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH || !KEY.test(key)) {
      send(
        res,
        refusal(
          400,
          ErrorCode.IDEMPOTENCY_KEY_INVALID,
          `The Idempotency-Key header must be 1 to ${MAX_KEY_LENGTH} printable ASCII characters (a UUID, say).`,
        ),
      );
      return;
    }
    // Admitted first: a user over the rate limit gets 429 for a replay as for anything else.
    let userId: string | undefined;
    try {
      userId = (await options.admit(req, documentBytes))?.id;
    } catch (err) {
      const limited = rateLimitedRefusal(err);
      if (limited) {
        send(res, limited);
        return;
      }
      // The context answers the same failure (401, or 503) when the request runs.
    }
    if (userId === undefined || !isMutation(body)) {
      sendBuffered(res, await execute());
      return;
    }
    let text: string;
    try {
      text = canonical(body);
    } catch (err) {
      if (!(err instanceof TooDeep)) throw err;
      send(res, refusal(400, ErrorCode.BAD_USER_INPUT, `The request body is nested more than ${MAX_BODY_DEPTH} levels deep; flatten it.`));
      return;
    }
    const hash = createHash('sha256').update(text).digest('hex');

    // A new key needs room in the user's quota; a retry of a key held already does not.
    try {
      const usage = await keys.usage(userId, key);
      if (!usage.exists && usage.keys >= options.maxKeysPerUser) {
        send(
          res,
          refusal(
            403,
            ErrorCode.QUOTA_EXCEEDED,
            `At most ${options.maxKeysPerUser} Idempotency-Keys per user are kept (IDEMPOTENCY_MAX_KEYS_PER_USER), each for 24 hours; ` +
              'send this mutation without a key, or later.',
            undefined,
            { limit: options.maxKeysPerUser, setting: 'IDEMPOTENCY_MAX_KEYS_PER_USER' },
          ),
        );
        return;
      }
    } catch (err) {
      send(res, unavailable(err));
      return;
    }

    const until = Date.now() + waitMs;
    for (;;) {
      let mine: boolean;
      let first: Awaited<ReturnType<IdempotencyStore['find']>>;
      try {
        mine = await keys.claim(userId, key, hash, leaseMs, ttlMs);
        first = mine ? undefined : await keys.find(userId, key);
      } catch (err) {
        send(res, unavailable(err));
        return;
      }
      if (mine) break;
      if (!first) continue; // released (or expired) in between: claim again
      if (first.requestHash !== hash) {
        send(
          res,
          refusal(
            422,
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            'This Idempotency-Key was already used with another request; use a new key for a new request.',
          ),
        );
        return;
      }
      if (first.response) {
        sendBuffered(res, first.response, { [REPLAYED_HEADER]: 'true' });
        return;
      }
      if (first.notKept) {
        send(
          res,
          refusal(
            409,
            ErrorCode.IDEMPOTENCY_RESPONSE_NOT_KEPT,
            `The request with this Idempotency-Key ran, but its response was larger than ${options.maxResponseBytes} bytes ` +
              '(IDEMPOTENCY_MAX_RESPONSE_BYTES) and was not kept: read the result with a query instead of retrying.',
            undefined,
            { limit: options.maxResponseBytes, setting: 'IDEMPOTENCY_MAX_RESPONSE_BYTES' },
          ),
        );
        return;
      }
      if (Date.now() >= until) {
        send(res, refusal(409, ErrorCode.IDEMPOTENCY_IN_PROGRESS, 'A request with this Idempotency-Key is still running; retry shortly.', 1));
        return;
      }
      await sleep(POLL_MS);
    }
    cleanup();

    let response: BufferedResponse;
    try {
      response = await execute();
    } catch (err) {
      await keys.release(userId, key).catch((e: unknown) => logger.warn({ err: e }, 'could not release an idempotency key'));
      throw err;
    }
    // Stored before it is sent: once the client has the response, a retry replays it.
    try {
      if (!final(response)) await keys.release(userId, key);
      else await keys.store(userId, key, Buffer.byteLength(response.body) <= options.maxResponseBytes ? response : undefined);
    } catch (err) {
      // The key stays claimed until its lease ends; a retry before then gets 409.
      logger.error({ err }, 'could not record the outcome of an idempotent request');
    }
    sendBuffered(res, response);
  };
}
