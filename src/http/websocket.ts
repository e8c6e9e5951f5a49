import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import {
  getOperationAST,
  GraphQLError,
  OperationTypeNode,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type ValidationRule,
} from 'graphql';
import { getVariableValues } from 'graphql/execution/values.js';
import { makeServer } from 'graphql-ws';
import { operationOutcome, refusalOutcome, type SocketTelemetry } from '../graphql/telemetry.ts';
import { NextFrames, shareResults, sharedSubscribe } from './delivery.ts';
import { OVERLOAD_RETRY_AFTER_SECONDS } from './overload.ts';
import { decodeJwt } from 'jose';
import { LRUCache } from 'lru-cache';
import { WebSocketServer, type WebSocket } from 'ws';
import { DomainError, RateLimited } from '../errors.ts';
import { authenticateRequest, contextFor, type Caller, type ContextDeps } from '../graphql/context.ts';
import { ErrorCode, formatError as formatGraphQLError, isClientError, TOKEN_EXPIRED, withoutSuggestions } from '../graphql/errors.ts';
import { refusalError, type DocumentPolicy } from '../graphql/persisted-documents.ts';
import type { Logger } from '../logger.ts';
import type { Viewer } from '../users/user.model.ts';

/**
 * Close codes, chosen by what the standard graphql-ws client does with them: it reconnects after
 * 4403, 1001, 1012 and 1013 (calling `connectionParams` again, so a client that refreshes its
 * token there recovers by itself) and gives up for good after 4401, 4429, 4500, 1011 and other
 * 1xxx errors (1009: message too big).
 */
export const CloseCode = {
  /** No token, a bad one, an expired one, a deleted or signed-out user: get a (new) token, reconnect. */
  FORBIDDEN: 4403,
  /** Too many sockets for one user. Fatal for the client. */
  TOO_MANY: 4429,
  /** The server is shutting down: reconnect (to another instance). */
  GOING_AWAY: 1001,
  /** The database cannot be heard: reconnect later, then refetch. */
  TRY_AGAIN_LATER: 1013,
  INTERNAL_ERROR: 1011,
} as const;

export interface WebSocketOptions {
  httpServer: http.Server;
  /** Production: no "Did you mean ...?" in any error (the schema stays private), as over HTTP. */
  hideSuggestions: boolean;
  /** The path upgrades are taken on (the GraphQL endpoint's). */
  path: string;
  schema: GraphQLSchema;
  /** Validation rules beyond graphql-js's own: the same list as the HTTP path's. */
  validationRules: ValidationRule[];
  /** Parser token limit, as on HTTP. */
  maxTokens: number;
  /** Trusted documents, as on HTTP: a `subscribe` may name a listed document by id; the policy may refuse it. */
  documents: DocumentPolicy;
  context: ContextDeps;
  /** Browser origins allowed to open a socket; requests without Origin (non-browsers) are allowed. */
  trustedOrigins: string[];
  maxConnectionsPerUser: number;
  /**
   * Sockets open at once on this instance; an upgrade past it is refused with 503 and Retry-After,
   * leaving the rest of the server's connections (HTTP_MAX_CONNECTIONS) to HTTP requests.
   */
  maxSockets: number;
  /** Subscriptions one user may hold at once, over all their sockets; more get QUOTA_EXCEEDED. */
  maxSubscriptionsPerUser: number;
  clockSkewSeconds: number;
  maxTokenAgeSeconds: number;
  /** Whether changes can be heard now; new sockets are turned away with 1013 while not. */
  live: () => boolean;
  /**
   * Whether the server is saturated now (src/http/overload.ts): an upgrade is then refused with
   * 503 and Retry-After, before the socket costs anything. Absent: never.
   */
  overloaded?: (() => boolean) | undefined;
  logger: Logger;
  /** Largest message accepted; ws closes the socket with 1009 beyond it. */
  maxPayloadBytes?: number;
  /** Records each subscription's outcome and each event delivered (metrics, traces); absent: nothing. */
  telemetry?: SocketTelemetry | undefined;
}

