import { createApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import { EmbeddedPostgresError } from './db/embedded.ts';

async function main(): Promise<void> {
  const config = loadConfig((message) => console.warn(`warning: ${message}`));
  const app = await createApp(config);
  const authUrl = app.auth ? `Better Auth: ${app.url}/api/auth` : `tokens: ${config.auth.mode}`;
  app.logger.info(`GraphQL API: ${app.url}/graphql  |  ${authUrl}  |  health: ${app.url}/healthz`);

  let signals = 0;
  const shutdown = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      app.logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
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
