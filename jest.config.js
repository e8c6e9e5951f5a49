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
};
