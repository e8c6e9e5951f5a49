import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createApp, type App } from '../../src/app.ts';
import { parseConfig, type Config } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { freePort } from '../../src/db/embedded.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { NO_SHEDDING } from './process.ts';

const READY_TIMEOUT_MS = 20_000;

/** Resolves once `app.ready` does; rejects after `ms`. */
export async function waitReady(app: App, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      app.ready,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the app was not ready within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export interface TestServer {
  url: string;
  graphqlUrl: string;
  app: App;
  config: Config;
  database: TestDatabase;
  /** Every log line the server wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

export interface ServerOptions {
  /**
   * The URL the app connects to, given the test database's own: e.g. a TCP proxy's, to cut the
   * connection under the running app. (The database itself is created and dropped directly.)
   */
  databaseUrl?: (url: string) => string;
  /** DATABASE_URL_UNPOOLED, given the test database's own URL (e.g. `(url) => url`: direct). */
  unpooledUrl?: (url: string) => string;
}

/**
 * Boots the real app (createApp, as `npm start` does) on a free port, against a database of its
 * own. `env` adds to or overrides the environment the config is parsed from.
 */
export async function startServer(env: Record<string, string> = {}, options: ServerOptions = {}): Promise<TestServer> {
  const database = await createTestDatabase();
  const port = await freePort();
  const embedded = (env['AUTH_MODE'] ?? 'embedded') === 'embedded';
  const config = parseConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: options.databaseUrl ? options.databaseUrl(database.url) : database.url,
    ...(options.unpooledUrl ? { DATABASE_URL_UNPOOLED: options.unpooledUrl(database.url) } : {}),
    LOG_LEVEL: 'info',
    // Off unless a test asks for it: the default port (9464) would be shared by parallel tests.
    METRICS_PORT: '0',
    // Off unless a test asks for it (also under NODE_ENV=production): see NO_SHEDDING.
    ...NO_SHEDDING,
    ...(embedded ? { BETTER_AUTH_SECRET: randomBytes(32).toString('base64'), BETTER_AUTH_URL: `http://localhost:${port}` } : {}),
    ...env,
  });
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  let app: App;
  try {
    // The server's own logger (its mixin adds the request and trace ids), writing into `logs`.
    app = await createApp(config, { logger: createLogger(config, sink) });
  } catch (err) {
    await database.drop();
    throw err;
  }
  // createApp resolves once listening; tests start once the app serves requests (bounded).
  try {
    await waitReady(app, READY_TIMEOUT_MS);
  } catch (err) {
    await app.stop();
    await database.drop();
    throw new Error(`${(err as Error).message}; logs:\n${logs.map((l) => JSON.stringify(l)).join('\n')}`);
  }
  return {
    url: app.url,
    graphqlUrl: `${app.url}/graphql`,
    app,
    config,
    database,
    logs,
    stop: async () => {
      await app.stop();
      await database.drop();
    },
  };
}
