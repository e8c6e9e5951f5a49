// The production build, and what `npm start` runs (plain JavaScript: it runs before anything else).
//
//   node src/build.mjs           `npm run build`: src/ compiled to dist/ (tsconfig.build.json) from
//                                clean, and dist/ stamped with a hash of what it was built from.
//   node src/build.mjs --entry   src/serve.sh's choice: under NODE_ENV=production (the environment,
//                                else .env, as src/config.ts reads it) prints dist/index.js, after
//                                building it again unless its stamp is the hash of today's sources;
//                                otherwise prints src/index.ts (the sources run as they are).
//
// A hash of the sources' contents, not their times: a copy, an unpacked archive or a checkout can
// leave src/ older than a dist/ built from something else, and a stale dist/ must never run. The
// build goes to a folder of its own and replaces dist/ only once it succeeded (with its stamp), so
// a failed or interrupted build leaves nothing half-written, and a deleted source leaves no module
// behind. Messages go to stderr: stdout carries only the entry.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';

const root = path.resolve(import.meta.dirname, '..');
const dist = path.join(root, 'dist');
const stampFile = path.join(dist, '.sources.sha256');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const work = path.join(root, 'node_modules', '.cache', 'taskgraph-build');

/** What dist/ is made of: every file under src/, the two tsconfigs and the compiler's version. */
function sourcesHash() {
  const hash = createHash('sha256');
  const files = fs
    .readdirSync(path.join(root, 'src'), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)))
    .sort();
  for (const file of [...files, 'tsconfig.json', 'tsconfig.build.json']) {
    hash
      .update(`${file}\0`)
      .update(fs.readFileSync(path.join(root, file)))
      .update('\0');
  }
  const typescript = path.join(root, 'node_modules', 'typescript', 'package.json');
  hash.update(`typescript ${fs.existsSync(typescript) ? JSON.parse(fs.readFileSync(typescript, 'utf8')).version : 'none'}`);
  return hash.digest('hex');
}

function fail(message) {
  console.error(message);
  process.exit(1);
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

function build(hash) {
  if (!fs.existsSync(tsc)) {
    fail(
      'dist/ is missing or older than src/, and TypeScript (a devDependency) is not installed to build it.\n' +
        'Run `npm install` (or `npm ci`) first; a deployment without devDependencies runs a dist/ built elsewhere (as the Docker image does).',
    );
  }
  fs.mkdirSync(work, { recursive: true });
  // Left by builds that were interrupted.
  for (const name of fs.readdirSync(work)) {
    if (!alive(Number(name.split('-')[1]))) fs.rmSync(path.join(work, name), { recursive: true, force: true });
  }
  const out = path.join(work, `dist-${process.pid}`);
  fs.rmSync(out, { recursive: true, force: true });
  const compiled = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', out], { cwd: root, stdio: ['ignore', 2, 2] });
  if (compiled.status !== 0) {
    fs.rmSync(out, { recursive: true, force: true });
    fail(`npm run build: tsc failed (${compiled.status ?? compiled.signal}); dist/ is unchanged`);
  }
  fs.writeFileSync(path.join(out, path.basename(stampFile)), `${hash}\n`);
  // Swapped in whole. Two builds racing (two `npm start`s) each put a complete dist/ of the same
  // sources in place; the last one stays.
  const old = path.join(work, `old-${process.pid}`);
  for (;;) {
    try {
      fs.renameSync(dist, old);
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
    }
    try {
      fs.renameSync(out, dist);
      break;
    } catch (err) {
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    }
  }
  fs.rmSync(old, { recursive: true, force: true });
}

if (process.argv.includes('--entry')) {
  const envFile = path.join(root, '.env');
  const nodeEnv = process.env.NODE_ENV ?? (fs.existsSync(envFile) ? parseEnv(fs.readFileSync(envFile, 'utf8')).NODE_ENV : undefined);
  if (nodeEnv === 'production') {
    const hash = sourcesHash();
    const stamp = fs.existsSync(stampFile) ? fs.readFileSync(stampFile, 'utf8').trim() : undefined;
    if (stamp !== hash) {
      const started = Date.now();
      console.error(`npm start: building dist/ (${stamp ? 'src/ changed since it was built' : 'not built yet'}) ...`);
      build(hash);
      console.error(`npm start: built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
    console.log('dist/index.js');
  } else {
    console.log('src/index.ts');
  }
} else {
  build(sourcesHash());
}
