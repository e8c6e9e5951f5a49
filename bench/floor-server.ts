/**
 * The floor: what "as fast as this machine allows" means for the hot paths. Plain node:http, jose
 * EdDSA verification of the same tokens against the same JWKS (no cache), one prepared pg
 * statement per request, JSON out. It must stay this simple: it is the reference, not a contender.
 *
 *   GET  /        the viewer's 20 newest tasks (one SELECT)
 *   POST /create  {title, priority}: one INSERT ... RETURNING
 *   POST /update  {id, completed}: one UPDATE ... RETURNING, the owner in the WHERE
 *
 * Writes go to floor_task, which bench/run.ts creates as a copy of task (columns, defaults, indexes
 * and rows) without task's triggers: the floor the issue defines is a write with no trigger.
 *
 * Env: PORT, DATABASE_URL, JWKS_URL, ISSUER (also the audience).
 */
import http from 'node:http';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';

const env = process.env;
const pool = new pg.Pool({ connectionString: env['DATABASE_URL'], max: 10 });
const jwks = createLocalJWKSet((await (await fetch(env['JWKS_URL']!)).json()) as JSONWebKeySet);
const issuer = env['ISSUER']!;
const COLUMNS = 'id, title, completed, priority, due_at, created_at, updated_at, version, owner_id';
const list = {
  name: 'floor_tasks',
  text: `select ${COLUMNS} from task where owner_id = $1 order by created_at desc, id desc limit 20`,
};
const create = {
  name: 'floor_create',
  text: `insert into floor_task (id, owner_id, title, priority, created_at, updated_at) values ($1, $2, $3, $4, now(), now()) returning ${COLUMNS}`,
};
const update = {
  name: 'floor_update',
  text: `update floor_task set completed = $1, updated_at = now(), version = version + 1 where id = $2 and owner_id = $3 returning ${COLUMNS}`,
};
const PRIORITY: Record<string, number> = { LOW: 0, MEDIUM: 1, HIGH: 2 };

function body(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(chunks.length ? (JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>) : {}));
    req.on('error', reject);
  });
}

const server = http.createServer((req, res) => {
  const token = req.headers.authorization?.slice('Bearer '.length) ?? '';
  Promise.all([jwtVerify(token, jwks, { issuer, audience: issuer, algorithms: ['EdDSA'] }), body(req)])
    .then(([{ payload }, input]) => {
      if (req.url === '/create') {
        return pool.query({ ...create, values: [uuidv7(), payload.sub, input['title'], PRIORITY[String(input['priority'])] ?? 1] });
      }
      if (req.url === '/update') return pool.query({ ...update, values: [input['completed'], input['id'], payload.sub] });
      return pool.query({ ...list, values: [payload.sub] });
    })
    .then(({ rows }: { rows: unknown[] }) => {
      if (req.url === '/update' && rows.length === 0) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.url === '/' ? { tasks: rows } : { task: rows[0] }));
    })
    .catch(() => res.writeHead(401).end());
});
server.listen(Number(env['PORT']), '127.0.0.1', () => console.log('floor ready'));
process.on('SIGTERM', () => {
  server.close();
  void pool.end().then(() => process.exit(0));
});
