import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { z } from 'zod';

/**
 * Everything the server reads from its environment, parsed once. This module is the only reader
 * of `process.env` (lint enforces it); everything else receives a `Config`.
 */
export interface Config {
  nodeEnv: 'development' | 'test' | 'production';
  host: string;
  port: number;
  /** Unset means: run an embedded PostgreSQL whose data lives in `dataDir`. May be a transaction pooler. */
  databaseUrl: string | undefined;
  /**
   * A direct connection (no pooler) for what needs a session: migrations and their lock, the
   * LISTEN connection, terminating this instance's backends at shutdown. Unset: `databaseUrl`.
   */
  databaseUrlUnpooled: string | undefined;
  /** Absolute folder for the embedded cluster and the generated development secret. */
  dataDir: string;
  /** Port of the embedded PostgreSQL; unset picks a free one at each start. */
  embeddedPostgresPort: number | undefined;
  logLevel: LogLevel;
  auth: {
    /**
     * Where tokens come from: `embedded` (Better Auth in this process), `remote-jwks` (a Better
     * Auth elsewhere, keys from AUTH_JWKS_URL) or `shared-secret` (HS256 with AUTH_JWT_SECRET).
     */
    mode: AuthMode;
    /** Better Auth's secret (embedded mode only; empty otherwise). */
    secret: string;
    /** Public URL of the server (Better Auth's base URL in embedded mode). */
    baseUrl: string;
    /** Required `iss` and `aud` of accepted tokens (embedded: Better Auth issues them so too). */
    issuer: string;
    audience: string;
    /** Remote-JWKS mode: the key set URL, the only URL a token can make this server fetch. */
    jwksUrl: string | undefined;
    /** Shared-secret mode: the HS256 key. */
    jwtSecret: string | undefined;
    clockSkewSeconds: number;
    /** Tokens issued (`iat`) longer ago than this are refused, whatever their `exp`. */
    maxTokenAgeSeconds: number;
    /** Least time between two key-set reloads caused by tokens naming an unknown key. */
    jwksCooldownSeconds: number;
    /** Embedded mode: lifetime of the JWTs Better Auth issues (`exp` - `iat`). */
    jwtLifetimeSeconds: number;
    /** Embedded mode: Better Auth's signing-key rotation; undefined keeps one key. */
    keyRotation: { intervalSeconds: number; gracePeriodSeconds: number } | undefined;
    /** Origins allowed to call `/api/auth` from a browser (Better Auth's CSRF origin check). */
    trustedOrigins: string[];
    /** Reverse proxies whose `X-Forwarded-For` is believed (rate limiting keys on the client IP). */
    trustedProxies: string[];
  };
  graphql: {
    /** Schema introspection and the Apollo Sandbox landing page. */
    introspection: boolean;
    /** Limits checked on every operation before it runs (HTTP and WebSocket alike). */
    limits: { maxAliases: number; maxTokens: number; maxDepth: number; maxDirectives: number; maxCost: number };
    /** Trusted documents: the manifest of the operations this API's own clients were built with. */
    persistedDocuments: {
      /** Absolute path of the manifest (PERSISTED_DOCUMENTS_FILE); undefined: no document is listed. */
      file: string | undefined;
      /** Only listed documents, sent by id, run (PERSISTED_DOCUMENTS_ONLY=true); never in development. */
      only: boolean;
      /** PERSISTED_DOCUMENTS_ONLY=true was set with NODE_ENV=development, where it does not apply. */
      onlyIgnored: boolean;
    };
  };
  rateLimit: {
    /**
     * Operations per minute per user (or per client address when anonymous): HTTP requests and
     * WebSocket messages together; 0 turns it off.
     */
    perMinute: number;
    /**
     * Bytes of GraphQL documents (the text parsed and validated) per minute per user or client
     * address, HTTP and WebSocket together, on each instance; 0 turns it off.
     */
    bytesPerMinute: number;
    store: 'memory' | 'redis';
    /** Required with store `redis`. */
    redisUrl: string | undefined;
  };
  db: {
    /** Connections in the one pool of the application. */
    poolSize: number;
    /** Connections one user's statements may hold at once; the rest of their work waits its turn. */
    maxPerUser: number;
    /** Page reads in flight at once; past that, pages of one shape wait and are read together. */
    pageConcurrency: number;
    /** Text searches running at once, in slots of their own. */
    searchConcurrency: number;
    /** Batched task writes (creates, updates without text) in flight at once; past that, waiting writes of one kind are sent together. */
    writeConcurrency: number;
    /** Bound on opening a connection. */
    connectTimeoutMs: number;
    /** Bound on waiting for a free connection of the pool. */
    acquireTimeoutMs: number;
    /** PostgreSQL's statement_timeout (and lock_timeout) of every statement of the pools. */
    statementTimeoutMs: number;
    /** Hot queries as named prepared statements (off behind poolers that cannot carry them). */
    preparedStatements: boolean;
  };
  /** On SIGTERM: drain for at most this long, then cancel and roll back what still runs, then exit. */
  shutdownTimeoutMs: number;
  ws: {
    /** Open subscription sockets one user may hold; more are closed with 4429. */
    maxConnectionsPerUser: number;
    /** Subscriptions one user may hold at once over all their sockets; more are refused (QUOTA_EXCEEDED). */
    maxSubscriptionsPerUser: number;
  };
  idempotency: {
    /** Responses of idempotent requests larger than this are not kept (not replayable). */
    maxResponseBytes: number;
    /** Unexpired Idempotency-Keys one user may hold; a new one past it is refused (QUOTA_EXCEEDED). */
    maxKeysPerUser: number;
  };
  /** Prefix of the rate limiter's keys in Redis: instances sharing one budget share the prefix. */
  rateLimitKeyPrefix: string;
  /**
   * Open client connections (HTTP and WebSocket together); undefined: what the open-file limit
   * allows (src/http/capacity.ts).
   */
  httpMaxConnections: number | undefined;
  taskEvents: {
    /** How long task changes are kept, and `taskEvents(after:)` cursors accepted. */
    retentionSeconds: number;
    /** How often an instance with subscribers reads the change log for them. */
    pollIntervalMs: number;
  };
  quotas: {
    /** Tasks one user may store; creates past it are refused with QUOTA_EXCEEDED. */
    maxTasksPerUser: number;
    /** Bytes (UTF-8) of title and description one user may store, all tasks together. */
    maxTaskTextBytesPerUser: number;
  };
  /**
   * Overload shedding (src/http/overload.ts): new requests are refused with 503 while the event
   * loop runs later than `maxEventLoopDelayMs`, or while database work has queued longer than
   * `maxDbWaitMs`; 0 turns a measure off (both are off by default under NODE_ENV=test).
   */
  overload: { maxEventLoopDelayMs: number; maxDbWaitMs: number };
  /** Prometheus metrics on a listener of their own (HOST:port/metrics); port 0: no metrics at all. */
  metrics: { port: number };
  /** OpenTelemetry traces over OTLP/HTTP; undefined (the default) when no exporter is configured. */
  tracing: TracingConfig | undefined;
}

