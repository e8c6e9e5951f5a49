import type { IncomingMessage } from 'node:http';

export class BodyTooLarge extends Error {
  override name = 'BodyTooLarge';
}

/** The client did not send its body within the bound. */
export class BodyTimeout extends Error {
  override name = 'BodyTimeout';
}

/**
 * Time allowed to receive a body once its headers are in: a client trickling a small body byte by
 * byte would otherwise hold its request open until the server's request timeout.
 */
export const BODY_TIMEOUT_MS = 10_000;

/**
 * The request body, up to `limit` bytes, within `timeoutMs`. Refuses a larger declared length
 * before reading, and stops reading (and rejects) as soon as a chunked body goes over.
 */
export function readBody(req: IncomingMessage, limit: number, timeoutMs = BODY_TIMEOUT_MS): Promise<Buffer> {
  const reading = new Promise<Buffer>((resolve, reject) => {
    if (Number(req.headers['content-length']) > limit) {
      req.resume();
      reject(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.resume();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => {
      // A body in one chunk (the usual small request) is resolved as it is, without a copy.
      const [first] = chunks;
      resolve(chunks.length === 1 && first ? first : Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      req.pause();
      reject(new BodyTimeout());
    }, timeoutMs);
  });
  return Promise.race([reading, timeout]).finally(() => clearTimeout(timer));
}
