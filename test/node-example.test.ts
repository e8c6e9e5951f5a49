import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { projectRoot } from '../src/config.ts';
import { startServer, type TestServer } from './support/server.ts';

/** Runs `node examples/node/tasks.ts` as its header says; resolves with its exit code and output. */
function runExample(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['examples/node/tasks.ts'], {
      cwd: projectRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

describe('the Node example (examples/node/tasks.ts)', () => {
  let server: TestServer;
  beforeAll(async () => {
    // Its own manifest, as codegen wrote it, and nothing else runs.
    server = await startServer({
      PERSISTED_DOCUMENTS_ONLY: 'true',
      PERSISTED_DOCUMENTS_FILE: path.join(projectRoot, 'examples/node/gql/persisted-documents.json'),
    });
  });
  afterAll(() => server.stop());

  it('signs up, creates a task and lists the open ones, sending its operations by id to a server that runs only them', async () => {
    const { code, output } = await runExample({ API_URL: server.url, EMAIL: `node-${randomUUID()}@example.test`, PASSWORD: `pw-${randomUUID()}` });
    expect({ code, output }).toEqual({
      code: 0,
      output: expect.stringMatching(/^created \S+\n2026-12-31T17:00:00(\.000)?Z {2}Call the plumber\n1 open tasks\n$/),
    });
    expect(server.logs.filter((l) => l['msg'] === 'refused an operation: not a trusted document')).toEqual([]);
  });
});