/** The standard OTEL_* variables this server reads, resolved (see docs/observability.md). */
export interface TracingConfig {
  /** Full URL spans are POSTed to, e.g. http://collector:4318/v1/traces. */
  url: string;
  protocol: 'http/protobuf' | 'http/json';
  /** Extra headers of every export request (OTEL_EXPORTER_OTLP_HEADERS: API keys of hosted backends). */
  headers: Record<string, string>;
  /** Bound on one export request. */
  timeoutMs: number;
  /** Resource attributes: service.name and whatever OTEL_RESOURCE_ATTRIBUTES adds. */
  resource: Record<string, string>;
  sampler: { name: TracesSampler; ratio: number };
  /** The batch span processor's settings (OTEL_BSP_*). */
  batch: { scheduledDelayMs: number; exportTimeoutMs: number; maxQueueSize: number; maxExportBatchSize: number };
}

export type LogLevel = z.infer<typeof logLevel>;
export type AuthMode = z.infer<typeof authMode>;
export type TracesSampler = z.infer<typeof tracesSampler>;
const tracesSampler = z.enum([
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
]);
const authMode = z.enum(['embedded', 'remote-jwks', 'shared-secret']);
const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export const projectRoot = path.resolve(import.meta.dirname, '..');

/** Thrown with every problem found, so that one run shows them all. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const list = z
  .string()
  .optional()
  .transform((s) =>
    (s ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  );

const origins = list.superRefine((values, ctx) => {
  for (const origin of values) {
    if (!URL.canParse(origin) || new URL(origin).origin !== origin) {
      ctx.addIssue({ code: 'custom', message: `"${origin}" is not an origin like https://app.example.com (no path, no trailing slash)` });
    }
  }
});

/** An IP address or a CIDR range, as Better Auth matches them (it ignores other entries with a warning only). */
function isIpOrRange(entry: string): boolean {
  const [ip = '', prefix, ...rest] = entry.split('/');
  const family = isIP(ip);
  if (family === 0 || rest.length > 0) return false;
  return prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

const proxies = list.superRefine((values, ctx) => {
  for (const entry of values) {
    if (!isIpOrRange(entry)) ctx.addIssue({ code: 'custom', message: `"${entry}" is not an IP address or a CIDR range like 10.0.0.0/24` });
  }
});

const boolean = z
  .enum(['true', 'false', '1', '0'])
  .optional()
  .transform((s) => (s === undefined ? undefined : s === 'true' || s === '1'));

const postgresUrl = z.string().refine((s) => /^postgres(ql)?:\/\/[^/]/.test(s) && URL.canParse(s), {
  message: 'must be a postgres:// or postgresql:// URL, for example postgres://user:pass@host:5432/db',
});

const httpUrl = (whenMissing?: string) =>
  z.url({ protocol: /^https?$/, error: (issue) => (issue.input === undefined && whenMissing ? whenMissing : 'must be an http:// or https:// URL') });

const GENERATE = 'generate one with `openssl rand -base64 32`';

const otlpProtocol = z.enum(['http/protobuf', 'http/json', 'grpc']).refine((p) => p !== 'grpc', {
  message: 'grpc is not supported: use http/protobuf (port 4318 of a collector) or http/json',
});

/** `key1=value1,key2=value2` with URL-encoded values (OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES). */
const keyValues = z.string().transform((s, ctx) => {
  const pairs: Record<string, string> = {};
  for (const entry of s.split(',')) {
    if (entry.trim() === '') continue;
    const eq = entry.indexOf('=');
    const key = eq > 0 ? entry.slice(0, eq).trim() : '';
    if (key === '') {
      ctx.addIssue({ code: 'custom', message: `"${entry.trim()}" is not key=value` });
      return z.NEVER;
    }
    try {
      pairs[key] = decodeURIComponent(entry.slice(eq + 1).trim());
    } catch {
      ctx.addIssue({ code: 'custom', message: `the value of ${key} is not URL-encoded correctly` });
      return z.NEVER;
    }
  }
  return pairs;
});

/**
 * Settings that mean the same whatever AUTH_MODE is. (The per-mode ones are in `authSchema`.)
 * New settings go at the end.
 */
const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  DATABASE_URL: postgresUrl.optional(),
  DATA_DIR: z.string().min(1).optional(),
  EMBEDDED_POSTGRES_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  LOG_LEVEL: logLevel.default('info'),
  TRUSTED_ORIGINS: origins,
  TRUSTED_PROXIES: proxies,
  GRAPHQL_INTROSPECTION: boolean,
  AUTH_CLOCK_SKEW_SECONDS: z.coerce.number().int().min(0).max(300).default(30),
  AUTH_MAX_TOKEN_AGE_SECONDS: z.coerce.number().int().min(60).default(3600),
  AUTH_JWKS_COOLDOWN_SECONDS: z.coerce.number().min(0).max(3600).optional(),
  GRAPHQL_MAX_ALIASES: z.coerce.number().int().min(1).default(30),
  GRAPHQL_MAX_TOKENS: z.coerce.number().int().min(100).default(10_000),
  GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(2).default(10),
  GRAPHQL_MAX_DIRECTIVES: z.coerce.number().int().min(1).default(20),
  GRAPHQL_MAX_COST: z.coerce.number().int().min(1).default(5000),
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).optional(),
  RATE_LIMIT_STORE: z.enum(['memory', 'redis']).default('memory'),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(1000).default(10),
  DB_PAGE_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(2),
  DB_SEARCH_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(2),
  DB_WRITE_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(2),
  DB_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).default(3000),
  DB_POOL_ACQUIRE_TIMEOUT_MS: z.coerce.number().int().min(100).default(3000),
  DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).default(5000),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  WS_MAX_CONNECTIONS_PER_USER: z.coerce.number().int().min(1).default(20),
  RATE_LIMIT_KEY_PREFIX: z.string().min(1).max(100).default('taskgraph:rl'),
  HTTP_MAX_CONNECTIONS: z.coerce.number().int().min(10).max(10_000_000).optional(),
  PERSISTED_DOCUMENTS_FILE: z.string().min(1).optional(),
  PERSISTED_DOCUMENTS_ONLY: boolean,
  RATE_LIMIT_BYTES_PER_MINUTE: z.coerce.number().int().min(0).optional(),
  WS_MAX_SUBSCRIPTIONS_PER_USER: z.coerce.number().int().min(1).default(50),
  TASK_EVENTS_RETENTION_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(366 * 86_400)
    .default(86_400),
  TASK_EVENTS_POLL_INTERVAL_MS: z.coerce.number().int().min(5).max(10_000).default(20),
  DB_POOL_MAX_PER_USER: z.coerce.number().int().min(1).max(1000).optional(),
  MAX_TASKS_PER_USER: z.coerce.number().int().min(1).max(2_000_000_000).default(10_000),
  MAX_TASK_TEXT_BYTES_PER_USER: z.coerce
    .number()
    .int()
    .min(1)
    .max(Number.MAX_SAFE_INTEGER)
    .default(10 * 1024 * 1024),
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  // OpenTelemetry's own names and defaults (the SDK environment variable specification).
  OTEL_SDK_DISABLED: boolean,
  OTEL_TRACES_EXPORTER: z
    .enum(['otlp', 'none'], { error: 'must be otlp or none (console, zipkin and jaeger exporters are not included)' })
    .optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl().optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: httpUrl().optional(),
  OTEL_EXPORTER_OTLP_PROTOCOL: otlpProtocol.optional(),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: otlpProtocol.optional(),
  OTEL_EXPORTER_OTLP_HEADERS: keyValues.optional(),
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: keyValues.optional(),
  OTEL_EXPORTER_OTLP_TIMEOUT: z.coerce.number().int().min(1).optional(),
  OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: z.coerce.number().int().min(1).optional(),
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
  OTEL_RESOURCE_ATTRIBUTES: keyValues.optional(),
  OTEL_TRACES_SAMPLER: tracesSampler.optional(),
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).optional(),
  OTEL_BSP_SCHEDULE_DELAY: z.coerce.number().int().min(0).default(5000),
  OTEL_BSP_EXPORT_TIMEOUT: z.coerce.number().int().min(1).default(30_000),
  OTEL_BSP_MAX_QUEUE_SIZE: z.coerce.number().int().min(1).default(2048),
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: z.coerce.number().int().min(1).default(512),
  IDEMPOTENCY_MAX_RESPONSE_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(64 * 1024),
  IDEMPOTENCY_MAX_KEYS_PER_USER: z.coerce.number().int().min(1).default(1000),
  DATABASE_URL_UNPOOLED: postgresUrl.optional(),
  DB_PREPARED_STATEMENTS: boolean,
  OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: z.coerce.number().int().min(0).max(60_000).optional(),
  OVERLOAD_MAX_DB_WAIT_MS: z.coerce.number().int().min(0).max(60_000).optional(),
});

