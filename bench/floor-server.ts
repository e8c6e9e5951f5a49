/**
 * The floor: what "as fast as this machine allows" means for the hot path. Plain node:http, jose
 * EdDSA verification of the same tokens against the same JWKS (no cache), one prepared pg query
 * for the same 20 rows, JSON out. It must stay this simple: it is the reference, not a contender.
 *
 * Env: PORT, DATABASE_URL, JWKS_URL, ISSUER (also the audience).
 */
import http from 'node:http';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import pg from 'pg';

const env = process.env;
const pool = new pg.Pool({ connectionString: env['DATABASE_URL'], max: 10 });
const jwks = createLocalJWKSet((await (await fetch(env['JWKS_URL']!)).json()) as JSONWebKeySet);
const issuer = env['ISSUER']!;
const query = {
  name: 'floor_tasks',
  text: `select id, title, completed, priority, due_at, created_at, owner_id from task
         where owner_id = $1 order by created_at desc, id desc limit 20`,
};

const server = http.createServer((req, res) => {
  const token = req.headers.authorization?.slice('Bearer '.length) ?? '';
  req.resume();
  jwtVerify(token, jwks, { issuer, audience: issuer, algorithms: ['EdDSA'] })
    .then(({ payload }) => pool.query({ ...query, values: [payload.sub] }))
    .then(({ rows }) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ tasks: rows }));
    })
    .catch(() => res.writeHead(401).end());
});
server.listen(Number(env['PORT']), '127.0.0.1', () => console.log('floor ready'));
process.on('SIGTERM', () => {
  server.close();
  void pool.end().then(() => process.exit(0));
});
