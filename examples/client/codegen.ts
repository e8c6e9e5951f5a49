import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  // The running API's schema (introspection is on unless NODE_ENV=production), or SCHEMA: a copy
  // of the API's schema/*.graphql, for example.
  schema: process.env['SCHEMA'] ?? 'http://localhost:4000/graphql',
  documents: 'src/**/*.graphql',
  generates: {
    'src/gql/': {
      preset: 'client',
      // The manifest of these operations (src/gql/persisted-documents.json), for a server that runs
      // only the documents it lists (PERSISTED_DOCUMENTS_FILE); the documents keep their text.
      presetConfig: { fragmentMasking: false, persistedDocuments: { hashAlgorithm: 'sha256' } },
      config: {
        // Generated imports end in .ts, as "module": "nodenext" wants an extension; tsc rewrites them to .js.
        importExtension: '.ts',
        useTypeImports: true,
        enumsAsTypes: true,
        // DateTime travels as an RFC 3339 string; an unmapped scalar would fail the build.
        scalars: { DateTime: 'string' },
        strictScalars: true,
      },
    },
  },
};

export default config;
