import type { IncomingMessage } from 'node:http';
import { GraphQLError } from 'graphql';
import { TokenRejected, type TokenVerifier } from '../auth/token-verifier.ts';
import { databaseError } from '../db/errors.ts';
import { DomainError, RateLimited } from '../errors.ts';
import type { Viewer } from '../users/user.model.ts';
import { logScope, type Logger } from '../logger.ts';
import type { TaskRepository } from '../tasks/task.repository.ts';
import { TaskService, type TaskChangeSource } from '../tasks/task.service.ts';
import type { UserDirectory } from '../users/user.directory.ts';
import { ErrorCode, invalidToken, requestError } from './errors.ts';

/** What every resolver receives; built once per request. */
export interface Context {
  requestId: string;
  logger: Logger;
  /** The signed-in caller, or null for an anonymous request. */
  viewer: Viewer | null;
  tasks: TaskService;
}

/**
 * What budgets and token checks read of a request: its headers (X-Forwarded-For) and its
 * connection's address. A WebSocket keeps only this of its upgrade request, not the request.
 */
export type Caller = Pick<IncomingMessage, 'headers' | 'socket'>;

export interface ContextDeps {
  /** Every query of tasks (one per application: it batches page reads across requests). */
  tasks: TaskRepository;
  verifier: TokenVerifier;
  users: UserDirectory;
  logger: Logger;
  /**
   * Spends one operation (an HTTP request, a WebSocket message) of the caller's budget (user, or
   * client address when anonymous); throws RateLimited.
   */
  rateLimit?: (req: Caller, viewerId: string | null) => Promise<void>;
  /** Refused tokens counted against their client address (src/http/rate-limit.ts). */
  tokens?: {
    check(req: Caller): void;
    refused(req: Caller): Promise<void>;
  };
  /** Spends bytes of GraphQL document text of the caller's parse budget; throws RateLimited. */
  spendDocument?: (req: Caller, viewerId: string | null, bytes: number) => void;
  /** Live task changes, for subscriptions. */
  changes?: TaskChangeSource;
}

/** Longer than any token this API issues; longer ones are refused before any parsing. */
const MAX_TOKEN_LENGTH = 4096;
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * The viewer from `Authorization: Bearer <jwt>`. No header: anonymous (the @auth directive and
 * services decide what that may do). A header that is not an acceptable bearer token: the whole
 * request is refused with 401.
 */
export async function authenticate(header: string | undefined, verifier: TokenVerifier, users: UserDirectory): Promise<Viewer | null> {
  if (header === undefined || header === '') return null;
  const token = BEARER.exec(header)?.[1];
  if (!token || token.length > MAX_TOKEN_LENGTH) throw invalidToken(false);
  let verified: Viewer;
  try {
    verified = await verifier.verify(token);
  } catch (err) {
    throw invalidToken(err instanceof TokenRejected && err.expired);
  }
  // A valid signature is not enough: the account must still exist (and its name be current).
  const current = await users.current(verified);
  if (!current) throw invalidToken(false);
  return current;
}

/**
 * `authenticate`, with the token counted against the client address (`deps.tokens`): a refused
 * token spends one operation of the address's budget, as an anonymous request would, and an
 * address over its budget is refused (RateLimited) before its next token is verified.
 */
export async function authenticateRequest(
  req: Caller,
  header: string | undefined,
  deps: Pick<ContextDeps, 'verifier' | 'users' | 'tokens'>,
): Promise<Viewer | null> {
  if (header === undefined || header === '' || !deps.tokens) return authenticate(header, deps.verifier, deps.users);
  deps.tokens.check(req);
  try {
    return await authenticate(header, deps.verifier, deps.users);
  } catch (err) {
    if (err instanceof GraphQLError && err.extensions['code'] === ErrorCode.UNAUTHENTICATED) await deps.tokens.refused(req);
    throw err;
  }
}