/** A variable the mode does not use: refused, because it would be silently ignored. */
const onlyWith = (mode: AuthMode, actual: AuthMode) => z.never({ error: `only used with AUTH_MODE=${mode} (AUTH_MODE is ${actual})` }).optional();

/** Better Auth does not run in this process: its variables would be silently ignored, so say so. */
const betterAuthOnly = (actual: AuthMode) => ({
  BETTER_AUTH_SECRET: onlyWith('embedded', actual),
  BETTER_AUTH_URL: onlyWith('embedded', actual),
  AUTH_KEY_ROTATION_SECONDS: onlyWith('embedded', actual),
  AUTH_KEY_GRACE_SECONDS: onlyWith('embedded', actual),
  AUTH_JWT_LIFETIME_SECONDS: onlyWith('embedded', actual),
});

/** Tokens from another issuer must name it and this API exactly. */
const issuerClaims = (actual: AuthMode) => {
  const claim = z.string({ error: `required with AUTH_MODE=${actual}: tokens must carry this exact value` }).min(1);
  return { AUTH_ISSUER: claim, AUTH_AUDIENCE: claim };
};

/** What each AUTH_MODE needs and refuses; one branch is checked, chosen by AUTH_MODE. */
const authSchema = z.discriminatedUnion(
  'AUTH_MODE',
  [
    z.object({
      AUTH_MODE: z.literal('embedded').default('embedded'),
      BETTER_AUTH_SECRET: z.string().optional(),
      BETTER_AUTH_URL: httpUrl().optional(),
      AUTH_ISSUER: z.string().min(1).optional(),
      AUTH_AUDIENCE: z.string().min(1).optional(),
      AUTH_KEY_ROTATION_SECONDS: z.coerce.number().int().positive().optional(),
      AUTH_KEY_GRACE_SECONDS: z.coerce.number().int().positive().optional(),
      AUTH_JWT_LIFETIME_SECONDS: z.coerce.number().int().min(5).max(86_400).optional(),
      AUTH_JWKS_URL: onlyWith('remote-jwks', 'embedded'),
      AUTH_JWT_SECRET: onlyWith('shared-secret', 'embedded'),
    }),
    z.object({
      AUTH_MODE: z.literal('remote-jwks'),
      ...betterAuthOnly('remote-jwks'),
      AUTH_JWKS_URL: httpUrl("required with AUTH_MODE=remote-jwks: the URL of the issuer's JWKS, e.g. https://app.example.com/api/auth/jwks"),
      ...issuerClaims('remote-jwks'),
      AUTH_JWT_SECRET: onlyWith('shared-secret', 'remote-jwks'),
    }),
    z.object({
      AUTH_MODE: z.literal('shared-secret'),
      ...betterAuthOnly('shared-secret'),
      AUTH_JWKS_URL: onlyWith('remote-jwks', 'shared-secret'),
      AUTH_JWT_SECRET: z.string({ error: 'required with AUTH_MODE=shared-secret; at least 32 random characters' }).superRefine((secret, ctx) => {
        const weakness = secretWeakness(secret);
        if (weakness) ctx.addIssue({ code: 'custom', message: `${weakness}; ${GENERATE}` });
      }),
      ...issuerClaims('shared-secret'),
    }),
  ],
  { error: `must be one of ${authMode.options.join(', ')}` },
);

