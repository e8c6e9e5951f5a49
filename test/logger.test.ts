import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { createLogger, repeatFilter } from '../src/logger.ts';
import { until } from './support/poll.ts';

/** The lines a production logger writes, parsed. */
function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger({ logLevel: 'info', nodeEnv: 'production' }, destination) };
}

describe('log lines', () => {
  it("never carry a request's or response's headers, even when a whole request object is logged", async () => {
    const { lines, logger } = capture();
    const req = {
      id: 'r1',
      method: 'POST',
      url: '/graphql',
      headers: { authorization: 'Bearer secret-token', cookie: 'session=secret' },
      socket: {},
    };
    const res = { statusCode: 200, headers: { 'set-cookie': 'session=secret', 'set-auth-jwt': 'secret-jwt' } };
    logger.info({ req, res, responseTime: 3 }, 'request completed');
    logger.child({ req }).warn('from a child bound to the request');
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.map((l) => [l['req'], l['res'], l['msg']])).toEqual([
      [{ id: 'r1', method: 'POST', url: '/graphql' }, { statusCode: 200 }, 'request completed'],
      [{ id: 'r1', method: 'POST', url: '/graphql' }, undefined, 'from a child bound to the request'],
    ]);
    expect(JSON.stringify(lines)).not.toContain('secret');
  });
});

describe('repeated lines', () => {
  it('are folded per document for refused operations: each distinct operation gets its own first line', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const logger = pino({ hooks: { logMethod: repeatFilter(50) } }, destination);
    const refused = 'refused an operation: not a trusted document';
    for (const hash of ['sha256:aa', 'sha256:bb', 'sha256:aa', 'sha256:aa', 'sha256:bb']) {
      logger.warn({ code: 'PERSISTED_QUERY_ID_REQUIRED', documentHash: hash, operationName: hash === 'sha256:aa' ? 'A' : 'B' }, refused);
    }
    await until('the two folded lines', () => lines.length >= 4);
    expect(lines.map((l) => [l['documentHash'], l['operationName'], l['repeated'], l['msg']])).toEqual([
      ['sha256:aa', 'A', undefined, refused],
      ['sha256:bb', 'B', undefined, refused],
      ['sha256:aa', 'A', 2, `${refused} (repeated 2 times in the last 0 s)`],
      ['sha256:bb', 'B', 1, `${refused} (repeated 1 times in the last 0 s)`],
    ]);
  });
});
