import { createApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import { EmbeddedPostgresError } from './db/embedded.ts';

async function main(): Promise<void> {
  const config = loadConfig((message) => console.warn(`warning: ${message}`));
  const app = await createApp(config);
  const authUrl = app.auth ? `Better Auth: ${app.url}/api/auth` : `tokens: ${config.auth.mode}`;
  app.logger.info(`GraphQL API: ${app.url}/graphql  |  ${authUrl}  |  health: ${app.url}/healthz`);

  let firstSignalAt = 0;
  const shutdown = (signal: NodeJS.Signals) => {
    // A terminal's Ctrl-C reaches the server twice under `npm start`: from the terminal and
    // forwarded by npm. A repeat within a second is the same request to stop, not an insistence.
    if (firstSignalAt && Date.now() - firstSignalAt < 1000) return;
    if (firstSignalAt) {
      app.logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    firstSignalAt = Date.now();
    app.logger.info({ signal }, 'shutting down: draining requests');
    app.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        app.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  // A closed terminal or SSH session: without a handler Node dies at once and would leave the
  // embedded PostgreSQL running.
  process.on('SIGHUP', shutdown);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof EmbeddedPostgresError) {
    console.error(err.message);
  } else {
    console.error('The server could not start:', err);
  }
  process.exit(1);
});
