import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { createLogger } from '../src/logger.ts';

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