/**
 * Every environment variable the server reads, taken from the schemas above so that it cannot
 * drift from them. `test/config-docs.test.ts` holds `.env.example`, `docker-compose.yml` and
 * `docs/configuration.md` to exactly this list.
 */
export const CONFIG_VARIABLES: readonly string[] = [
  ...new Set([...Object.keys(envSchema.shape), ...authSchema.options.flatMap((branch) => Object.keys(branch.shape))]),
].sort();

/**
 * The whole environment: the common settings, the AUTH_MODE branch, and the rules that depend on
 * NODE_ENV. Those run even when other variables are invalid (`when`), on whatever did parse, so
 * that one run names every problem: `PORT=x` in production still reports the missing secret.
 */
function configSchema(hasDevSecret: boolean) {
  return z.intersection(envSchema, authSchema).superRefine(
    (parsed, ctx) => {
      // Possibly partial here (see above): read each value as unknown.
      const e = parsed as Partial<Record<string, unknown>>;
      const problem = (variable: string, message: string) => ctx.addIssue({ code: 'custom', path: [variable], message });
      const production = e['NODE_ENV'] === 'production';
      const mode = e['AUTH_MODE'] ?? 'embedded';
      if (mode === 'embedded') {
        const secret = e['BETTER_AUTH_SECRET'];
        if (secret === undefined && (production || !hasDevSecret)) {
          problem(
            'BETTER_AUTH_SECRET',
            `${production ? 'required in production' : 'required (no development secret is generated here)'}; ${GENERATE}`,
          );
        } else if (typeof secret === 'string' && production) {
          const weakness = secretWeakness(secret);
          if (weakness) problem('BETTER_AUTH_SECRET', `${weakness}; ${GENERATE}`);
        }
        if (production && e['BETTER_AUTH_URL'] === undefined) {
          problem('BETTER_AUTH_URL', 'required in production: the public URL of this server, e.g. https://api.example.com');
        }
      }
      const jwksUrl = e['AUTH_JWKS_URL'];
      if (mode === 'remote-jwks' && production && typeof jwksUrl === 'string' && URL.canParse(jwksUrl) && new URL(jwksUrl).protocol !== 'https:') {
        problem('AUTH_JWKS_URL', 'must be https in production');
      }
      if (typeof e['METRICS_PORT'] === 'number' && e['METRICS_PORT'] !== 0 && e['METRICS_PORT'] === e['PORT']) {
        problem('METRICS_PORT', 'must differ from PORT: metrics have a listener of their own, never the public one (0 turns them off)');
      }
      const queue = e['OTEL_BSP_MAX_QUEUE_SIZE'];
      const batch = e['OTEL_BSP_MAX_EXPORT_BATCH_SIZE'];
      if (typeof queue === 'number' && typeof batch === 'number' && batch > queue) {
        problem('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', `must be at most OTEL_BSP_MAX_QUEUE_SIZE (${queue})`);
      }
      if (e['RATE_LIMIT_STORE'] === 'redis' && e['REDIS_URL'] === undefined) {
        problem('REDIS_URL', 'required with RATE_LIMIT_STORE=redis, e.g. redis://127.0.0.1:6379');
      }
      if (e['PERSISTED_DOCUMENTS_ONLY'] === true && e['PERSISTED_DOCUMENTS_FILE'] === undefined) {
        problem(
          'PERSISTED_DOCUMENTS_FILE',
          "required with PERSISTED_DOCUMENTS_ONLY=true: the persisted-documents.json your clients' build wrote (GraphQL Code Generator's client preset)",
        );
      }
      const unpooled = e['DATABASE_URL_UNPOOLED'];
      if (typeof unpooled === 'string') {
        if (e['DATABASE_URL'] === undefined) {
          problem('DATABASE_URL_UNPOOLED', 'only used with DATABASE_URL (the embedded PostgreSQL needs no second URL)');
        } else if (URL.canParse(unpooled) && new URL(unpooled).hostname.includes('-pooler')) {
          // Neon's pooled endpoint: a LISTEN there succeeds and then never hears a notification.
          problem(
            'DATABASE_URL_UNPOOLED',
            `host "${new URL(unpooled).hostname}" is a pooled endpoint ("-pooler"); give the direct one, the same host without "-pooler"`,
          );
        }
      }
    },
    { when: () => true },
  );
}
const schemas = { withDevSecret: configSchema(true), withoutDevSecret: configSchema(false) };

