import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * `npm run codegen` regenerates every output from schema/*.graphql; CI fails when they are stale.
 * - resolver types for the server, with mappers from GraphQL types to what services return;
 * - typed documents for clients: the tests (with graphql-request) and the web example (with urql).
 *
 * A client of your own: copy one of the client outputs. Its `scalars` matter: without them the
 * client preset types every custom scalar (`DateTime`) as `unknown`; `strictScalars` makes
 * codegen fail when the schema gains a scalar nobody mapped.
 */
const scalars = { DateTime: { input: 'string', output: 'string' }, ID: { input: 'string', output: 'string' } };

const config: CodegenConfig = {
  schema: 'schema/*.graphql',
  importExtension: '',
  generates: {
    'src/graphql/generated/resolvers-types.ts': {
      plugins: ['typescript', 'typescript-resolvers'],
      config: {
        useTypeImports: true,
        importExtension: '.ts',
        enumsAsTypes: true,
        defaultScalarType: 'unknown',
        scalars: { ...scalars, DateTime: { input: 'Date', output: 'Date | string' } },
        contextType: '../context.ts#Context',
        mappers: {
          Task: '../../tasks/task.model.ts#TaskRecord',
          TaskConnection: '../../tasks/task.model.ts#TaskPage',
          TaskEdge: '../../tasks/task.model.ts#TaskEdgeRecord',
          TaskEvent: '../../tasks/task.feed.ts#TaskEventRecord',
          User: '../../users/user.model.ts#UserRecord',
        },
        optionalResolveType: true,
        resolverTypeWrapperSignature: 'T | Promise<T>',
      },
    },
    'test/generated/': {
      documents: 'test/operations/*.graphql',
      preset: 'client',
      presetConfig: { fragmentMasking: false, persistedDocuments: { hashAlgorithm: 'sha256' } },
      config: { useTypeImports: true, importExtension: '.ts', enumsAsTypes: true, scalars, defaultScalarType: 'unknown' },
    },
    'examples/node/gql/': {
      documents: 'examples/node/*.graphql',
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: { useTypeImports: true, importExtension: '.ts', enumsAsTypes: true, scalars: { DateTime: 'string' }, strictScalars: true },
    },
    'examples/web/src/gql/': {
      documents: 'examples/web/src/**/*.graphql',
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        useTypeImports: true,
        importExtension: '.ts',
        enumsAsTypes: true,
        // What JSON carries: DateTime values are RFC 3339 strings.
        scalars: { DateTime: 'string' },
        strictScalars: true,
      },
    },
  },
};

export default config;
