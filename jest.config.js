/**
 * TypeScript ESM through @swc/jest (`npm test` adds --experimental-vm-modules).
 * Tests are black-box: each file boots the real app on a free port against its own database.
 * @type {import('jest').Config}
 */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2024', parser: { syntax: 'typescript' } }, module: { type: 'es6' } }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 60_000,
  // Two cores here; each worker runs one server and PostgreSQL works beside them.
  maxWorkers: 2,
  // `npm run test:coverage`. V8's own coverage: no instrumentation step, so it works with the
  // native ESM and SWC transform above. Code that runs in child processes (the server started by
  // runServer, db:migrate) is not counted.
  coverageProvider: 'v8',
  collectCoverageFrom: ['src/**/*.ts', '!src/graphql/generated/**'],
  coverageReporters: ['text-summary', 'text', 'lcov'],
  coverageThreshold: { global: { statements: 80, branches: 70, functions: 75, lines: 80 } },
};
