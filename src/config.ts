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
    secret: string;
    /** Public origin of the server; the JWTs' `iss` and `aud`. */
    baseUrl: string;
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
export function parseConfig(env: Record<string, string | undefined>, devSecret?: () => string): Config {
  // `VAR=` in a .env file or a shell means "not set", as most tools read it.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
  }
  const e = parsed.data;
  const problems: string[] = [];
  const production = e.NODE_ENV === 'production';

  let secret = e.BETTER_AUTH_SECRET;
  if (secret === undefined || secret === '') {
    if (production || !devSecret) {
      problems.push('BETTER_AUTH_SECRET: required in production; generate one with `openssl rand -base64 32`');
    } else {
      secret = devSecret();
    }
  } else if (production) {
    const weakness = secretWeakness(secret);
    if (weakness) problems.push(`BETTER_AUTH_SECRET: ${weakness}; generate one with \`openssl rand -base64 32\``);
  }

  if (production && !e.BETTER_AUTH_URL) {
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
    dataDir: path.resolve(projectRoot, e.DATA_DIR ?? '.data'),
    embeddedPostgresPort: e.EMBEDDED_POSTGRES_PORT,
    logLevel: e.LOG_LEVEL,
    auth: {
      secret: secret!,
      baseUrl,
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
  const env = readEnvironment();
  const dataDir = path.resolve(projectRoot, env['DATA_DIR'] || '.data');
  return parseConfig(env, () => developmentSecret(dataDir, warn));
}
