import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../src/config.ts';

/**
 * How the server runs in production, for the bench (which measures that) and the test that proves
 * it: `npm start` with NODE_ENV=production, the README's command. npm runs src/serve.sh, which builds
 * dist/ when src/ changed since it was built and execs node with the V8 flags it defines on
 * dist/index.js; the Docker image's CMD runs the same src/serve.sh.
 */

/** The Dockerfile's CMD, e.g. `["sh", "src/serve.sh"]`. */
export function dockerCommand(): string[] {
  const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8'))?.[1];
  return cmd ? (JSON.parse(cmd) as string[]) : [];
}

/** The V8 flags src/serve.sh gives node (its `flags='...'` line): the one place they are defined. */
export function serveFlags(): string[] {
  const flags = /^flags='([^']*)'$/m.exec(readFileSync(path.join(projectRoot, 'src', 'serve.sh'), 'utf8'))?.[1];
  return (flags ?? '').split(' ').filter(Boolean);
}

/**
 * `npm start` with `env` as its whole environment, and `nodeArgs` handed on to node
 * (`npm start -- <nodeArgs>`). The child is npm, which forwards SIGTERM and SIGINT to the server:
 * the server is npm's own child (src/serve.sh execs it), so that is where signals land.
 */
export function npmStart(env: NodeJS.ProcessEnv, nodeArgs: string[], stdio: StdioOptions): ChildProcess {
  // The npm that runs this script (`npm test`, `npm run bench`), on this Node; else the PATH's.
  const npm = process.env['npm_execpath'];
  const args = ['start', ...(nodeArgs.length > 0 ? ['--', ...nodeArgs] : [])];
  return npm ? spawn(process.execPath, [npm, ...args], { cwd: projectRoot, env, stdio }) : spawn('npm', args, { cwd: projectRoot, env, stdio });
}

/** The processes whose parent is `pid`, with their command lines (Linux: read from /proc). */
export function childProcesses(pid: number): Array<{ pid: number; argv: string[] }> {
  const children: Array<{ pid: number; argv: string[] }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // The parent pid is the second field after the command name, which is in parentheses.
      const parent = Number(readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      if (parent !== pid) continue;
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').slice(0, -1);
      children.push({ pid: Number(name), argv });
    } catch {
      // Gone in the meantime.
    }
  }
  return children;
}
