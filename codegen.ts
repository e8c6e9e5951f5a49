import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * `npm run codegen` regenerates both outputs from schema/*.graphql; CI fails when they are stale.
 * - resolver types for the server, with mappers from GraphQL types to what services return;
 * - typed documents for clients (the tests use them with graphql-request).
 */
const scalars = { DateTime: { input: 'string', output: 'string' }, ID: { input: 'string', output: 'string' } };

const config: CodegenConfig = {
  schema: 'schema/*.graphql',
  documents: 'test/operations/*.graphql',
  emitLegacyCommonJSImports: false,
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
          TaskEvent: '../../tasks/task.service.ts#TaskEventRecord',
          User: '../../users/user.model.ts#UserRecord',
        },
        optionalResolveType: true,
        resolverTypeWrapperSignature: 'T | Promise<T>',
      },
    },
    'test/generated/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: { useTypeImports: true, importExtension: '.ts', enumsAsTypes: true, scalars, defaultScalarType: 'unknown' },
    },
  },
};

export default config;