export interface LiveSockets {
  /** Closes every socket of a user, e.g. with 4403 "user deleted". */
  closeUser(userId: string, code: number, reason: string): void;
  closeAll(code: number, reason: string): void;
  /** Open sockets (acknowledged or not). */
  readonly size: number;
  /** Refuses new sockets, closes the open ones with 1001 once what is queued on them is sent. */
  stop(): Promise<void>;
}

/** Per connection, in graphql-ws's `ctx.extra`. */
interface Connection {
  id: string;
  socket: WebSocket;
  /** What budgets read of the upgrade request (not the request: its headers and stream state stayed alive with the socket). */
  request: Caller;
  /** Which of the keep-alive rounds pings this socket. */
  round: number;
  viewer: Viewer | undefined;
  expiry: NodeJS.Timeout | undefined;
  /** Operations of this socket open now (graphql-ws's own record: set at subscribe, gone at the end). */
  subscriptions: () => number;
  /** Set while the message being handled is over the user's operation budget: onSubscribe refuses it. */
  refused: RateLimited | undefined;
  /** Stops reading from the socket for `seconds` (at most MAX_THROTTLE_MS): the user is over a budget. */
  throttle: (seconds: number) => void;
  /** When each operation's subscribe message arrived, until its outcome is recorded (telemetry only; made when first needed). */
  started: Map<string, number> | undefined;
  /** This socket's `next` messages, each payload serialised once for all subscriptions that send it. */
  frames: NextFrames;
}

/**
 * A random UUID as one flat string: randomUUID() builds it by concatenation, a rope of about 16
 * strings (500 bytes) that the socket would hold as its id for as long as it stays open.
 */
function flatUuid(): string {
  return Buffer.from(randomUUID(), 'latin1').toString('latin1');
}

/** The key of connection_init's payload holding the token: `authorization` in any casing (that one first). */
function authorizationKey(params: Readonly<Record<string, unknown>> | undefined): string | undefined {
  if (!params) return undefined;
  if ('authorization' in params) return 'authorization';
  return Object.keys(params).find((key) => key.toLowerCase() === 'authorization');
}

/** Each socket is pinged this often; one that has not answered the last ping by the next is cut. */
const KEEPALIVE_MS = 12_000;
/**
 * The keep-alive timer's period: each tick pings one of KEEPALIVE_MS / KEEPALIVE_TICK_MS rounds of
 * sockets, so that 18,000 sockets are not pinged in one turn of the event loop.
 */
const KEEPALIVE_TICK_MS = 500;
/** Retry-After of an upgrade refused because the instance holds its maximum of sockets. */
const FULL_RETRY_AFTER_SECONDS = 5;
/**
 * Messages read from one socket and not handled yet. Past this many the socket is not read from
 * (TCP pushes back on the sender) until its queue is down to a quarter of it.
 */
const MAX_QUEUED_MESSAGES = 16;
/** Longest pause in reading a socket over budget: below KEEPALIVE_MS, so its pongs are read in time. */
const MAX_THROTTLE_MS = 5_000;
/**
 * Bounds of the cache of valid documents by their text: entries, and characters of text in all.
 * (A cached document's tree is some tens of times its text; the token limit bounds both.)
 */
const DOCUMENT_CACHE_ENTRIES = 500;
const DOCUMENT_CACHE_CHARACTERS = 256 * 1024;
/** setTimeout's largest delay (about 24.8 days); longer token lifetimes are re-armed. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * GraphQL over WebSocket (graphql-transport-ws) on the HTTP server's `/graphql`. Apollo's plugins,
 * validation rules and formatError never see this path, so the same pipeline is applied here:
 * authenticate() on connection_init, the same parse token limit and validation rules, the same
 * contextFor() per operation, the same formatError masking (unexpected errors logged, masked).
 * Only subscriptions are served: queries and mutations keep to HTTP and its limits.
 */
