import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { projectRoot } from '../src/config.ts';
import { codeBlocks } from './support/docs.ts';

/**
 * Code the docs show from a file of the repository is that file: a block right below
 * `<!-- file: path -->` is the whole file, one below `<!-- excerpt: path -->` is a run of its lines
 * (compared without their indentation, so an excerpt from inside a function reads flush left).
 * There is no second copy to drift: change the file, and the docs must follow.
 */
const docs = ['README.md', ...readdirSync(path.join(projectRoot, 'docs')).map((f) => `docs/${f}`)].filter((f) => f.endsWith('.md'));
const blocks = docs.flatMap((doc) => codeBlocks(doc).map((block) => ({ doc, ...block })));
const read = (file: string) => readFileSync(path.join(projectRoot, file), 'utf8');
const lines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');

describe('code the docs show from the repository', () => {
  it("shows examples/client's files whole, and Apollo Client's setup from its test", () => {
    expect(blocks.flatMap((b) => b.file ?? [])).toEqual(
      expect.arrayContaining([
        'examples/client/tsconfig.json',
        'examples/client/codegen.ts',
        'examples/client/src/operations.graphql',
        'examples/client/src/client.ts',
      ]),
    );
    expect(blocks.flatMap((b) => b.excerptOf ?? [])).toContain('test/apollo-client.test.ts');
  });

  it.each(blocks.filter((b) => b.file !== undefined).map((b) => [b.doc, b.file!, b.code] as const))('%s shows %s as it is', (_doc, file, code) => {
    expect(code).toBe(read(file));
  });

  it.each(blocks.filter((b) => b.excerptOf !== undefined).map((b) => [b.doc, b.excerptOf!, b.code] as const))(
    '%s shows lines of %s as they are',
    (_doc, file, code) => {
      const excerpt = lines(code);
      const whole = lines(read(file));
      const at = whole.findIndex((_, i) => excerpt.every((line, j) => whole[i + j] === line));
      expect({ excerpt: code, found: at >= 0 }).toEqual({ excerpt: code, found: true });
    },
  );
});
