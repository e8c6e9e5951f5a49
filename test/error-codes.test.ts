import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ApolloServerErrorCode } from '@apollo/server/errors';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { buildASTSchema, isEnumType, isObjectType, parse, type GraphQLFormattedError } from 'graphql';
import { projectRoot } from '../src/config.ts';
import { ErrorCode } from '../src/graphql/errors.ts';
import { loadTypeDefs } from '../src/graphql/schema.ts';
import { CreateTaskDocument, DeleteTaskDocument, UpdateTaskDocument } from './generated/graphql.ts';
import { execute, expectData } from './support/graphql.ts';
import { startServer, type TestServer } from './support/server.ts';
import { signUp, type TestUser } from './support/users.ts';

/**
 * The schema's `enum ErrorCode` is the list clients generate their types from: every code the server
 * can send must be in it. The compiler already holds src/graphql/errors.ts's ErrorCode, Apollo's
 * codes and the domain errors' codes to the enum; this test says so in words, and also catches a
 * code written as a bare string anywhere in src/, and a code missing from docs/errors.md.
 */
const schema = buildASTSchema(parse(loadTypeDefs().join('\n')));
const enumType = schema.getType('ErrorCode');
const extensionsType = schema.getType('ErrorExtensions');
if (!isEnumType(enumType) || !isObjectType(extensionsType))
  throw new Error('schema/errors.graphql must define enum ErrorCode and type ErrorExtensions');
const listed = new Set(enumType.getValues().map((v) => v.name));
/** `limit` is in the type's description only: a number for RATE_LIMITED, a setting's name for the operation limits. */
const extensionFields = new Set([...Object.keys(extensionsType.getFields()), 'limit']);

/** Codes in src/ that are not `extensions.code` of a GraphQL answer, and why. */
const NOT_GRAPHQL_CODES: Record<string, string> = {
  PASSWORD_REQUIRED: "Better Auth's answer to /api/auth/delete-user ({ code, message }), not a GraphQL error",
  EMAIL_TOO_LONG: "Better Auth's answer to a sign-up ({ code, message }), not a GraphQL error",
  NAME_TOO_LONG: "Better Auth's answer to a sign-up or update-user ({ code, message }), not a GraphQL error",
  NAME_INVALID_CHARACTER: "Better Auth's answer to a sign-up or update-user ({ code, message }), not a GraphQL error",
  INVALID_EMAIL: "Better Auth's own code, also given to an email with control characters; not a GraphQL error",
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

describe("the schema's enum ErrorCode", () => {
  it('lists exactly the codes of src/graphql/errors.ts, each with a description', () => {
    expect([...listed].sort()).toEqual(Object.values(ErrorCode).sort());
    const undescribed = enumType.getValues().filter((v) => !v.description?.trim());
    expect(undescribed.map((v) => v.name)).toEqual([]);
  });

  it("lists every code of Apollo Server's, which pass through", () => {
    const missing = Object.values(ApolloServerErrorCode).filter((code) => !listed.has(code));
    expect(missing).toEqual([]);
  });

  it('lists every code written as a string in src/ (code: / code = / refuse(...) / refusal(...))', () => {
    const patterns = [
      /\bcode\s*[:=]\s*['"`]([A-Z][A-Z0-9_]*)['"`]/g,
      /\b(?:refuse|refusal|limitExceeded)\(\s*(?:\d+\s*,\s*)?['"`]([A-Z][A-Z0-9_]*)['"`]/g,
    ];
    const unlisted: string[] = [];
    for (const file of sourceFiles(path.join(projectRoot, 'src'))) {
      const text = readFileSync(file, 'utf8');
      for (const pattern of patterns) {
        for (const match of text.matchAll(pattern)) {
          const code = match[1]!;
          if (!listed.has(code) && !(code in NOT_GRAPHQL_CODES)) unlisted.push(`${path.relative(projectRoot, file)}: ${code}`);
        }
      }
    }
    expect(unlisted).toEqual([]);
  });

  it('is documented: docs/errors.md names every code', () => {
    const doc = readFileSync(path.join(projectRoot, 'docs/errors.md'), 'utf8');
    expect([...listed].filter((code) => !doc.includes(`\`${code}\``))).toEqual([]);
  });

  it('describes every field of ErrorExtensions', () => {
    const fields = Object.values(extensionsType.getFields());
    expect(fields.filter((f) => !f.description?.trim()).map((f) => f.name)).toEqual([]);
  });
});

describe('what the server sends', () => {
  let server: TestServer;
  let user: TestUser;
  beforeAll(async () => {
    server = await startServer({ GRAPHQL_MAX_ALIASES: '2' });
    user = await signUp(server.url);
  });
  afterAll(() => server.stop());

  /** Every error's code is listed, and its extensions hold only fields ErrorExtensions describes. */
  function expectTyped(errors: readonly GraphQLFormattedError[] | undefined, code: string): void {
    expect(errors?.length).toBeGreaterThan(0);
    for (const error of errors ?? []) {
      expect(error.extensions?.['code']).toBe(code);
      expect(listed.has(code)).toBe(true);
      expect(Object.keys(error.extensions ?? {}).filter((key) => !extensionFields.has(key))).toEqual([]);
    }
  }

  it('sends codes of the enum with the extensions ErrorExtensions describes', async () => {
    const url = server.graphqlUrl;
    expectTyped((await execute(url, CreateTaskDocument, { input: { title: '' } }, user.token)).errors, 'BAD_USER_INPUT');
    const { createTask } = await expectData(url, CreateTaskDocument, { input: { title: 'typed errors' } }, user.token);
    const conflict = await execute(url, UpdateTaskDocument, { id: createTask.id, input: { title: 'x', expectedVersion: 99 } }, user.token);
    expectTyped(conflict.errors, 'CONFLICT');
    expect(conflict.errors?.[0]?.extensions?.['currentVersion']).toBe(createTask.version);
    expectTyped((await execute(url, DeleteTaskDocument, { id: randomUUID() }, user.token)).errors, 'NOT_FOUND');
    expectTyped((await execute(url, '{ me { id } }', {}, 'not.a.token')).errors, 'UNAUTHENTICATED');
    expectTyped((await execute(url, '{ me { id }', {}, user.token)).errors, 'GRAPHQL_PARSE_FAILED');
    expectTyped((await execute(url, '{ me { nope } }', {}, user.token)).errors, 'GRAPHQL_VALIDATION_FAILED');
    expectTyped((await execute(url, '{ a: serverVersion b: serverVersion c: serverVersion }', {}, user.token)).errors, 'TOO_MANY_ALIASES');
    const json = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expectTyped(((await json.json()) as { errors: GraphQLFormattedError[] }).errors, 'BAD_REQUEST');
    const key = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': '', authorization: `Bearer ${user.token}` },
      body: JSON.stringify({ query: '{ serverVersion }' }),
    });
    expectTyped(((await key.json()) as { errors: GraphQLFormattedError[] }).errors, 'IDEMPOTENCY_KEY_INVALID');
  });
});
