import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../src/config.ts';

export interface CodeBlock {
  /** The fence's language (`sh`, `js`, `ts`, ...). */
  lang: string;
  /** The `## ` heading the block is under ('' before the first). */
  section: string;
  /** The `<!-- file: path -->` comment right above the fence, if any: the block is that whole file. */
  file: string | undefined;
  /** The `<!-- excerpt: path -->` comment right above the fence, if any: the block's lines are consecutive lines of that file. */
  excerptOf: string | undefined;
  code: string;
}

/** The fenced code blocks of a Markdown file of the project (top-level fences only). */
export function codeBlocks(relativePath: string): CodeBlock[] {
  const text = readFileSync(path.join(projectRoot, relativePath), 'utf8');
  const blocks: CodeBlock[] = [];
  let section = '';
  let open: { lang: string; file: string | undefined; excerptOf: string | undefined; lines: string[] } | undefined;
  let previous = '';
  for (const line of text.split('\n')) {
    if (open) {
      if (line === '```') {
        blocks.push({ lang: open.lang, section, file: open.file, excerptOf: open.excerptOf, code: `${open.lines.join('\n')}\n` });
        open = undefined;
      } else {
        open.lines.push(line);
      }
    } else if (line.startsWith('```')) {
      const [, kind, target] = /^<!-- (file|excerpt): (\S+) -->$/.exec(previous) ?? [];
      open = {
        lang: line.slice(3).trim(),
        file: kind === 'file' ? target : undefined,
        excerptOf: kind === 'excerpt' ? target : undefined,
        lines: [],
      };
    } else if (line.startsWith('## ')) {
      section = line.slice(3).trim();
    }
    if (line.trim() !== '') previous = line;
  }
  return blocks;
}

/** The one block of `lang` under the heading `section`; throws when there is not exactly one. */
export function codeBlock(relativePath: string, section: string, lang: string): string {
  const found = codeBlocks(relativePath).filter((b) => b.section === section && b.lang === lang);
  if (found.length !== 1) throw new Error(`${relativePath}: expected one \`\`\`${lang} block under "## ${section}", found ${found.length}`);
  return found[0]!.code;
}

/**
 * The machine's own `node` (the first on PATH outside node_modules, where npm scripts put Node 24):
 * what a developer who installed Node runs, Node 20 here.
 */
export function machineNode(): string {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (dir === '' || dir.split(path.sep).includes('node_modules')) continue;
    const candidate = path.join(dir, 'node');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error('no node on PATH outside node_modules');
}

const execFileAsync = promisify(execFile);

/** Runs a program to completion (bounded), resolving with its stdout; rejects with stdout and stderr. */
export async function run(
  file: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string | undefined>; timeoutMs?: number },
): Promise<string> {
  try {
    const { stdout } = await execFileAsync(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      timeout: options.timeoutMs ?? 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
    throw new Error(`${file} ${args.join(' ')} failed in ${options.cwd}: ${(err as Error).message}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
  }
}