const LOCAL_HOSTS = new Set(['127.0.0.1', '0.0.0.0', '::', '::1', 'localhost']);

/** How a browser on this machine names a host the server binds to. */
export function publicHostname(host: string): string {
  if (LOCAL_HOSTS.has(host)) return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

/** Minimum a production secret must have: 32 characters that look random. */
export function secretWeakness(secret: string): string | undefined {
  if (secret.length < 32) return `is ${secret.length} characters long; at least 32 are required`;
  // Shannon entropy of the characters is a rough lower bound of the randomness: it catches
  // repeated, patterned and dictionary-like values without rejecting base64 or hex output.
  const counts = new Map<string, number>();
  for (const ch of secret) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bitsPerChar = 0;
  for (const n of counts.values()) {
    const p = n / secret.length;
    bitsPerChar -= p * Math.log2(p);
  }
  if (bitsPerChar * secret.length < 128) return 'does not look random enough';
  return undefined;
}

/**
 * Parses an environment and reports every problem in one `ConfigError`, in every environment.
 * Pure apart from `devSecret`, which `loadConfig` passes to generate and keep a development
 * secret: without it, a missing BETTER_AUTH_SECRET is a problem in development too.
 */
export function parseConfig(env: Record<string, string | undefined>, devSecret?: (dataDir: string) => string): Config {
  // `VAR=` in a .env file or a shell means "not set", as most tools read it.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = (devSecret ? schemas.withDevSecret : schemas.withoutDevSecret).safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.length > 0 ? String(i.path[0]) : '(env)'}: ${i.message}`));
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  const dataDir = path.resolve(projectRoot, e.DATA_DIR ?? '.data');
  const embedded = e.AUTH_MODE === 'embedded' ? e : undefined;
  // The schema refused a missing secret when there is no generator (so `''` is never reached).
  const secret = embedded ? (embedded.BETTER_AUTH_SECRET ?? devSecret?.(dataDir) ?? '') : '';
  const baseUrl = embedded?.BETTER_AUTH_URL ?? `http://${publicHostname(e.HOST)}:${e.PORT}`;
  const baseOrigin = new URL(baseUrl).origin;
  const devOrigins = production ? [] : ['http://localhost:3000', 'http://localhost:5173'];
  // Development keeps running text, so that Apollo Sandbox works; the app warns when the switch is set there.
  const development = e.NODE_ENV === 'development';
  const onlyPersisted = e.PERSISTED_DOCUMENTS_ONLY ?? false;
  return {
    nodeEnv: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    databaseUrlUnpooled: e.DATABASE_URL_UNPOOLED,
    dataDir,
    embeddedPostgresPort: e.EMBEDDED_POSTGRES_PORT,
    logLevel: e.LOG_LEVEL,
    auth: {
      mode: e.AUTH_MODE,
      secret,
      baseUrl,
      issuer: e.AUTH_ISSUER ?? baseOrigin,
      audience: e.AUTH_AUDIENCE ?? baseOrigin,
      jwksUrl: e.AUTH_MODE === 'remote-jwks' ? e.AUTH_JWKS_URL : undefined,
      jwtSecret: e.AUTH_MODE === 'shared-secret' ? e.AUTH_JWT_SECRET : undefined,
      clockSkewSeconds: e.AUTH_CLOCK_SKEW_SECONDS,
      maxTokenAgeSeconds: e.AUTH_MAX_TOKEN_AGE_SECONDS,
      // In process, a reload is one query: allow one a second. Remotely, be gentle (jose's default).
      jwksCooldownSeconds: e.AUTH_JWKS_COOLDOWN_SECONDS ?? (embedded ? 1 : 30),
      jwtLifetimeSeconds: embedded?.AUTH_JWT_LIFETIME_SECONDS ?? 900,
      keyRotation: embedded?.AUTH_KEY_ROTATION_SECONDS
        ? { intervalSeconds: embedded.AUTH_KEY_ROTATION_SECONDS, gracePeriodSeconds: embedded.AUTH_KEY_GRACE_SECONDS ?? 30 * 86_400 }
        : undefined,
      trustedOrigins: [...new Set([baseOrigin, ...devOrigins, ...e.TRUSTED_ORIGINS])],
      trustedProxies: e.TRUSTED_PROXIES,
    },
    graphql: {
      introspection: e.GRAPHQL_INTROSPECTION ?? !production,
      limits: {
        maxAliases: e.GRAPHQL_MAX_ALIASES,
        maxTokens: e.GRAPHQL_MAX_TOKENS,
        maxDepth: e.GRAPHQL_MAX_DEPTH,
        maxDirectives: e.GRAPHQL_MAX_DIRECTIVES,
        maxCost: e.GRAPHQL_MAX_COST,
      },
      persistedDocuments: {
        // Relative to the project folder, like DATA_DIR (the image's WORKDIR, /app).
        file: e.PERSISTED_DOCUMENTS_FILE === undefined ? undefined : path.resolve(projectRoot, e.PERSISTED_DOCUMENTS_FILE),
        only: onlyPersisted && !development,
        onlyIgnored: onlyPersisted && development,
      },
    },
    rateLimit: {
      // Far above what a person using an app sends; off by default only under NODE_ENV=test.
      perMinute: e.RATE_LIMIT_PER_MINUTE ?? (e.NODE_ENV === 'test' ? 0 : 600),
      // At most about 2.5 s of parsing a minute (0.3 s at once) for the costliest documents there
      // are (5 us a byte on a busy core); over a thousand of an app's own operations a minute.
      bytesPerMinute: e.RATE_LIMIT_BYTES_PER_MINUTE ?? (e.NODE_ENV === 'test' ? 0 : 512 * 1024),
      store: e.RATE_LIMIT_STORE,
      redisUrl: e.REDIS_URL,
    },
    db: {
      poolSize: e.DB_POOL_SIZE,
      // A third of the pool: two users stuck on locks still leave a third to everyone else.
      maxPerUser: Math.min(e.DB_POOL_SIZE, e.DB_POOL_MAX_PER_USER ?? Math.max(1, Math.floor(e.DB_POOL_SIZE / 3))),
      // Never more than the pool: the rest would only wait for a connection, unbatched.
      pageConcurrency: Math.min(e.DB_PAGE_CONCURRENCY, e.DB_POOL_SIZE),
      // Text searches scan a user's text: slots of their own, so that they never hold the pages' slots.
      searchConcurrency: Math.min(e.DB_SEARCH_CONCURRENCY, e.DB_POOL_SIZE),
      writeConcurrency: Math.min(e.DB_WRITE_CONCURRENCY, e.DB_POOL_SIZE),
      connectTimeoutMs: e.DB_CONNECT_TIMEOUT_MS,
      acquireTimeoutMs: e.DB_POOL_ACQUIRE_TIMEOUT_MS,
      statementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
      preparedStatements: e.DB_PREPARED_STATEMENTS ?? true,
    },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    ws: { maxConnectionsPerUser: e.WS_MAX_CONNECTIONS_PER_USER, maxSubscriptionsPerUser: e.WS_MAX_SUBSCRIPTIONS_PER_USER },
    idempotency: { maxResponseBytes: e.IDEMPOTENCY_MAX_RESPONSE_BYTES, maxKeysPerUser: e.IDEMPOTENCY_MAX_KEYS_PER_USER },
    rateLimitKeyPrefix: e.RATE_LIMIT_KEY_PREFIX,
    httpMaxConnections: e.HTTP_MAX_CONNECTIONS,
    taskEvents: { retentionSeconds: e.TASK_EVENTS_RETENTION_SECONDS, pollIntervalMs: e.TASK_EVENTS_POLL_INTERVAL_MS },
    quotas: { maxTasksPerUser: e.MAX_TASKS_PER_USER, maxTaskTextBytesPerUser: e.MAX_TASK_TEXT_BYTES_PER_USER },
    overload: {
      // Off under NODE_ENV=test unless asked for: a test machine's own hiccups would refuse requests.
      maxEventLoopDelayMs: e.OVERLOAD_MAX_EVENT_LOOP_DELAY_MS ?? (e.NODE_ENV === 'test' ? 0 : DEFAULT_MAX_EVENT_LOOP_DELAY_MS),
      maxDbWaitMs: e.OVERLOAD_MAX_DB_WAIT_MS ?? (e.NODE_ENV === 'test' ? 0 : DEFAULT_MAX_DB_WAIT_MS),
    },
    metrics: { port: e.METRICS_PORT },
    tracing: tracingConfig(e),
  };
}

/** Default OVERLOAD_MAX_EVENT_LOOP_DELAY_MS (see docs/limits.md#overload). */
export const DEFAULT_MAX_EVENT_LOOP_DELAY_MS = 100;
/** Default OVERLOAD_MAX_DB_WAIT_MS. */
export const DEFAULT_MAX_DB_WAIT_MS = 200;

/** OpenTelemetry's default collector address for OTLP over HTTP. */
const DEFAULT_OTLP_ENDPOINT = 'http://localhost:4318';

/**
 * Traces are exported only when asked for: an OTLP endpoint is set (or OTEL_TRACES_EXPORTER=otlp,
 * which means the local collector), and neither OTEL_SDK_DISABLED nor OTEL_TRACES_EXPORTER=none
 * says otherwise. Signal-specific variables (OTEL_EXPORTER_OTLP_TRACES_*) win over the general ones,
 * and a general endpoint gets `/v1/traces` appended, as the specification says.
 */
function tracingConfig(e: z.infer<typeof envSchema>): TracingConfig | undefined {
  const asked =
    e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined || e.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined || e.OTEL_TRACES_EXPORTER === 'otlp';
  if (!asked || e.OTEL_SDK_DISABLED === true || e.OTEL_TRACES_EXPORTER === 'none') return undefined;
  const base = e.OTEL_EXPORTER_OTLP_ENDPOINT ?? DEFAULT_OTLP_ENDPOINT;
  const url = e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? `${base.replace(/\/+$/, '')}/v1/traces`;
  const sampler = e.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on';
  return {
    url,
    // The specification's default; grpc was refused above.
    protocol: e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? e.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf',
    headers: { ...e.OTEL_EXPORTER_OTLP_HEADERS, ...e.OTEL_EXPORTER_OTLP_TRACES_HEADERS },
    timeoutMs: e.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT ?? e.OTEL_EXPORTER_OTLP_TIMEOUT ?? 10_000,
    resource: { ...e.OTEL_RESOURCE_ATTRIBUTES, 'service.name': e.OTEL_SERVICE_NAME ?? e.OTEL_RESOURCE_ATTRIBUTES?.['service.name'] ?? 'taskgraph' },
    sampler: { name: sampler, ratio: e.OTEL_TRACES_SAMPLER_ARG ?? 1 },
    batch: {
      scheduledDelayMs: e.OTEL_BSP_SCHEDULE_DELAY,
      exportTimeoutMs: e.OTEL_BSP_EXPORT_TIMEOUT,
      maxQueueSize: e.OTEL_BSP_MAX_QUEUE_SIZE,
      maxExportBatchSize: e.OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    },
  };
}

/** Reads `.env` (when present; real environment variables win) and the process environment. */
export function readEnvironment(): Record<string, string | undefined> {
  const file = path.join(projectRoot, '.env');
  const fromFile = existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {};
  // eslint-disable-next-line no-restricted-properties -- the one place that reads the environment
  return { ...fromFile, ...process.env };
}

/** The secret used in development when none is configured: generated once, kept in the data folder. */
export function developmentSecret(dataDir: string, warn: (message: string) => void): string {
  const file = path.join(dataDir, 'auth-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(32).toString('base64');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  warn(`BETTER_AUTH_SECRET is not set: generated one for development and saved it in ${file}`);
  return secret;
}

export function loadConfig(warn: (message: string) => void): Config {
  return parseConfig(readEnvironment(), (dataDir) => developmentSecret(dataDir, warn));
}
