// @ts-check
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import graphqlPlugin from '@graphql-eslint/eslint-plugin';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: [
      'node_modules/',
      '.data/',
      'coverage/',
      'dist/',
      'src/graphql/generated/',
      'test/generated/',
      'bench/results/',
      'examples/web/src/gql/',
      'examples/client/src/gql/',
      'examples/client/dist/',
      'examples/web/dist/',
      'test-results/',
      'playwright-report/',
    ],
  },
  {
    // JS/TS rules only for code files: they must not run on the GraphQL files below. (defineConfig
    // intersects `files`, so typescript-eslint's TS-only parts stay TS-only.)
    files: ['**/*.{js,mjs,cjs,ts,mts,cts,tsx}'],
    extends: [js.configs.recommended, ...tseslint.configs.strictTypeChecked, ...tseslint.configs.stylisticTypeChecked],
    languageOptions: {
      globals: globals.node,
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', 'src/*.mjs', 'examples/client/codegen.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // An empty string is as good as unset for environment variables and form fields: `||` says so.
      '@typescript-eslint/prefer-nullish-coalescing': ['error', { ignorePrimitives: { string: true } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      // The house style reads index signatures with brackets (process.env['X'], extensions['code']):
      // it shows that the key may be absent.
      '@typescript-eslint/dot-notation': ['error', { allowIndexSignaturePropertyAccess: true }],
      // Numbers in messages are what the messages are for; everything else still needs String().
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // `() => void x()` shorthands (callbacks, event handlers) read better than braces.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // T[] for simple types, Array<{ ... }> for the rest, as the code is written.
      '@typescript-eslint/array-type': ['error', { default: 'array-simple' }],
      // `() => {}` is the idiomatic no-op callback (hooks, ignored rejections).
      '@typescript-eslint/no-empty-function': ['error', { allow: ['arrowFunctions'] }],
      // Configuration is parsed in one place (src/config.ts); nothing else reads the environment.
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read configuration through src/config.ts.' }],
    },
  },
  {
    // Tests, benchmarks, the examples, tool configs and src/build.mjs (the build, and what `npm start` runs)
    // run outside the server and may read their own variables.
    files: ['test/**', 'bench/**', 'examples/**', 'src/build.mjs', '*.js', '*.ts'],
    rules: {
      'no-restricted-properties': 'off',
      // With noUncheckedIndexedAccess, `rows[0]!` is how a test says "this must exist": a wrong
      // guess fails the test, which is the point.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // The web example's browser code (its own tsconfig: DOM, JSX).
    files: ['examples/web/src/**'],
    languageOptions: { globals: globals.browser },
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
    files: ['schema/*.graphql', 'test/operations/*.graphql', 'examples/web/src/**/*.graphql', 'examples/client/src/**/*.graphql'],
    languageOptions: {
      parser: graphqlPlugin.parser,
      parserOptions: {
        graphQLConfig: {
          schema: 'schema/*.graphql',
          documents: ['test/operations/*.graphql', 'examples/web/src/**/*.graphql', 'examples/client/src/**/*.graphql'],
        },
      },
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
      // message about a task (its `taskId` is the task's id, fixed by the issue), nor ErrorExtensions,
      // the shape of errors[].extensions.
      '@graphql-eslint/strict-id-in-types': [
        'error',
        {
          acceptedIdNames: ['id'],
          acceptedIdTypes: ['ID'],
          exceptions: { types: ['PageInfo', 'TaskEvent', 'ErrorExtensions'], suffixes: ['Connection', 'Edge'] },
        },
      ],
    },
  },
  {
    // Client operations (codegen documents for the tests and the examples), checked against the schema.
    files: ['test/operations/*.graphql', 'examples/web/src/**/*.graphql', 'examples/client/src/**/*.graphql'],
    rules: graphqlPlugin.configs['flat/operations-recommended'].rules,
  },
  {
    // examples/client's fragment on ErrorExtensions is never spread: it is there so that codegen
    // generates the ErrorCode type (no field returns errors[].extensions).
    files: ['examples/client/src/**/*.graphql'],
    rules: { '@graphql-eslint/no-unused-fragments': 'off' },
  },
);
