import { defineConfig } from 'vite';

// The app and the API share one origin in development: the browser talks to Vite only, and Vite
// forwards /api/auth (cookies stay first-party) and /graphql (HTTP and WebSocket) to the API.
const apiPort = Number(process.env.PORT ?? 4000);
const webPort = Number(process.env.WEB_PORT ?? 5173);
// 127.0.0.1, not localhost: the API listens on IPv4 and Node may resolve localhost to ::1 first.
const api = `http://127.0.0.1:${apiPort}`;

export default defineConfig({
  root: import.meta.dirname,
  server: {
    port: webPort,
    strictPort: true,
    proxy: {
      '/api/auth': { target: api },
      '/graphql': { target: api, ws: true },
    },
  },
  preview: { port: webPort, strictPort: true },
});
