import { createApp, type App } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import { EmbeddedPostgresError } from './db/embedded.ts';
import { createLogger, type Logger } from './logger.ts';

/** After SHUTDOWN_TIMEOUT_MS the app cancels what runs; this much more and the process just exits. */
const SHUTDOWN_GRACE_MS = 5_000;

let logger: Logger | undefined;

async function main(): Promise<void> {
  const config = loadConfig((message) => console.warn(`warning: ${message}`));
  const log = (logger = createLogger(config));

  // Whatever escapes a handler is logged as one JSON line (not Node's multi-line dump), then the
  // process exits: its state is unknown. embedded.ts's exit guard stops PostgreSQL on the way out.
  const fatal = (err: unknown, what: string) => {
    log.fatal({ err }, what);
    process.exit(1);
  };
  process.on('uncaughtException', (err) => fatal(err, 'uncaught exception'));
  process.on('unhandledRejection', (err) => fatal(err, 'unhandled promise rejection'));

  // Signals are handled from the start: one arriving while the embedded PostgreSQL starts still
  // stops it (Playwright and process managers send SIGTERM at any moment).
  const running: { app?: App } = {};
  let signalled: NodeJS.Signals | undefined;
  let signalledAt = 0;
  const shutdown = (signal: NodeJS.Signals) => {
    // A terminal's Ctrl-C reaches the server twice under `npm start`: from the terminal and
    // forwarded by npm. A repeat within a second is the same request to stop, not an insistence.
    if (signalled && Date.now() - signalledAt < 1000) return;
    if (signalled) {
      log.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    signalled = signal;
    signalledAt = Date.now();
    log.info({ signal, shutdownTimeoutMs: config.shutdownTimeoutMs }, 'shutting down: draining requests');
    // Bounded even if something in stop() hangs.
    setTimeout(
      () => fatal(new Error('shutdown took too long'), 'shutdown did not finish in time; exiting'),
      config.shutdownTimeoutMs + SHUTDOWN_GRACE_MS,
    ).unref();
    if (running.app) stopAndExit(running.app);
  };
  const stopAndExit = (running: App) => {
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => fatal(err, 'shutdown failed'),
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  // A closed terminal or SSH session: without a handler Node dies at once and would leave the
  // embedded PostgreSQL running.
  process.on('SIGHUP', shutdown);

  let url = '';
  const banner = (state: string) => {
    const authUrl = config.auth.mode === 'embedded' ? `Better Auth: ${url}/api/auth` : `tokens: ${config.auth.mode}`;
    log.info(`GraphQL API: ${url}/graphql${state}  |  ${authUrl}  |  health: ${url}/healthz`);
  };
  const app = (running.app = await createApp(config, {
    logger: log,
    // The address goes out as soon as it is clear the database is not there yet, so that whoever
    // waits for it can see the 503s; "GraphQL API: <url>/graphql  |" alone means ready.
    onWaiting: () => setImmediate(() => banner(' (not ready: waiting for the database; /readyz turns 200 when ready)')),
  }));
  url = app.url;
  if (signalled) {
    stopAndExit(app);
    return;
  }
  log.info({ url }, `listening on ${url}; /healthz answers now, the API once the database is ready`);
  app.ready.then(
    () => banner(''),
    () => {}, // stopped before it was ready
  );
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || !logger) {
    // Before there is a logger: plain text for the person starting the server.
    console.error(err instanceof ConfigError ? err.message : err);
  } else if (err instanceof EmbeddedPostgresError) {
    // Says what to do; a stack trace would bury that.
    logger.fatal(err.message);
  } else {
    logger.fatal({ err }, 'The server could not start');
  }
  process.exit(1);
});
