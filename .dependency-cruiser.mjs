/**
 * Layers that point one way, checked by `npm run lint` (dependency-cruiser), as STYLE.md draws them:
 *
 *   index.ts, migrate.ts            entry points
 *   app.ts, live.ts, identity.ts    wiring: the only modules that know every layer
 *     http/                         routes, body limits, health, the Apollo integration, Better Auth's handler
 *     graphql/                      schema, context, error formatting, generated types; *.resolvers.ts are its glue
 *     tasks/ users/ idempotency/    the domains: services and repositories
 *     auth/                         token verification, Better Auth's options, the @auth directive
 *     db/                           pool, ORM, migrations, the batcher
 *     telemetry/                    metrics and tracing: used by the layers above, imports only the ground floor
 *   errors.ts config.ts logger.ts deadline.ts   the ground floor
 *
 * A module may import only from layers below its own (the `layer-*` rules), plus the narrower rules
 * after them. The domains and auth/ sit side by side: neither imports the other (a service learns
 * who calls from the viewer it is given; a verifier knows tokens, not accounts). Nothing is
 * excluded: generated code is held to the same rules as the code around it. No import cycle is
 * allowed anywhere. A rule's comment is what a failing run prints.
 * @type {import('dependency-cruiser').IConfiguration}
 */
const DOMAIN = '^src/(tasks|users|idempotency)/';
const RESOLVERS = '^src/[^/]+/[^/]+[.]resolvers[.]ts$';

/** Top to bottom. `path`/`pathNot` say which modules a layer holds. */
const LAYERS = [
  { name: 'entry points', path: '^src/(index|migrate)[.]ts$' },
  { name: 'wiring', path: '^src/(app|live|identity)[.]ts$' },
  { name: 'http', path: '^src/http/' },
  { name: 'graphql', path: ['^src/graphql/', RESOLVERS] },
  { name: 'domain or auth', path: [DOMAIN, '^src/auth/'], pathNot: RESOLVERS },
  { name: 'db', path: '^src/db/' },
  { name: 'telemetry', path: '^src/telemetry/' },
  { name: 'ground floor', path: '^src/(errors|config|logger|deadline)[.]ts$' },
];

/** Everything in src/ belongs to exactly one layer (checked by `every-module-has-a-layer`). */
const ALL_LAYERS = LAYERS.flatMap((l) => [l.path].flat());

const layerRules = LAYERS.slice(1).map((layer, i) => {
  const above = LAYERS.slice(0, i + 1);
  return {
    name: `layer-${layer.name.replaceAll(' ', '-')}-imports-nothing-above`,
    severity: 'error',
    comment: `${layer.name} may import only from the layers below it (${LAYERS.slice(i + 2)
      .map((l) => l.name)
      .join(', ')}); it imported from ${above.map((l) => l.name).join(' / ')}. Move the code down, or hand it in from app.ts.`,
    from: { path: layer.path, ...(layer.pathNot ? { pathNot: layer.pathNot } : {}) },
    to: { path: above.flatMap((l) => [l.path].flat()) },
  };
});

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
      name: 'every-module-has-a-layer',
      severity: 'error',
      comment: 'Every module of src/ belongs to a layer (see .dependency-cruiser.mjs): put it in one, or add the layer.',
      from: { path: '^src/', pathNot: [...ALL_LAYERS, '[.]mjs$'] },
      to: {},
    },
    ...layerRules,
    {
      name: 'ground-floor-imports-nothing',
      severity: 'error',
      comment:
        'errors.ts, config.ts, logger.ts and deadline.ts are imported by every layer; they import no other module of src/ (logger may read the Config type).',
      from: { path: '^src/(errors|config|logger|deadline)[.]ts$' },
      to: { path: '^src/', pathNot: ['^src/(errors|config|logger|deadline)[.]ts$'] },
    },
    {
      name: 'domains-import-no-auth',
      severity: 'error',
      comment:
        'Services and repositories know nothing of how tokens are verified: a domain gets its viewer handed in. (identity.ts, wiring, joins auth/ and users/.)',
      from: { path: DOMAIN, pathNot: RESOLVERS },
      to: { path: '^src/auth/' },
    },
    {
      name: 'auth-imports-no-domain',
      severity: 'error',
      comment: 'auth/ knows tokens, not accounts: a verifier returns a TokenSubject, and the users domain says whether that user still exists.',
      from: { path: '^src/auth/' },
      to: { path: DOMAIN },
    },
    {
      name: 'domains-are-separate',
      severity: 'error',
      comment: "A domain may read another domain's model types (a Viewer), never its services or repositories.",
      // $1: the importing module's own domain, where anything goes.
      from: { path: '^src/(tasks|users|idempotency)/', pathNot: RESOLVERS },
      to: { path: DOMAIN, pathNot: ['^src/$1/', '[.]model[.]ts$'] },
    },
    {
      name: 'resolvers-are-glue-only',
      severity: 'error',
      comment: 'Resolvers read arguments, call a service and return: they import no repository, no db/, auth/ or http/ module.',
      from: { path: RESOLVERS },
      to: { path: ['^src/(db|auth|http)/', '[.]repository[.]ts$'] },
    },
    {
      name: 'graphql-and-services-import-no-database-directly',
      severity: 'error',
      comment:
        'Queries live in repositories; graphql/ and services reach the database only through them (db/ is wired by app.ts). ' +
        'The one exception is db/errors.ts, the classifier that turns a driver failure into a domain error (ServiceUnavailable).',
      from: { path: ['^src/graphql/', `${DOMAIN}.*[.]service[.]ts$`] },
      to: { path: '^src/db/', pathNot: '^src/db/errors[.]ts$' },
    },
    {
      name: 'http-calls-no-domain',
      severity: 'error',
      comment:
        'http/ hands requests to graphql/ (and Better Auth); it never calls a service or repository itself, nor the database: app.ts hands in what it needs (e.g. the idempotency store). ' +
        'Type-only imports (the shape of a viewer) carry no code across; db/errors.ts is the classifier of driver failures.',
      from: { path: '^src/http/' },
      to: { path: [DOMAIN, '^src/db/'], pathNot: '^src/db/errors[.]ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'telemetry-imports-only-the-ground-floor',
      comment:
        'telemetry/ (metrics, tracing) is used by every layer that records something; it imports only config.ts and logger.ts, and gets what it observes handed in by app.ts.',
      severity: 'error',
      from: { path: '^src/telemetry/' },
      to: { path: '^src/', pathNot: ['^src/(errors|config|logger)[.]ts$', '^src/telemetry/'] },
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
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
