import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { getOperationAST, OperationTypeNode, parse } from 'graphql';
import { ServiceUnavailable } from '../errors.ts';
import { domainRefusal, ErrorCode, refusal, type Refusal } from '../graphql/errors.ts';
import type { Logger } from '../logger.ts';
import { sendJson } from './respond.ts';

/**
 * Where keys and their responses are kept: src/idempotency/idempotency.repository.ts, handed in
 * by app.ts (http/ runs no query of its own). Every method is scoped to one user.
 */
export interface IdempotencyStore {
  /** True when (user, key) is now this request's to run (see IdempotencyRepository.claim). */
  claim(userId: string, key: string, requestHash: string, leaseMs: number, ttlMs: number): Promise<boolean>;
  /** The unexpired entry: its request's hash, and its response once the first request finished. */
  find(userId: string, key: string): Promise<{ requestHash: string; response: BufferedResponse | undefined } | undefined>;
  release(userId: string, key: string): Promise<void>;
  store(userId: string, key: string, response: BufferedResponse): Promise<void>;
  deleteExpired(limit: number): Promise<void>;
}

/** A whole response, held in memory so that it can be stored and replayed byte for byte. */
export interface BufferedResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Runs the request through Apollo and buffers its response. */
export type Execute = () => Promise<BufferedResponse>;

/** Handles a POST /graphql carrying an `Idempotency-Key` header, from the parsed body on. */
export type IdempotentHandler = (req: IncomingMessage, res: ServerResponse, body: unknown, execute: Execute) => Promise<void>;

export interface IdempotencyOptions {
  store: IdempotencyStore;
  /**
   * The request's viewer, from the one place that authenticates a request (the GraphQL context
   * factory, which memoizes it per request): the token is verified once, not here and again there.
   * A rejection (a bad token, the database down) is left to the context to answer.
   */
  viewer: (req: IncomingMessage) => Promise<{ id: string } | null>;
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
/** Expired keys deleted per clean-up: a few per minute per instance keep up with any realistic rate. */
const CLEANUP_BATCH = 1000;
// Printable ASCII, as an HTTP header value is in practice (UUIDs, ULIDs, base64).
const KEY = /^[\x20-\x7e]+$/;
/**
 * Outcomes that say nothing about whether the mutation ran to completion (outage, overload, a
 * bug): the key is released so that a retry runs, instead of replaying the failure for a day.
 */
const RETRYABLE = new Set<string>([ErrorCode.SERVICE_UNAVAILABLE, ErrorCode.RATE_LIMITED, ErrorCode.INTERNAL_SERVER_ERROR]);

/** JSON with object keys sorted: the same request in another key order hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
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

/** Whether a response may be stored: the operation ran and its outcome is final. */
function final(response: BufferedResponse): boolean {
  if (response.status >= 500 || response.status === 429) return false;
  try {
    const { errors } = JSON.parse(response.body) as { errors?: Array<{ extensions?: { code?: unknown } }> };
    return !errors?.some((e) => RETRYABLE.has(String(e.extensions?.code)));
  } catch {
    return false;
  }
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
 * internal errors) release the key instead of being stored.
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
    // Opportunistic and bounded, never a long lock.
    keys.deleteExpired(CLEANUP_BATCH).catch((err: unknown) => logger.warn({ err }, 'could not delete expired idempotency keys'));
  };

  const userOf = async (req: IncomingMessage): Promise<string | undefined> => {
    try {
      return (await options.viewer(req))?.id;
    } catch {
      return undefined; // the context answers the same failure (401, or 503) when the request runs
    }
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

  return async (req, res, body, execute) => {
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
    const userId = await userOf(req);
    if (userId === undefined || !isMutation(body)) {
      sendBuffered(res, await execute());
      return;
    }
    const hash = createHash('sha256').update(canonical(body)).digest('hex');

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
      if (final(response)) await keys.store(userId, key, response);
      else await keys.release(userId, key);
    } catch (err) {
      // The key stays claimed until its lease ends; a retry before then gets 409.
      logger.error({ err }, 'could not record the outcome of an idempotent request');
    }
    sendBuffered(res, response);
  };
}
