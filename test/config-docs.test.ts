import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, projectRoot } from '../src/config.ts';

/**
 * Adding a variable means touching four files; this test makes forgetting one fail, naming the
 * variable and the file. `src/config.ts` is the truth (CONFIG_VARIABLES comes from its schemas).
 */

const read = (file: string) => readFileSync(path.join(projectRoot, file), 'utf8');

/**
 * `VAR=value` and `# VAR=value` lines (a commented-out example documents the variable too). The
 * value has no spaces, which tells an example from prose such as `# PORT=0 picks a free port.`
 */
function envExampleVariables(): string[] {
  return [...read('.env.example').matchAll(/^#? ?([A-Z][A-Z0-9_]*)=\S*$/gm)].map((m) => m[1] ?? '');
}

/** The first column of the table in docs/configuration.md that starts with `| variable |`. */
function configurationDocVariables(): string[] {
  const lines = read('docs/configuration.md').split('\n');
  const header = lines.findIndex((line) => /^\|\s*variable\s*\|/.test(line));
  if (header < 0) throw new Error('docs/configuration.md: no table whose first column is "variable"');
  const names: string[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const cell = line.split('|')[1]?.trim() ?? '';
    const name = /^`([A-Z][A-Z0-9_]*)`$/.exec(cell)?.[1];
    if (!name) throw new Error(`docs/configuration.md: a row's first cell must be one variable in backticks, got: ${cell}`);
    names.push(name);
  }
  return names;
}

/** Keys of the server service's `environment:` in docker-compose.yml. */
function composeVariables(): string[] {
  const compose = parse(read('docker-compose.yml')) as { services?: { server?: { environment?: unknown } } };
  const environment = compose.services?.server?.environment;
  if (environment === null || typeof environment !== 'object' || Array.isArray(environment)) {
    throw new Error('docker-compose.yml: services.server.environment must be a mapping (KEY: value)');
  }
  return Object.keys(environment);
}

/** Names listed twice, and the differences from the server's own list, as readable lines. */
function disagreements(file: string, listed: string[], expected: readonly string[] = CONFIG_VARIABLES): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const name of listed) {
    if (seen.has(name)) problems.push(`${file}: ${name} is listed twice`);
    seen.add(name);
  }
  for (const name of expected) if (!seen.has(name)) problems.push(`${file}: missing ${name} (src/config.ts reads it)`);
  for (const name of seen)
    if (!expected.includes(name)) problems.push(`${file}: ${name} is not read by src/config.ts (remove it, or parse it there)`);
  return problems;
}

describe('environment variables: src/config.ts, .env.example, docs/configuration.md and docker-compose.yml agree', () => {
  it('src/config.ts derives a plausible list from its schemas', () => {
    // A guard on the derivation itself: both the common and the per-AUTH_MODE schemas count.
    expect(CONFIG_VARIABLES).toEqual(
      expect.arrayContaining(['NODE_ENV', 'PORT', 'AUTH_MODE', 'BETTER_AUTH_SECRET', 'AUTH_JWKS_URL', 'AUTH_JWT_SECRET']),
    );
  });

  it.each([
    ['.env.example', envExampleVariables],
    ['docs/configuration.md', configurationDocVariables],
    ['docker-compose.yml', composeVariables],
  ])('%s lists exactly the variables src/config.ts reads', (file, variables) => {
    expect(disagreements(file, variables())).toEqual([]);
  });
});