export function createLiveSockets(options: WebSocketOptions): LiveSockets {
  const { logger, schema } = options;
  const formatError = options.hideSuggestions ? withoutSuggestions(formatGraphQLError) : formatGraphQLError;
  const rules = [...specifiedRules, ...options.validationRules];
  const byUser = new Map<string, Set<Connection>>();
  const sockets = new Set<WebSocket>();
  let stopping = false;
  /** Whether the last upgrade was refused for the socket limit (one warning per episode, not per refusal). */
  let full = false;
  let stopped: Promise<void> | undefined;
  /**
   * Documents that parsed and validated, by their text. Every socket of an app sends the same
   * subscription: one tree (with its tokens and locations, about 7 KB for a small subscription)
   * held by all of them instead of one each, for as long as they stay open. The tree is never
   * changed by execution; the schema and rules are fixed, so a text's validation never changes.
   */
  const valid = new LRUCache<string, DocumentNode>({
    max: DOCUMENT_CACHE_ENTRIES,
    maxSize: DOCUMENT_CACHE_CHARACTERS,
    sizeCalculation: (_document, text) => Math.max(1, text.length),
  });

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayloadBytes ?? 64 * 1024,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has('graphql-transport-ws') ? 'graphql-transport-ws' : false),
  });

  const close = (conn: Connection | WebSocket, code: number, reason: string) => {
    const socket = 'socket' in conn ? conn.socket : conn;
    if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close(code, reason);
  };

  /** formatError for this transport: domain errors thrown by a stream carry no path. */
  const format = (error: GraphQLError, conn: Connection, operationId: string): GraphQLFormattedError => {
    const cause = error.originalError;
    const source = cause instanceof DomainError && !error.path ? cause : error;
    const json = error.toJSON();
    if (isClientError(source)) return formatError(json, source);
    const requestId = `${conn.id}/${operationId}`;
    logger.error({ err: cause ?? error, path: error.path, requestId, userId: conn.viewer?.id }, 'unexpected error in a subscription');
    return formatError({ ...json, extensions: { ...json.extensions, requestId } }, source);
  };

  const refuse = (code: ErrorCode, message: string, details: Record<string, unknown> = {}) => [
    new GraphQLError(message, { extensions: { ...details, code } }),
  ];
  const refuseDomain = (error: DomainError) => [
    new GraphQLError(error.message, { originalError: error, extensions: { ...error.details, code: error.code } }),
  ];

  const { telemetry } = options;
  /** An operation's outcome, once: `ok` when its stream is set up, else the code the client got. */
  const record = (conn: Connection, id: string, outcome: string, operationName: string | null | undefined, args?: ExecutionArgs) => {
    const { started } = conn;
    const startedAt = started?.get(id);
    if (started === undefined || startedAt === undefined || !telemetry) return;
    started.delete(id);
    if (started.size === 0) conn.started = undefined;
    telemetry.operation(outcome, startedAt, operationName ?? undefined, args);
  };

  const server = makeServer<Record<string, unknown>, Connection>({
    schema,
    connectionInitWaitTimeout: 3_000,
    subscribe: sharedSubscribe(telemetry?.delivered),
    async onConnect(ctx) {
      const conn = ctx.extra;
      if (!options.live()) {
        close(conn, CloseCode.TRY_AGAIN_LATER, 'try again later');
        return false;
      }
      // Any casing of the key: tools send the header's spelling (Apollo Sandbox sends its Headers,
      // `Authorization`, as the payload). The reason names the key read, or the one expected.
      const key = authorizationKey(ctx.connectionParams);
      const header = key === undefined ? undefined : ctx.connectionParams?.[key];
      if (typeof header !== 'string' || header === '') {
        close(
          conn,
          CloseCode.FORBIDDEN,
          key === undefined
            ? 'missing token: send { "authorization": "Bearer <jwt>" } in connection_init'
            : `missing token: "${key}" in connection_init is not "Bearer <jwt>"`,
        );
        return false;
      }
      const from = `(read from connection_init "${key}")`;
      let viewer: Viewer | null;
      try {
        viewer = await authenticateRequest(conn.request, header, options.context);
      } catch (err) {
        if (err instanceof RateLimited) {
          // Too many refused tokens from this address: retryable, later (graphql-ws backs off).
          close(conn, CloseCode.TRY_AGAIN_LATER, `too many invalid tokens from this address: retry in ${err.retryAfterSeconds} s`);
        } else if (err instanceof GraphQLError && err.extensions['code'] === ErrorCode.UNAUTHENTICATED) {
          close(conn, CloseCode.FORBIDDEN, `${err.extensions['reason'] === TOKEN_EXPIRED ? 'token expired' : 'invalid token'} ${from}`);
        } else {
          // The user lookup failed: the database is down or slow. Retryable.
          logger.warn({ err, connectionId: conn.id }, 'could not authenticate a WebSocket: try again later');
          close(conn, CloseCode.TRY_AGAIN_LATER, 'try again later');
        }
        return false;
      }
      if (!viewer) {
        close(conn, CloseCode.FORBIDDEN, `invalid token ${from}`);
        return false;
      }
      if (conn.socket.readyState !== conn.socket.OPEN) return false;
      let mine = byUser.get(viewer.id);
      if (!mine) byUser.set(viewer.id, (mine = new Set()));
      if (mine.size >= options.maxConnectionsPerUser) {
        close(conn, CloseCode.TOO_MANY, `too many connections: at most ${options.maxConnectionsPerUser} per user`);
        return false;
      }
      mine.add(conn);
      conn.viewer = viewer;
      // The token is read once, here: the payload (a copy of the token per socket) need not live on.
      (ctx as { connectionParams?: unknown }).connectionParams = undefined;
      conn.subscriptions = () => Object.keys(ctx.subscriptions).length;
      scheduleExpiry(conn, header);
      return true;
    },
    onSubscribe(ctx, id, payload): ExecutionArgs | readonly GraphQLError[] {
      const conn = ctx.extra;
      if (telemetry) (conn.started ??= new Map()).set(id, performance.now());
      // Budgets first, before any parsing: the operation count (shared with the user's HTTP
      // requests, checked as the message was taken off the queue), the user's subscriptions over
      // all their sockets (graphql-ws has recorded this one already); the bytes to parse below.
      if (conn.refused) return refuseDomain(conn.refused);
      let open = 0;
      for (const c of conn.viewer ? (byUser.get(conn.viewer.id) ?? []) : []) open += c.subscriptions();
      if (open > options.maxSubscriptionsPerUser) {
        return refuse(
          ErrorCode.QUOTA_EXCEEDED,
          `At most ${options.maxSubscriptionsPerUser} subscriptions per user at once (WS_MAX_SUBSCRIPTIONS_PER_USER); complete one first.`,
          { limit: options.maxSubscriptionsPerUser, setting: 'WS_MAX_SUBSCRIPTIONS_PER_USER' },
        );
      }
      // `documentId` or extensions.persistedQuery (with an empty `query`): the listed document,
      // checked against the schema and the limits when the manifest was loaded.
      const resolution = options.documents.resolve(payload, 'ws');
      if (resolution.kind === 'refused') return [refusalError(resolution)];
      let document: DocumentNode;
      let text: string;
      if (resolution.kind === 'listed') {
        document = resolution.document.document;
        text = resolution.document.text;
      } else {
        text = payload.query;
        // The bytes of text to parse, from the user's parse budget (a listed document costs none).
        try {
          options.context.spendDocument?.(conn.request, conn.viewer?.id ?? null, Buffer.byteLength(payload.query));
        } catch (err) {
          if (!(err instanceof RateLimited)) throw err;
          conn.throttle(err.retryAfterSeconds);
          return refuseDomain(err);
        }
        const known = valid.get(payload.query);
        if (known) {
          document = known;
        } else {
          try {
            document = parse(payload.query, { maxTokens: options.maxTokens });
          } catch (err) {
            if (err instanceof GraphQLError) return refuse(ErrorCode.GRAPHQL_PARSE_FAILED, err.message);
            throw err;
          }
          const invalid = validate(schema, document, rules);
          if (invalid.length > 0) {
            return invalid.map(
              (e) =>
                new GraphQLError(e.message, {
                  nodes: e.nodes,
                  originalError: e.originalError,
                  extensions: { ...e.extensions, code: ErrorCode.GRAPHQL_VALIDATION_FAILED },
                }),
            );
          }
          if (payload.query.length <= DOCUMENT_CACHE_CHARACTERS) valid.set(payload.query, document);
        }
      }
      const operation = getOperationAST(document, payload.operationName);
      if (!operation) return refuse(ErrorCode.BAD_REQUEST, 'Name the operation to run (operationName) or send exactly one.');
      if (operation.operation !== OperationTypeNode.SUBSCRIPTION) {
        return refuse(ErrorCode.BAD_REQUEST, `Only subscriptions are served over WebSocket; send ${operation.operation} operations over HTTP.`);
      }
      // Coerced here (graphql-js would report bad variables as plain errors, masked as internal).
      const variables = getVariableValues(schema, operation.variableDefinitions ?? [], payload.variables ?? {}, { maxErrors: 10 });
      if (variables.errors)
        return variables.errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: ErrorCode.BAD_USER_INPUT } }));
      const viewer = conn.viewer ?? null;
      const args: ExecutionArgs = {
        schema,
        document,
        operationName: payload.operationName ?? null,
        variableValues: variables.coerced,
        contextValue: contextFor(options.context, viewer, `${conn.id}/${id}`),
      };
      // Identical subscriptions of the user (any socket) execute and serialise each change once:
      // the context is the viewer's, nothing else of the socket or the operation id reaches a resolver.
      return shareResults(args, [text, args.operationName, variables.coerced, viewer && [viewer.id, viewer.email, viewer.name]]);
    },
    onOperation(ctx, id, payload, args, result) {
      if (telemetry) {
        const errors = 'errors' in result ? result.errors : undefined;
        // The name as written in the document when the client did not send operationName (span attribute only).
        const name = payload.operationName ?? getOperationAST(args.document, args.operationName)?.name?.value;
        record(ctx.extra, id, errors?.length ? refusalOutcome(errors[0]) : 'ok', name, args);
      }
      return undefined;
    },
    onNext(ctx, id, _payload, _args, result) {
      // A stand-in graphql-ws serialises to a placeholder that the socket's send swaps for the frame (NextFrames).
      if (!result.errors?.length) return ctx.extra.frames.stand(id, result);
      return { ...(result.data !== undefined ? { data: result.data } : {}), errors: result.errors.map((e) => format(e, ctx.extra, id)) };
    },
    onError(ctx, id, payload, errors) {
      const formatted = errors.map((e) => format(e, ctx.extra, id));
      record(ctx.extra, id, operationOutcome(formatted), payload.operationName);
      return formatted;
    },
    onClose(ctx, code, reason) {
      const conn = ctx.extra;
      clearTimeout(conn.expiry);
      conn.started = undefined;
      if (conn.viewer) {
        const mine = byUser.get(conn.viewer.id);
        mine?.delete(conn);
        if (mine?.size === 0) byUser.delete(conn.viewer.id);
      }
      logger.debug({ connectionId: conn.id, userId: conn.viewer?.id, code, reason }, 'WebSocket closed');
    },
  });

  /** Closes the socket when its token stops being acceptable (exp, or the maximum age), skew included. */
  function scheduleExpiry(conn: Connection, header: string): void {
    const claims = decodeJwt(header.replace(/^Bearer +/i, '').trim());
    const skew = options.clockSkewSeconds;
    const until = Math.min(
      claims.exp !== undefined ? claims.exp + skew : Infinity,
      claims.iat !== undefined ? claims.iat + options.maxTokenAgeSeconds + skew : Infinity,
    );
    if (!Number.isFinite(until)) return;
    const arm = () => {
      const ms = until * 1000 - Date.now();
      if (ms <= 0) close(conn, CloseCode.FORBIDDEN, 'token expired');
      else conn.expiry = setTimeout(arm, Math.min(ms, MAX_TIMER_MS));
    };
    arm();
  }

  /**
   * Keep-alive, with one timer for all sockets: each tick pings the sockets of one round, and cuts
   * those that did not answer that round's last ping, a whole KEEPALIVE_MS ago (a peer gone
   * without a close). A timer and its closures per socket cost more than the socket's place here.
   */
  const rounds = Array.from({ length: Math.ceil(KEEPALIVE_MS / KEEPALIVE_TICK_MS) }, () => new Set<WebSocket>());
  const unanswered = new Set<WebSocket>();
  let round = 0;
  const keepAlive = setInterval(() => {
    round = (round + 1) % rounds.length;
    const silent: WebSocket[] = [];
    for (const socket of rounds[round] ?? []) {
      if (unanswered.has(socket)) {
        silent.push(socket);
        continue;
      }
      unanswered.add(socket);
      socket.ping();
    }
    // Judged once this turn's input is read: timers run before it, so after a stall longer than
    // the period (a heap snapshot, a long collection) a pong already received is not read yet.
    if (silent.length > 0) {
      setImmediate(() => {
        for (const socket of silent) {
          if (unanswered.has(socket)) {
            socket.terminate();
          } else if (socket.readyState === socket.OPEN) {
            unanswered.add(socket);
            socket.ping();
          }
        }
      });
    }
  }, KEEPALIVE_TICK_MS);
  keepAlive.unref();
  function answered(this: WebSocket): void {
    unanswered.delete(this);
  }

  wss.on('connection', (socket: WebSocket, request: http.IncomingMessage) => {
    sockets.add(socket);
    // Its first ping a whole period from now: the round that was just pinged.
    rounds[round]?.add(socket);
    socket.on('pong', answered);
    // Messages wait in a queue and are handled one per turn of the event loop (see pump below).
    const queue: Buffer[] = [];
    let pumping = false;
    let throttled: NodeJS.Timeout | undefined;
    const resumeIfDue = () => {
      if (throttled === undefined && queue.length <= MAX_QUEUED_MESSAGES / 4 && socket.isPaused) socket.resume();
    };
    const forwarded = request.headers['x-forwarded-for'];
    const conn: Connection = {
      id: flatUuid(),
      socket,
      request: { headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded }, socket: request.socket },
      round,
      viewer: undefined,
      expiry: undefined,
      subscriptions: () => 0,
      refused: undefined,
      started: undefined,
      frames: new NextFrames(),
      throttle: (seconds) => {
        // Whatever else the client sends waits in its own TCP buffers, at no cost here, until the budget has room again.
        socket.pause();
        clearTimeout(throttled);
        throttled = setTimeout(
          () => {
            throttled = undefined;
            resumeIfDue();
          },
          Math.min(seconds * 1000, MAX_THROTTLE_MS),
        );
        throttled.unref();
      },
    };

    socket.on('error', (err) => logger.debug({ err, connectionId: conn.id }, 'WebSocket error'));
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) {
              resolve();
              return;
            }
            socket.send(conn.frames.take(data), (err) => (err ? reject(err) : resolve()));
          }),
        close: (code, reason) => close(socket, code ?? 1000, reason ?? ''),
        onMessage: (cb) => {
          /**
           * Handles the queued messages in order, one per turn of the event loop: a socket with a
           * burst of messages to parse cannot hold the process while other sockets, other users'
           * requests and the LISTEN heartbeat wait. Every message after connection_init is one
           * operation of the user's budget (RATE_LIMIT_PER_MINUTE, shared with their HTTP
           * requests); over it, a subscribe is refused with RATE_LIMITED (by onSubscribe, which
           * graphql-ws calls synchronously from `cb`) and the socket is not read until the budget
           * has room again.
           */
          const pump = async () => {
            pumping = true;
            try {
              for (let data = queue.shift(); data !== undefined; data = queue.shift()) {
                resumeIfDue();
                if (conn.viewer && options.context.rateLimit) {
                  await options.context.rateLimit(conn.request, conn.viewer.id).catch((err: unknown) => {
                    if (!(err instanceof RateLimited)) throw err;
                    conn.refused = err;
                    conn.throttle(err.retryAfterSeconds);
                  });
                }
                if (socket.readyState !== socket.OPEN) break;
                cb(data.toString('utf8')).catch((err: unknown) => {
                  logger.error({ err, connectionId: conn.id }, 'WebSocket message handling failed');
                  close(socket, CloseCode.INTERNAL_ERROR, 'internal server error');
                });
                conn.refused = undefined;
                await new Promise((resolve) => setImmediate(resolve));
              }
            } finally {
              pumping = false;
            }
          };
          socket.on('message', (data: Buffer) => {
            queue.push(data);
            if (queue.length >= MAX_QUEUED_MESSAGES) socket.pause();
            if (!pumping)
              pump().catch((err: unknown) => {
                logger.error({ err, connectionId: conn.id }, 'WebSocket message handling failed');
                close(socket, CloseCode.INTERNAL_ERROR, 'internal server error');
              });
          });
        },
      },
      conn,
    );
    socket.once('close', (code, reason) => {
      rounds[conn.round]?.delete(socket);
      unanswered.delete(socket);
      clearTimeout(throttled);
      queue.length = 0;
      sockets.delete(socket);
      closed(code, reason.toString()).catch((err: unknown) => logger.error({ err }, 'WebSocket cleanup failed'));
    });
  });

  const reject = (socket: Duplex, status: number, text: string, headers = '') => {
    socket.end(`HTTP/1.1 ${status} ${text}\r\n${headers}Connection: close\r\nContent-Length: 0\r\n\r\n`);
  };

  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    if ((q === -1 ? url : url.slice(0, q)) !== options.path) {
      reject(socket, 404, 'Not Found');
      return;
    }
    if (stopping) {
      reject(socket, 503, 'Service Unavailable');
      return;
    }
    if (sockets.size >= options.maxSockets) {
      // Refused before the upgrade: graphql-ws clients retry with backoff, and HTTP keeps its room.
      if (!full) logger.warn({ maxSockets: options.maxSockets }, 'WebSocket limit reached: refusing new sockets with 503');
      full = true;
      reject(socket, 503, 'Service Unavailable', `Retry-After: ${FULL_RETRY_AFTER_SECONDS}\r\n`);
      return;
    }
    full = false;
    if (options.overloaded?.()) {
      logger.warn('overloaded: refusing new WebSockets with 503');
      reject(socket, 503, 'Service Unavailable', `Retry-After: ${OVERLOAD_RETRY_AFTER_SECONDS}\r\n`);
      return;
    }
    // Browsers let any page open a WebSocket to any host: only pages of trusted origins may.
    // (Tokens travel in the messages, not in cookies, so this is about who may hold sockets here.)
    const origin = req.headers.origin;
    if (origin !== undefined && !options.trustedOrigins.includes(origin)) {
      logger.info({ origin }, 'refused a WebSocket from an untrusted origin');
      reject(socket, 403, 'Forbidden');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  };
  options.httpServer.on('upgrade', onUpgrade);

  return {
    closeUser(userId, code, reason) {
      for (const conn of byUser.get(userId) ?? []) close(conn, code, reason);
    },
    closeAll(code, reason) {
      for (const socket of sockets) close(socket, code, reason);
    },
    get size() {
      return sockets.size;
    },
    stop() {
      return (stopped ??= (async () => {
        stopping = true;
        clearInterval(keepAlive);
        options.httpServer.off('upgrade', onUpgrade);
        // ws sends the close frame after whatever is already queued on the socket.
        for (const socket of sockets) close(socket, CloseCode.GOING_AWAY, 'server shutting down');
        // Clients answer the close frame at once; one that does not is cut after a bound.
        const deadline = Date.now() + 2_000;
        while (sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        for (const socket of sockets) socket.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      })());
    },
  };
}
