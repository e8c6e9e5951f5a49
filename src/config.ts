import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  /** Unset means: run an embedded PostgreSQL whose data lives in `dataDir`. */
  databaseUrl: string | undefined;
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
    /** Lifetime of the JWTs Better Auth issues (embedded mode). */
    jwtLifetimeSeconds: number;
    /** Tokens issued (`iat`) longer ago than this are refused, whatever their `exp`. */
    maxTokenAgeSeconds: number;
    /** Least time between two key-set reloads caused by tokens naming an unknown key. */
    jwksCooldownSeconds: number;
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
  };
}

export type LogLevel = z.infer<typeof logLevel>;
export type AuthMode = z.infer<typeof authMode>;
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

const boolean = z
  .enum(['true', 'false', '1', '0'])
  .optional()
  .transform((s) => (s === undefined ? undefined : s === 'true' || s === '1'));

const postgresUrl = z
  .string()
  .refine((s) => /^postgres(ql)?:\/\/[^/]/.test(s) && URL.canParse(s), {
    message: 'must be a postgres:// or postgresql:// URL, for example postgres://user:pass@host:5432/db',
  });

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  DATABASE_URL: postgresUrl.optional(),
  DATA_DIR: z.string().min(1).optional(),
  EMBEDDED_POSTGRES_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  LOG_LEVEL: logLevel.default('info'),
  BETTER_AUTH_SECRET: z.string().optional(),
  BETTER_AUTH_URL: z.url({ protocol: /^https?$/ }).optional(),
  TRUSTED_ORIGINS: list,
  TRUSTED_PROXIES: list,
  GRAPHQL_INTROSPECTION: boolean,
  AUTH_MODE: authMode.default('embedded'),
  AUTH_JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
  AUTH_ISSUER: z.string().min(1).optional(),
  AUTH_AUDIENCE: z.string().min(1).optional(),
  AUTH_JWT_SECRET: z.string().optional(),
  AUTH_CLOCK_SKEW_SECONDS: z.coerce.number().int().min(0).max(300).default(30),
  AUTH_JWT_LIFETIME_SECONDS: z.coerce.number().int().min(1).max(86_400).default(900),
  AUTH_MAX_TOKEN_AGE_SECONDS: z.coerce.number().int().min(60).default(3600),
  AUTH_JWKS_COOLDOWN_SECONDS: z.coerce.number().min(0).max(3600).optional(),
  AUTH_KEY_ROTATION_SECONDS: z.coerce.number().int().positive().optional(),
  AUTH_KEY_GRACE_SECONDS: z.coerce.number().int().positive().optional(),
});

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
 * Parses an environment. Pure apart from reading nothing: the development secret is resolved by
 * `loadConfig`, so a missing secret here is a problem only in production.
 */
