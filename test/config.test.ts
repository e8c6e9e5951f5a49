import { describe, expect, it } from '@jest/globals';
import path from 'node:path';
import { ConfigError, parseConfig, projectRoot, secretWeakness } from '../src/config.ts';

const strongSecret = 'q8Zt3kV0pX2mR7wL9yB4nC6hJ1sD5fG8aE0uI3oK7cM=';

function problemsOf(env: Record<string, string>, devSecret?: () => string): string[] {
  try {
    parseConfig(env, devSecret);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('configuration', () => {
  it('refuses production without BETTER_AUTH_SECRET and BETTER_AUTH_URL, naming both', () => {
    const problems = problemsOf({ NODE_ENV: 'production' });
    expect(problems).toEqual([
      expect.stringContaining('BETTER_AUTH_SECRET: required in production'),
      expect.stringContaining('BETTER_AUTH_URL: required in production'),
    ]);
  });

  it('refuses a short or patterned secret in production', () => {
    const env = { NODE_ENV: 'production', BETTER_AUTH_URL: 'https://api.example.com' };
    expect(problemsOf({ ...env, BETTER_AUTH_SECRET: 'too-short' })).toEqual([expect.stringMatching(/^BETTER_AUTH_SECRET: is 9 characters long/)]);
    expect(problemsOf({ ...env, BETTER_AUTH_SECRET: 'a'.repeat(64) })).toEqual([
      expect.stringMatching(/^BETTER_AUTH_SECRET: does not look random enough/),
    ]);
    expect(problemsOf({ ...env, BETTER_AUTH_SECRET: strongSecret })).toEqual([]);
  });

  it('accepts the output of `openssl rand -base64 32` and of `openssl rand -hex 32`', () => {
    expect(secretWeakness(strongSecret)).toBeUndefined();
    expect(secretWeakness('4f1c9a0b7e3d2c6f8a1b0e9d7c5a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a')).toBeUndefined();
  });

  it('reports every invalid variable at once', () => {
    const problems = problemsOf({ PORT: 'eighty', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud' }, () => 'generated');
    expect(problems.map((p) => p.split(':')[0])).toEqual(['PORT', 'DATABASE_URL', 'LOG_LEVEL']);
  });

  it('reports a bad value and the rules of production together, in one error', () => {
    expect(problemsOf({ NODE_ENV: 'production', PORT: 'x' })).toEqual([
      expect.stringMatching(/^PORT: /),
      expect.stringContaining('BETTER_AUTH_SECRET: required in production'),
      expect.stringContaining('BETTER_AUTH_URL: required in production'),
    ]);
    // Common settings, the AUTH_MODE branch and the production rules, all in one run.
    const problems = problemsOf({
      NODE_ENV: 'production',
      PORT: '99999',
      TRUSTED_ORIGINS: 'https://app.example.com/',
      AUTH_MODE: 'remote-jwks',
      AUTH_JWKS_URL: 'http://auth.example.com/jwks',
      AUTH_ISSUER: 'i',
      BETTER_AUTH_SECRET: strongSecret,
      RATE_LIMIT_STORE: 'redis',
    });
    expect(problems).toEqual([
      expect.stringMatching(/^PORT: /),
      expect.stringMatching(/^TRUSTED_ORIGINS: "https:\/\/app.example.com\/" is not an origin/),
      'BETTER_AUTH_SECRET: only used with AUTH_MODE=embedded (AUTH_MODE is remote-jwks)',
      expect.stringMatching(/^AUTH_AUDIENCE: required with AUTH_MODE=remote-jwks/),
      'AUTH_JWKS_URL: must be https in production',
      expect.stringMatching(/^REDIS_URL: required with RATE_LIMIT_STORE=redis/),
    ]);
  });

  it('names an unknown AUTH_MODE with the modes there are, beside other problems', () => {
    expect(problemsOf({ AUTH_MODE: 'ldap', LOG_LEVEL: 'loud' }, () => 's')).toEqual([
      expect.stringMatching(/^LOG_LEVEL: /),
      'AUTH_MODE: must be one of embedded, remote-jwks, shared-secret',
    ]);
  });

  it('needs a secret outside production too when none can be generated', () => {
    expect(problemsOf({})).toEqual([expect.stringMatching(/^BETTER_AUTH_SECRET: required/)]);
    expect(problemsOf({}, () => 'generated')).toEqual([]);
  });

  it('takes trusted proxies as IP addresses or CIDR ranges, and refuses anything else', () => {
    const config = parseConfig({ TRUSTED_PROXIES: '10.0.0.0/24, 192.168.1.7,fd00::/8' }, () => 's');
    expect(config.auth.trustedProxies).toEqual(['10.0.0.0/24', '192.168.1.7', 'fd00::/8']);
    expect(problemsOf({ TRUSTED_PROXIES: '10.0.0.0/33,proxy.internal,10.0.0.1' }, () => 's')).toEqual([
      'TRUSTED_PROXIES: "10.0.0.0/33" is not an IP address or a CIDR range like 10.0.0.0/24',
      'TRUSTED_PROXIES: "proxy.internal" is not an IP address or a CIDR range like 10.0.0.0/24',
    ]);
  });

  it('keeps the defaults of the operational settings', () => {
    const config = parseConfig({ NODE_ENV: 'test' }, () => 's');
    expect(config).toMatchObject({
      graphql: { limits: { maxAliases: 30, maxTokens: 10_000, maxDepth: 10, maxDirectives: 20, maxCost: 5000 } },
      rateLimit: { perMinute: 0, bytesPerMinute: 0, store: 'memory', redisUrl: undefined },
      databaseUrlUnpooled: undefined,
      db: {
        poolSize: 10,
        pageConcurrency: 2,
        searchConcurrency: 2,
        connectTimeoutMs: 3000,
        acquireTimeoutMs: 3000,
        statementTimeoutMs: 5000,
        preparedStatements: true,
      },
      shutdownTimeoutMs: 10_000,
      ws: { maxConnectionsPerUser: 20, maxSubscriptionsPerUser: 50 },
      auth: { jwtLifetimeSeconds: 900, jwksCooldownSeconds: 1, keyRotation: undefined },
    });
    expect(parseConfig({}, () => 's').rateLimit).toMatchObject({ perMinute: 600, bytesPerMinute: 512 * 1024 });
  });

  it('needs no secret in development when a generator is given, and treats empty variables as unset', () => {
    const config = parseConfig({ DATABASE_URL: '', PORT: '' }, () => 'generated');
    expect(config.auth.secret).toBe('generated');
    expect(config.databaseUrl).toBeUndefined();
    expect(config.port).toBe(4000);
    expect(config.auth.baseUrl).toBe('http://localhost:4000');
    expect(config.graphql.introspection).toBe(true);
  });

  it('keeps TLS settings of DATABASE_URL, as hosted PostgreSQL needs', () => {
    const url = 'postgresql://u:p@ep-cool-1.eu-central-1.aws.neon.tech/db?sslmode=require';
    expect(parseConfig({ DATABASE_URL: url }, () => 's').databaseUrl).toBe(url);
  });

  it("takes Neon's two URLs: the pooled one as DATABASE_URL, the direct one as DATABASE_URL_UNPOOLED", () => {
    const pooled = 'postgresql://u:p@ep-cool-1-pooler.eu-central-1.aws.neon.tech/db?sslmode=require';
    const direct = 'postgresql://u:p@ep-cool-1.eu-central-1.aws.neon.tech/db?sslmode=require';
    const config = parseConfig({ DATABASE_URL: pooled, DATABASE_URL_UNPOOLED: direct, DB_PREPARED_STATEMENTS: 'false' }, () => 's');
    expect(config).toMatchObject({ databaseUrl: pooled, databaseUrlUnpooled: direct, db: { preparedStatements: false } });
  });

  it('refuses a pooled endpoint as DATABASE_URL_UNPOOLED, and DATABASE_URL_UNPOOLED without DATABASE_URL, naming the variable', () => {
    const pooled = 'postgresql://u:p@ep-cool-1-pooler.eu-central-1.aws.neon.tech/db?sslmode=require';
    expect(problemsOf({ DATABASE_URL: pooled, DATABASE_URL_UNPOOLED: pooled }, () => 's')).toEqual([
      expect.stringMatching(/^DATABASE_URL_UNPOOLED: host "ep-cool-1-pooler\.eu-central-1\.aws\.neon\.tech" is a pooled endpoint/),
    ]);
    expect(problemsOf({ DATABASE_URL_UNPOOLED: 'postgres://u@db/x' }, () => 's')).toEqual([
      expect.stringMatching(/^DATABASE_URL_UNPOOLED: only used with DATABASE_URL/),
    ]);
    expect(
      problemsOf({ DATABASE_URL: 'postgres://u@db/x', DATABASE_URL_UNPOOLED: 'mysql://u@db/x', DB_PREPARED_STATEMENTS: 'no' }, () => 's').map(
        (p) => p.split(':')[0],
      ),
    ).toEqual(['DATABASE_URL_UNPOOLED', 'DB_PREPARED_STATEMENTS']);
  });

  it('turns introspection off in production unless enabled', () => {
    const env = { NODE_ENV: 'production', BETTER_AUTH_URL: 'https://api.example.com', BETTER_AUTH_SECRET: strongSecret };
    expect(parseConfig(env).graphql.introspection).toBe(false);
    expect(parseConfig({ ...env, GRAPHQL_INTROSPECTION: 'true' }).graphql.introspection).toBe(true);
  });

  it('needs the JWKS URL, issuer and audience in remote-JWKS mode, and https in production', () => {
    expect(problemsOf({ AUTH_MODE: 'remote-jwks' }).map((p) => p.split(':')[0])).toEqual(['AUTH_JWKS_URL', 'AUTH_ISSUER', 'AUTH_AUDIENCE']);
    expect(
      parseConfig({ AUTH_MODE: 'remote-jwks', AUTH_JWKS_URL: 'https://a.example/jwks', AUTH_ISSUER: 'i', AUTH_AUDIENCE: 'a' }).auth,
    ).toMatchObject({
      mode: 'remote-jwks',
      secret: '',
      jwksUrl: 'https://a.example/jwks',
      jwtSecret: undefined,
      jwksCooldownSeconds: 30,
    });
    const remote = { AUTH_MODE: 'remote-jwks', AUTH_JWKS_URL: 'http://auth.internal/api/auth/jwks', AUTH_ISSUER: 'i', AUTH_AUDIENCE: 'a' };
    expect(problemsOf(remote)).toEqual([]);
    expect(problemsOf({ ...remote, NODE_ENV: 'production' })).toEqual(['AUTH_JWKS_URL: must be https in production']);
  });

  it('needs a strong AUTH_JWT_SECRET in shared-secret mode, in every environment', () => {
    const shared = { AUTH_MODE: 'shared-secret', AUTH_ISSUER: 'i', AUTH_AUDIENCE: 'a' };
    expect(problemsOf(shared)).toEqual([expect.stringMatching(/^AUTH_JWT_SECRET: required/)]);
    expect(problemsOf({ ...shared, AUTH_JWT_SECRET: 'secret' })).toEqual([expect.stringMatching(/^AUTH_JWT_SECRET: is 6 characters long/)]);
    expect(problemsOf({ ...shared, AUTH_JWT_SECRET: 'ab'.repeat(20) })).toEqual([expect.stringMatching(/^AUTH_JWT_SECRET: does not look random/)]);
    expect(problemsOf({ ...shared, AUTH_JWT_SECRET: strongSecret })).toEqual([]);
  });

  it('names variables that the chosen mode would silently ignore', () => {
    const problems = problemsOf({
      AUTH_MODE: 'shared-secret',
      AUTH_JWT_SECRET: strongSecret,
      AUTH_ISSUER: 'i',
      AUTH_AUDIENCE: 'a',
      BETTER_AUTH_SECRET: strongSecret,
      AUTH_JWKS_URL: 'https://x.example/jwks',
    });
    expect(problems.map((p) => p.split(':')[0])).toEqual(['BETTER_AUTH_SECRET', 'AUTH_JWKS_URL']);
  });

  it('derives issuer and audience from BETTER_AUTH_URL in embedded mode', () => {
    const config = parseConfig({ BETTER_AUTH_URL: 'https://api.example.com/base' }, () => 's');
    expect(config.auth).toMatchObject({ mode: 'embedded', issuer: 'https://api.example.com', audience: 'https://api.example.com' });
  });

  it('trusted documents: off by default, a manifest required to turn them on, never on in development', () => {
    const production = { NODE_ENV: 'production', BETTER_AUTH_URL: 'https://api.example.com', BETTER_AUTH_SECRET: strongSecret };
    expect(parseConfig(production).graphql.persistedDocuments).toEqual({ file: undefined, only: false, onlyIgnored: false });
    expect(problemsOf({ ...production, PERSISTED_DOCUMENTS_ONLY: 'true' })).toEqual([
      expect.stringMatching(/^PERSISTED_DOCUMENTS_FILE: required with PERSISTED_DOCUMENTS_ONLY=true/),
    ]);
    expect(problemsOf({ ...production, PERSISTED_DOCUMENTS_ONLY: 'yes' })).toEqual([expect.stringMatching(/^PERSISTED_DOCUMENTS_ONLY: /)]);
    const on = { PERSISTED_DOCUMENTS_ONLY: 'true', PERSISTED_DOCUMENTS_FILE: 'dist/persisted-documents.json' };
    expect(parseConfig({ ...production, ...on }).graphql.persistedDocuments).toEqual({
      // Relative to the project folder, as DATA_DIR.
      file: path.join(projectRoot, 'dist/persisted-documents.json'),
      only: true,
      onlyIgnored: false,
    });
    expect(parseConfig({ NODE_ENV: 'development', ...on }, () => 's').graphql.persistedDocuments).toMatchObject({ only: false, onlyIgnored: true });
  });

  it('serves metrics on 9464 by default, never on the public port, and not at all with METRICS_PORT=0', () => {
    expect(parseConfig({}, () => 's').metrics).toEqual({ port: 9464 });
    expect(parseConfig({ METRICS_PORT: '0' }, () => 's').metrics).toEqual({ port: 0 });
    expect(problemsOf({ PORT: '9000', METRICS_PORT: '9000' }, () => 's')).toEqual([expect.stringMatching(/^METRICS_PORT: must differ from PORT/)]);
    expect(problemsOf({ METRICS_PORT: 'x' }, () => 's')).toEqual([expect.stringMatching(/^METRICS_PORT: /)]);
  });

  it('exports no traces unless an OTLP exporter is configured through the standard variables', () => {
    expect(parseConfig({}, () => 's').tracing).toBeUndefined();
    const base = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' };
    expect(parseConfig({ ...base, OTEL_SDK_DISABLED: 'true' }, () => 's').tracing).toBeUndefined();
    expect(parseConfig({ ...base, OTEL_TRACES_EXPORTER: 'none' }, () => 's').tracing).toBeUndefined();
    expect(parseConfig(base, () => 's').tracing).toEqual({
      url: 'http://collector:4318/v1/traces',
      protocol: 'http/protobuf',
      headers: {},
      timeoutMs: 10_000,
      resource: { 'service.name': 'taskgraph' },
      sampler: { name: 'parentbased_always_on', ratio: 1 },
      batch: { scheduledDelayMs: 5000, exportTimeoutMs: 30_000, maxQueueSize: 2048, maxExportBatchSize: 512 },
    });
    // OTEL_TRACES_EXPORTER=otlp alone means the local collector.
    expect(parseConfig({ OTEL_TRACES_EXPORTER: 'otlp' }, () => 's').tracing?.url).toBe('http://localhost:4318/v1/traces');
  });

  it('reads the signal-specific OTLP variables first, and headers, resource and sampler as the specification writes them', () => {
    const tracing = parseConfig(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://general:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example.com/otlp/v1/traces',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=general,x-team=a%20b',
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-api-key=traces',
        OTEL_EXPORTER_OTLP_TIMEOUT: '2000',
        OTEL_SERVICE_NAME: 'api',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=staging,service.name=ignored',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
        OTEL_BSP_SCHEDULE_DELAY: '1000',
      },
      () => 's',
    ).tracing;
    expect(tracing).toMatchObject({
      url: 'https://traces.example.com/otlp/v1/traces',
      protocol: 'http/json',
      headers: { 'x-api-key': 'traces', 'x-team': 'a b' },
      timeoutMs: 2000,
      resource: { 'service.name': 'api', 'deployment.environment.name': 'staging' },
      sampler: { name: 'parentbased_traceidratio', ratio: 0.25 },
      batch: { scheduledDelayMs: 1000 },
    });
  });

  it('names what it cannot do with the OpenTelemetry variables', () => {
    const problems = problemsOf(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_TRACES_SAMPLER: 'jaeger_remote',
        OTEL_TRACES_SAMPLER_ARG: '2',
        OTEL_EXPORTER_OTLP_HEADERS: 'novalue',
        OTEL_BSP_MAX_QUEUE_SIZE: '10',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '20',
      },
      () => 's',
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^OTEL_EXPORTER_OTLP_ENDPOINT: /),
        expect.stringMatching(/^OTEL_EXPORTER_OTLP_PROTOCOL: grpc is not supported/),
        expect.stringMatching(/^OTEL_TRACES_SAMPLER: /),
        expect.stringMatching(/^OTEL_TRACES_SAMPLER_ARG: /),
        expect.stringMatching(/^OTEL_EXPORTER_OTLP_HEADERS: "novalue" is not key=value/),
        expect.stringMatching(/^OTEL_BSP_MAX_EXPORT_BATCH_SIZE: must be at most OTEL_BSP_MAX_QUEUE_SIZE/),
      ]),
    );
  });
});
