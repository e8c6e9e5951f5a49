import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, stdSerializers, type DestinationStream, type Logger, type LoggerOptions, type LogFn } from 'pino';
import type { Config } from './config.ts';

export type { Logger };

/** Repeats of one warning or error within this window are counted, not written. */
export const REPEAT_WINDOW_MS = 10_000;

// Properties some errors carry that are no part of the failure: node-postgres puts its whole
// client (connection state, type tables: several KB) on errors it emits.
const NOISE = ['client', 'connection'];

/** pino's error serializer (message, type, stack, code, cause...) without the noise. */
export function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const serialized = stdSerializers.err(err) as unknown as Record<string, unknown>;
  return Object.fromEntries(Object.entries(serialized).filter(([key]) => !NOISE.includes(key)));
}

type Args = Parameters<LogFn>;

/** Distinct documents folded apart at once (see `documentHash` below); past it they share one line. */
const MAX_SUBJECTS = 1000;

/** The span a line belongs to, as OpenTelemetry's Span exposes it (this module imports no tracing). */
export interface TraceIds {
  spanContext(): { traceId: string; spanId: string; traceFlags: number };
}

/** What every line written while handling one request carries. */
export interface LogScope {
  readonly requestId: string;
  /** The current span, when tracing is on: lines get its `trace_id` and `span_id`. */
  readonly span?: TraceIds | undefined;
  /** `performance.now()` when the request arrived. */
  readonly startedAt: number;
}

/**
 * The request being handled, wherever the code runs: src/http/server.ts enters it for each
 * request, tracing replaces it with a child span's scope. Lines written outside any request
 * (start-up, the LISTEN connection) carry nothing of it.
 */
export const logScope = new AsyncLocalStorage<LogScope>();

/** The scope's fields of a line: `requestId`, and `trace_id`/`span_id` when tracing is on. */
export function scopeFields(scope: LogScope | undefined): Record<string, string> {
  if (!scope) return {};
  if (!scope.span) return { requestId: scope.requestId };
  const { traceId, spanId } = scope.span.spanContext();
  return { requestId: scope.requestId, trace_id: traceId, span_id: spanId };
}

/**
 * Turns a flood of one failure into a few lines: the first warning or error with a given message
 * and error code (or message) is written as it is; repeats within REPEAT_WINDOW_MS are counted,
 * and when the window closes one line says "<message> (repeated N times in the last 10 s)". A
 * database outage under load then writes a bounded number of lines however many requests fail.
 * Lines about an operation that carry its `documentHash` (refused trusted documents) are folded
 * per document, so that each distinct operation shows up once per window.
 * Request lines (src/http/server.ts's, which carry `res`) are never folded: one per request.
 */
export function repeatFilter(windowMs = REPEAT_WINDOW_MS) {
  const windows = new Map<string, { count: number; timer: NodeJS.Timeout }>();
  return function logMethod(this: Logger, args: Args, method: LogFn, level: number): void {
    const [first, second] = args as unknown[];
    const fields = typeof first === 'object' && first !== null ? (first as Record<string, unknown>) : undefined;
    if (level < 40 || !fields || 'res' in fields) {
      method.apply(this, args);
      return;
    }
    const message = typeof second === 'string' ? second : '';
    const err = (fields['err'] ?? {}) as { code?: unknown; message?: unknown };
    const cause = [err.code, err.message].find((v) => typeof v === 'string' || typeof v === 'number') ?? '';
    // A refused operation is folded per document: each distinct one gets its first line. While
    // too many distinct ones are open at once (a client sending random text), they fold together.
    const subject = typeof fields['documentHash'] === 'string' && windows.size < MAX_SUBJECTS ? fields['documentHash'] : '';
    const key = `${level}\u0000${message}\u0000${cause}\u0000${subject}`;
    const open = windows.get(key);
    if (open) {
      open.count++;
      return;
    }
    method.apply(this, args);
    const close = () => {
      const window = windows.get(key);
      if (!window || window.count === 0) {
        windows.delete(key);
        return;
      }
      const repeated = window.count;
      method.apply(this, [
        { ...fields, repeated, windowMs },
        `${message} (repeated ${repeated} times in the last ${Math.round(windowMs / 1000)} s)`,
      ] as unknown as Args);
      // Still happening: keep counting for one more window.
      window.count = 0;
      window.timer = setTimeout(close, windowMs).unref();
    };
    windows.set(key, { count: 0, timer: setTimeout(close, windowMs).unref() });
  };
}

/**
 * Structured JSON logs, one object per line (human-readable lines in development: pino-pretty
 * in a worker thread), with repeated warnings and errors folded (see `repeatFilter`). Written to
 * stdout, or to `destination`.
 */
export function createLogger(config: Pick<Config, 'logLevel' | 'nodeEnv'>, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level: config.logLevel,
    // Whatever is logged as `req` or `res` (a request line, or a raw IncomingMessage by mistake)
    // keeps only these fields: never headers, so never a token, cookie or set-auth-jwt. A list of
    // what may go out, cheaper per line than redacting what may not (pino's redact: 1.5% of CPU).
    serializers: {
      err: serializeError,
      req: (req: { id?: unknown; method?: unknown; url?: unknown }) => ({ id: req.id, method: req.method, url: req.url }),
      res: (res: { statusCode?: unknown }) => ({ statusCode: res.statusCode }),
    },
    hooks: { logMethod: repeatFilter() },
    // The request (and span) of whatever is being handled, without passing loggers around.
    mixin: () => scopeFields(logScope.getStore()),
    ...(config.nodeEnv === 'development' && !destination
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }
      : {}),
  };
  return destination ? pino(options, destination) : pino(options);
}
