import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../src/config.ts';

/**
 * How the Docker image runs the server, for the bench (which measures that) and the test that
 * proves the build serves: the Dockerfile's CMD, `["node", <V8 flags>..., "dist/index.js"]`.
 */
export function dockerCommand(): string[] {
  const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8'))?.[1];
  return cmd ? (JSON.parse(cmd) as string[]) : [];
}

/** `npm run build` (src/ to dist/, as the image's build stage does): its exit code and output. */
export function buildDist(): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('npm', ['run', '--silent', 'build'], { cwd: projectRoot, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? -1 : 0, output: `${stdout}${stderr}` }),
    );
  });
}
