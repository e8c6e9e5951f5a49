import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { projectRoot } from '../src/config.ts';
import { codeBlocks, machineNode, run } from './support/docs.ts';
import { startServer, type TestServer } from './support/server.ts';

/**
 * examples/client is meant to be copied as it is into a project of its own: it builds with its own
 * tsconfig (`tsc`, strict, nodenext) and runs on Node 20 (built) and on Node 22.18+ (its .ts as it
 * is), against a server as `npm start` runs it. docs/clients.md shows its files whole (held to them
 * by doc-snippets.test.ts).
 */
const example = path.join(projectRoot, 'examples/client');
const read = (file: string) => readFileSync(path.join(example, file), 'utf8');

interface Manifest {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}
const manifest = JSON.parse(read('package.json')) as Manifest;
const root = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as Manifest;

/** What a run prints: the task it created, the open list, the live change, the typed CONFLICT. */
const expectedOutput = [
  'created "Call the plumber" (version 1)',
  'open: Call the plumber, due 2026-12-31T17:00:00.000Z',
  'live: UPDATED "Call the plumber", completed: true',
  'CONFLICT: the task is at version 2 now',
  '',
].join('\n');

function runExample(node: string, file: string, server: TestServer, env: Record<string, string> = {}): Promise<string> {
  return run(node, [file], {
    cwd: example,
    env: { ...process.env, API_URL: server.url, EMAIL: `client-${randomUUID()}@example.com`, PASSWORD: `pw-${randomUUID()}`, ...env },
  });
}

describe('examples/client against a server as `npm start` runs it', () => {
  let server: TestServer;
  beforeAll(async () => {
    // Development, as `npm start`: Better Auth checks Origin (it does not under NODE_ENV=test).
    server = await startServer({ NODE_ENV: 'development' });
    // `npm run build` of the example: its own tsconfig, strict, into examples/client/dist.
    await run(process.execPath, [path.join(projectRoot, 'node_modules/typescript/bin/tsc'), '-p', example], { cwd: example, timeoutMs: 120_000 });
  }, 150_000);
  afterAll(() => server.stop());

  it("built, on the machine's Node (20 here, with ws's WebSocket): signs up, creates, lists, hears the change live, reads CONFLICT", async () => {
    expect(await runExample(machineNode(), 'dist/client.js', server)).toBe(expectedOutput);
  });

  it("as TypeScript on the project's Node 24 (its own WebSocket), with no build", async () => {
    expect(process.version).toMatch(/^v24\./);
    expect(await runExample(process.execPath, 'src/client.ts', server)).toBe(expectedOutput);
  });

  it('signs in when the user exists (the second run of the same user)', async () => {
    const env = { EMAIL: `client-${randomUUID()}@example.com`, PASSWORD: `pw-${randomUUID()}` };
    await runExample(process.execPath, 'src/client.ts', server, env);
    // Sign-in failing would have it sign up, which fails for a user that exists: a run that ends well signed in.
    expect(await runExample(process.execPath, 'src/client.ts', server, env)).toBe(expectedOutput);
  });
});

describe('examples/client with BY_ID=true against a server that runs only its manifest', () => {
  let server: TestServer;
  beforeAll(async () => {
    // As it would be deployed (the switch never applies in development).
    server = await startServer({
      NODE_ENV: 'production',
      PERSISTED_DOCUMENTS_ONLY: 'true',
      PERSISTED_DOCUMENTS_FILE: path.join(example, 'src/gql/persisted-documents.json'),
    });
  });
  afterAll(() => server.stop());

  it('sends every operation by id, over HTTP and WebSocket alike', async () => {
    expect(await runExample(process.execPath, 'src/client.ts', server, { BY_ID: 'true' })).toBe(expectedOutput);
    expect(server.logs.filter((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('refused'))).toEqual([]);
  });

  it('without BY_ID sends text, which such a server refuses', async () => {
    await expect(runExample(process.execPath, 'src/client.ts', server)).rejects.toThrow(/PERSISTED_QUERY_ID_REQUIRED/);
  });
});

describe('examples/client as a project of its own', () => {
  /** Packages the example's code, generated code included, imports (bare specifiers, `node:` aside). */
  function importedPackages(dir: string): Set<string> {
    const found = new Set<string>();
    for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
      const text = readFileSync(path.join(entry.parentPath, entry.name), 'utf8');
      for (const [, specifier = ''] of text.matchAll(/\b(?:from|import)\s*\(?\s*'([^'.][^']*)'/g)) {
        if (specifier.startsWith('node:')) continue;
        found.add(
          specifier
            .split('/')
            .slice(0, specifier.startsWith('@') ? 2 : 1)
            .join('/'),
        );
      }
    }
    return found;
  }

  it('lists every package its code and generated code import', () => {
    const listed = new Set([...Object.keys(manifest.dependencies), ...Object.keys(manifest.devDependencies)]);
    const imported = importedPackages(path.join(example, 'src'));
    expect(imported).toContain('@graphql-typed-document-node/core');
    expect([...imported].filter((name) => !listed.has(name))).toEqual([]);
  });

  it('pins the versions this repository installs (what the test above runs is what it lists)', () => {
    const all = { ...manifest.dependencies, ...manifest.devDependencies };
    const rootVersions = { ...root.dependencies, ...root.devDependencies };
    for (const [name, version] of Object.entries(all)) expect({ name, version }).toEqual({ name, version: rootVersions[name] });
  });

  it("docs/clients.md's install lines name exactly its dependencies and dev dependencies, at those versions", () => {
    const install = codeBlocks('docs/clients.md').find((b) => b.section === 'A typed Node client' && b.lang === 'sh')?.code ?? '';
    const lines = install.split('\n').filter((l) => l.startsWith('npm install '));
    const packages = (dev: boolean) =>
      lines
        .find((l) => l.includes('--save-dev') === dev)
        ?.replace(/#.*/, '')
        .trim()
        .split(/\s+/)
        .slice(2)
        .filter((word) => !word.startsWith('-'))
        .sort();
    const pinned = (deps: Record<string, string>) =>
      Object.entries(deps)
        .map(([name, version]) => `${name}@${version}`)
        .sort();
    expect(packages(false)).toEqual(pinned(manifest.dependencies));
    expect(packages(true)).toEqual(pinned(manifest.devDependencies));
  });
});
