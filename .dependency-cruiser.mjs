/**
 * Layers that point one way, checked by `npm run lint` (dependency-cruiser):
 *
 *   index.ts, migrate.ts  ->  app.ts (wiring only)
 *     http/      routes, body limits, health, the Apollo integration
 *     graphql/   schema, context, resolvers glue, error formatting
 *     auth/      Better Auth, token verification: beside http and graphql, used by them
 *     tasks/ users/  services and repositories (the domains); *.resolvers.ts are graphql glue
 *     db/        pool, ORM, migrations: imports no domain
 *   errors.ts config.ts logger.ts   the ground floor
 *
 * Each rule forbids an import that runs up (or across into a sibling it must not know), and no
 * import cycle is allowed anywhere. A rule's comment is what a failing run prints.
 * @type {import('dependency-cruiser').IConfiguration}
 */
const DOMAIN = '^src/(tasks|users)/';
const RESOLVERS = '[.]resolvers[.]ts$';

export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles make the load order matter and hide which layer owns what: break the cycle.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'ground-floor-imports-nothing',
      severity: 'error',
      comment:
        'errors.ts, config.ts and logger.ts are imported by every layer; they import no other module of src/ (logger may read the Config type).',
      from: { path: '^src/(errors|config|logger)[.]ts$' },
      to: { path: '^src/', pathNot: ['^src/(errors|config|logger)[.]ts$'] },
    },
    {
      name: 'entry-points-are-not-imported',
      severity: 'error',
      comment: 'index.ts and migrate.ts are entry points; app.ts is imported only by them (and tests).',
      from: { path: '^src/' },
      to: { path: ['^src/(index|migrate)[.]ts$'] },
    },
    {
      name: 'only-entry-points-import-app',
      severity: 'error',
      comment: 'app.ts wires the layers together: nothing below it may import it.',
      from: { path: '^src/', pathNot: '^src/(index|migrate)[.]ts$' },
      to: { path: '^src/app[.]ts$' },
    },
    {
      name: 'db-imports-no-layer-above',
      severity: 'error',
      comment: 'db/ is the lowest layer: it gets entities and hooks handed in by app.ts, it imports no domain, graphql, http or auth module.',
      from: { path: '^src/db/' },
      to: { path: '^src/(http|graphql|auth|tasks|users)/' },
    },
    {
      name: 'domains-import-no-transport',
      severity: 'error',
      comment: 'Services and repositories know nothing of HTTP, GraphQL or how tokens are verified: throw a domain error from src/errors.ts instead.',
      from: { path: DOMAIN, pathNot: RESOLVERS },
      to: { path: '^src/(http|graphql|auth)/' },
    },
    {
      name: 'resolvers-are-glue-only',
      severity: 'error',
      comment: 'Resolvers read arguments, call a service and return: they import no repository of another domain, no db/, auth/ or http/ module.',
      from: { path: RESOLVERS },
      to: { path: '^src/(db|auth|http)/' },
    },
    {
      name: 'graphql-imports-no-http',
      severity: 'error',
      comment: 'graphql/ sits below http/: it must not import routing or body handling.',
      from: { path: '^src/graphql/' },
      to: { path: '^src/http/' },
    },
    {
      name: 'graphql-and-domains-import-no-database-directly',
      severity: 'error',
      comment:
        'Queries live in repositories; graphql/ and services reach the database only through them (db/ is wired by app.ts). ' +
        'The one exception is db/errors.ts, the classifier that turns a driver failure into a domain error (ServiceUnavailable).',
      from: { path: ['^src/graphql/', `${DOMAIN}.*[.]service[.]ts$`] },
      to: { path: '^src/db/', pathNot: '^src/db/errors[.]ts$' },
    },
    {
      name: 'http-imports-no-domain',
      severity: 'error',
      comment: 'http/ hands requests to graphql/ (and auth/); it never calls a service or repository itself.',
      from: { path: '^src/http/' },
      // Type-only imports (the shape of a viewer) carry no code across the boundary.
      to: { path: `${DOMAIN}|^src/db/`, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'auth-imports-no-http',
      severity: 'error',
      comment:
        'auth/ sits beside http/: http mounts it, so auth must not import http. KNOWN VIOLATION on main: auth/auth.ts authHandler reads bodies with http/body.ts and answers with http/respond.ts; move authHandler to http/ (e.g. http/auth-handler.ts) and drop the pathNot below.',
      from: { path: '^src/auth/', pathNot: '^src/auth/auth[.]ts$' },
      to: { path: '^src/http/' },
    },
    {
      name: 'src-imports-no-tests-or-tools',
      severity: 'error',
      comment: 'The server never imports tests, benchmarks or tool configuration.',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/|^[^/]+[.](js|ts)$' },
    },
    {
      name: 'src-imports-no-dev-dependency',
      severity: 'error',
      comment: 'The production image installs no devDependencies (npm ci --omit=dev): a runtime import of one would crash there.',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'src-imports-no-unlisted-package',
      severity: 'error',
      comment: 'A package that package.json does not list works only by accident (hoisting): add it to dependencies.',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'src-imports-resolve',
      severity: 'error',
      comment: 'An import that resolves to nothing fails at run time.',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/graphql/generated/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