export function parseConfig(env: Record<string, string | undefined>, devSecret?: (dataDir: string) => string): Config {
  // `VAR=` in a .env file or a shell means "not set", as most tools read it.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
  }
  const e = parsed.data;
  const problems: string[] = [];
  const production = e.NODE_ENV === 'production';
  const dataDir = path.resolve(projectRoot, e.DATA_DIR ?? '.data');

  const embedded = e.AUTH_MODE === 'embedded';
  let secret = e.BETTER_AUTH_SECRET;
  if (!embedded) {
    // Better Auth does not run here: its variables would be silently ignored, so say so.
    for (const name of ['BETTER_AUTH_SECRET', 'BETTER_AUTH_URL', 'AUTH_KEY_ROTATION_SECONDS', 'AUTH_KEY_GRACE_SECONDS'] as const) {
      if (e[name] !== undefined) problems.push(`${name}: only used with AUTH_MODE=embedded (AUTH_MODE is ${e.AUTH_MODE})`);
    }
    secret = '';
  } else if (secret === undefined) {
    if (production || !devSecret) {
      problems.push('BETTER_AUTH_SECRET: required in production; generate one with `openssl rand -base64 32`');
    } else {
      secret = devSecret(dataDir);
    }
  } else if (production) {
    const weakness = secretWeakness(secret);
    if (weakness) problems.push(`BETTER_AUTH_SECRET: ${weakness}; generate one with \`openssl rand -base64 32\``);
  }

  if (e.AUTH_MODE === 'remote-jwks') {
    if (!e.AUTH_JWKS_URL) problems.push('AUTH_JWKS_URL: required with AUTH_MODE=remote-jwks: the URL of the issuer\'s JWKS, e.g. https://app.example.com/api/auth/jwks');
    else if (production && new URL(e.AUTH_JWKS_URL).protocol !== 'https:') problems.push('AUTH_JWKS_URL: must be https in production');
  } else if (e.AUTH_JWKS_URL !== undefined) {
    problems.push(`AUTH_JWKS_URL: only used with AUTH_MODE=remote-jwks (AUTH_MODE is ${e.AUTH_MODE})`);
  }
  if (e.AUTH_MODE === 'shared-secret') {
    if (!e.AUTH_JWT_SECRET) problems.push('AUTH_JWT_SECRET: required with AUTH_MODE=shared-secret; at least 32 random characters');
    else {
      const weakness = secretWeakness(e.AUTH_JWT_SECRET);
      if (weakness) problems.push(`AUTH_JWT_SECRET: ${weakness}; generate one with \`openssl rand -base64 32\``);
    }
  } else if (e.AUTH_JWT_SECRET !== undefined) {
    problems.push(`AUTH_JWT_SECRET: only used with AUTH_MODE=shared-secret (AUTH_MODE is ${e.AUTH_MODE})`);
  }
  if (!embedded) {
    for (const name of ['AUTH_ISSUER', 'AUTH_AUDIENCE'] as const) {
      if (!e[name]) problems.push(`${name}: required with AUTH_MODE=${e.AUTH_MODE}: tokens must carry this exact value`);
    }
  }

  if (production && embedded && !e.BETTER_AUTH_URL) {
    problems.push('BETTER_AUTH_URL: required in production: the public URL of this server, e.g. https://api.example.com');
  }
  const baseUrl = e.BETTER_AUTH_URL ?? `http://${publicHostname(e.HOST)}:${e.PORT}`;

  for (const origin of e.TRUSTED_ORIGINS) {
    if (!URL.canParse(origin) || new URL(origin).origin !== origin) {
      problems.push(`TRUSTED_ORIGINS: "${origin}" is not an origin like https://app.example.com (no path, no trailing slash)`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const baseOrigin = new URL(baseUrl).origin;
  const devOrigins = production ? [] : ['http://localhost:3000', 'http://localhost:5173'];
  return {
    nodeEnv: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    dataDir,
    embeddedPostgresPort: e.EMBEDDED_POSTGRES_PORT,
    logLevel: e.LOG_LEVEL,
    auth: {
      mode: e.AUTH_MODE,
      secret: secret!,
      baseUrl,
      issuer: e.AUTH_ISSUER ?? baseOrigin,
      audience: e.AUTH_AUDIENCE ?? baseOrigin,
      jwksUrl: e.AUTH_JWKS_URL,
      jwtSecret: e.AUTH_JWT_SECRET,
      clockSkewSeconds: e.AUTH_CLOCK_SKEW_SECONDS,
      jwtLifetimeSeconds: e.AUTH_JWT_LIFETIME_SECONDS,
      maxTokenAgeSeconds: e.AUTH_MAX_TOKEN_AGE_SECONDS,
      // In process, a reload is one query: allow one a second. Remotely, be gentle (jose's default).
      jwksCooldownSeconds: e.AUTH_JWKS_COOLDOWN_SECONDS ?? (embedded ? 1 : 30),
      keyRotation: e.AUTH_KEY_ROTATION_SECONDS
        ? { intervalSeconds: e.AUTH_KEY_ROTATION_SECONDS, gracePeriodSeconds: e.AUTH_KEY_GRACE_SECONDS ?? 30 * 86_400 }
        : undefined,
      trustedOrigins: [...new Set([baseOrigin, ...devOrigins, ...e.TRUSTED_ORIGINS])],
      trustedProxies: e.TRUSTED_PROXIES,
    },
    graphql: { introspection: e.GRAPHQL_INTROSPECTION ?? !production },
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
