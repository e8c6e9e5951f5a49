import type { CodegenConfig } from '@graphql-codegen/cli';
import { addTypenameSelectionDocumentTransform } from '@graphql-codegen/client-preset';
import { Kind, type DocumentNode } from 'graphql';

/**
 * `npm run codegen` regenerates every output from schema/*.graphql; CI fails when they are stale.
 * - resolver types for the server, with mappers from GraphQL types to what services return;
 * - typed documents for clients: the tests (with graphql-request) and the web example, and for each
 *   the manifest of its documents (persisted-documents.json).
 *
 * examples/client has a codegen.ts of its own (`npm run codegen` runs it too, on schema/): start a
 * client of your own from that one. The client outputs' `scalars` matter: without them the client
 * preset types every custom scalar (`DateTime`) as `unknown`; `strictScalars` makes codegen fail
 * when the schema gains a scalar nobody mapped.
 */
const scalars = { DateTime: { input: 'string', output: 'string' }, ID: { input: 'string', output: 'string' } };

/**
 * Trusted documents (docs/trusted-documents.md): each client output also writes
 * persisted-documents.json, the manifest the server loads (PERSISTED_DOCUMENTS_FILE), keyed by
 * `sha256:<hex>`. The web example's generated documents carry only that id (`__meta__.hash`), not the
 * text; the tests' keep the text too (they send both ways).
 */
const hashOnly = { hashAlgorithm: 'sha256', mode: 'replaceDocumentWithHash' } as const;

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
          Task: '../../tasks/task.model.ts#TaskView',
          TaskConnection: '../../tasks/task.model.ts#TaskPage',
          TaskEdge: '../../tasks/task.model.ts#TaskEdgeRecord',
          TaskEvent: '../../tasks/task.feed.ts#TaskEventRecord',
          User: '../../users/user.model.ts#UserRecord',
        },
        optionalResolveType: true,
        resolverTypeWrapperSignature: 'T | Promise<T>',
      },
    },
    // The schema's enums alone (a file that imports nothing): src/graphql/errors.ts holds its
    // ErrorCode list to the schema's without importing the resolver types (which import the context).
    'src/graphql/generated/enums.ts': {
      plugins: ['typescript'],
      config: { onlyEnums: true, enumsAsTypes: true },
    },
    'test/generated/': {
      documents: 'test/operations/*.graphql',
      preset: 'client',
      presetConfig: { fragmentMasking: false, persistedDocuments: { hashAlgorithm: 'sha256' } },
      config: { useTypeImports: true, importExtension: '.ts', enumsAsTypes: true, scalars, defaultScalarType: 'unknown' },
    },
    'examples/web/src/gql/': {
      documents: 'examples/web/src/**/*.graphql',
      preset: 'client',
      presetConfig: {
        fragmentMasking: false,
        persistedDocuments: hashOnly,
        // Beside the hash, the operation's type and name (no text): urql checks the type of what it
        // is asked to run (src/documents.ts).
        onExecutableDocumentNode: (document: DocumentNode) => {
          const operation = document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
          return operation ? { operationType: operation.operation, operationName: operation.name?.value } : undefined;
        },
      },
      // urql's document cache reads __typename in results; it used to add the field to the text it
      // sent, which it cannot do to a document it only has the hash of: the listed text carries it.
      documentTransforms: [addTypenameSelectionDocumentTransform],
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