/** What the HTTP layer gets for each request: its admitted viewer, and the context its operation runs with. */
export interface RequestContexts {
  /**
   * The request's viewer, authenticated and admitted once per request, whoever asks first (the
   * idempotency middleware, then the context): one token verification and user lookup, one
   * operation of the rate limit, `documentBytes` (the size of the operation's text) of the parse
   * budget. Rejects with the request's refusal: 401, 429 (a GraphQLError carrying its HTTP
   * status), or the failure of the user lookup.
   */
  admit: (req: IncomingMessage, documentBytes?: number) => Promise<Viewer | null>;
  /** The context of the request's operation (Apollo's context function); admits the request first. */
  context: (req: IncomingMessage, documentBytes?: number) => Promise<Context>;
}

export function createContextFactory(deps: ContextDeps): RequestContexts {
  const admitted = new WeakMap<IncomingMessage, Promise<Viewer | null>>();
  const admission = async (req: IncomingMessage, documentBytes: number): Promise<Viewer | null> => {
    const viewer = await authenticateRequest(req, req.headers.authorization, deps).catch((err: unknown) => {
      // A refusal for the address's budget fails the request as the rate limit does: 429.
      throw err instanceof RateLimited ? requestError(err) : err;
    });
    // Over a limit: the whole request is refused with 429 and Retry-After, before anything runs
    // (Apollo parses and validates the document only once the context is built).
    try {
      await deps.rateLimit?.(req, viewer?.id ?? null);
      deps.spendDocument?.(req, viewer?.id ?? null, documentBytes);
    } catch (err) {
      throw err instanceof RateLimited ? requestError(err) : err;
    }
    return viewer;
  };
  const admit = (req: IncomingMessage, documentBytes = 0): Promise<Viewer | null> => {
    let known = admitted.get(req);
    if (!known) {
      known = admission(req, documentBytes);
      admitted.set(req, known);
    }
    return known;
  };
  return {
    admit,
    context: async (req, documentBytes = 0) => {
      // Set by the HTTP server (src/http/server.ts), which also logs the request line under this id.
      const requestId = req.id ?? '';
      let current: Viewer | null;
      try {
        current = await admit(req, documentBytes);
      } catch (err) {
        // A domain error here (the user lookup found the database down) fails the whole request with
        // its HTTP status (503 and Retry-After); thrown as it is, Apollo would answer 500.
        const domain = databaseError(err);
        // Apollo answers a failed context without logging anything: an outage would leave no trace of
        // its cause. Refusals (GraphQLErrors) are no failure.
        if (!(err instanceof GraphQLError)) deps.logger.error({ err, requestId }, 'could not build the request context');
        throw domain instanceof DomainError ? requestError(domain) : domain;
      }
      return contextFor(deps, current, requestId);
    },
  };
}

/**
 * The context of one operation of an already authenticated viewer: an HTTP request, or one
 * subscription of a WebSocket (which authenticated once, at connection_init).
 */
export function contextFor(deps: ContextDeps, viewer: Viewer | null, requestId: string): Context {
  return new OperationContext(deps, viewer, requestId);
}

/**
 * A class rather than an object literal: a literal with a getter is a dictionary (about 450 bytes
 * more), and every open subscription holds its context for as long as it lasts.
 */
class OperationContext implements Context {
  readonly requestId: string;
  readonly viewer: Viewer | null;
  readonly tasks: TaskService;
  private readonly base: Logger;
  private child: Logger | undefined;

  constructor(deps: ContextDeps, viewer: Viewer | null, requestId: string) {
    this.requestId = requestId;
    this.viewer = viewer;
    // Every write is a single statement, so a request needs no EntityManager (no unit of work,
    // no identity map): the repository runs its queries on the ORM's Kysely directly.
    this.tasks = new TaskService(deps.tasks, viewer, deps.changes);
    this.base = deps.logger;
  }

  /**
   * Made when first used (most requests log nothing of their own). Within its HTTP request's
   * scope, every line already carries the request id (logger.ts's mixin): no child needed.
   */
  get logger(): Logger {
    return (this.child ??= logScope.getStore()?.requestId === this.requestId ? this.base : this.base.child({ requestId: this.requestId }));
  }
}
