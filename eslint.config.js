// @ts-check
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import graphqlPlugin from '@graphql-eslint/eslint-plugin';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['node_modules/', '.data/', 'coverage/', 'src/graphql/generated/', 'test/generated/', 'bench/results/'] },
  {
    // JS/TS rules only for code files: they must not run on the GraphQL files below. (defineConfig
    // intersects `files`, so typescript-eslint's TS-only parts stay TS-only.)
    files: ['**/*.{js,mjs,cjs,ts,mts,cts}'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: { allowDefaultProject: ['*.js', 'src/*.mjs'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      // Configuration is parsed in one place (src/config.ts); nothing else reads the environment.
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read configuration through src/config.ts.' },
      ],
    },
  },
  {
    // Tests, benchmarks and tool configs run outside the server and may read their own variables.
    files: ['test/**', 'bench/**', '*.js', '*.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // GraphQL parser for the schema and the client operations. The schema is split across files
    // (base.graphql holds directives, scalars and roots; the others `extend type Query/Mutation`),
    // so the schema-aware rules load all of them. graphql-eslint keeps the first graphQLConfig it
    // sees for the whole run, so both file sets share this one; paths are relative to the cwd
    // (the repository root under `npm run lint`), as in codegen.ts.
    files: ['schema/*.graphql', 'test/operations/*.graphql'],
    languageOptions: {
      parser: graphqlPlugin.parser,
      parserOptions: { graphQLConfig: { schema: 'schema/*.graphql', documents: 'test/operations/*.graphql' } },
    },
    plugins: { '@graphql-eslint': graphqlPlugin },
  },
  {
    files: ['schema/*.graphql'],
    rules: {
      ...graphqlPlugin.configs['flat/schema-recommended'].rules,
      // Every definition needs a description. FieldDefinition also covers the root fields: in
      // graphql-eslint 4.4.1 `rootField` alone matches nothing once there are several root types.
      '@graphql-eslint/require-description': [
        'error',
        {
          types: true,
          rootField: true,
          FieldDefinition: true,
          InputValueDefinition: true,
          EnumValueDefinition: true,
          DirectiveDefinition: true,
        },
      ],
      // Entity types (Task, User) keep the rule; the cursor-pagination wrappers PageInfo, *Connection
      // and *Edge are not entities and have no id in the fixed schema contract; nor is TaskEvent, a
      // message about a task (its `taskId` is the task's id, fixed by the issue).
      '@graphql-eslint/strict-id-in-types': [
        'error',
        { acceptedIdNames: ['id'], acceptedIdTypes: ['ID'], exceptions: { types: ['PageInfo', 'TaskEvent'], suffixes: ['Connection', 'Edge'] } },
      ],
    },
  },
  {
    // Client operations (codegen documents for the tests), checked against the schema.
    files: ['test/operations/*.graphql'],
    rules: graphqlPlugin.configs['flat/operations-recommended'].rules,
  },
);
