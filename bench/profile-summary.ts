/**
 * Summarises a V8 .cpuprofile (from BENCH_SERVER_NODE_ARGS="--cpu-prof ..."): self time by package
 * (node_modules/<name>, the project's own src/, node internals) and the heaviest functions.
 * Usage: node bench/profile-summary.ts <file.cpuprofile> [top N]
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: node bench/profile-summary.ts <file.cpuprofile> [top N]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);

function area(url: string, name: string): string {
  if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') return name;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.includes('/src/')) return `src/${url.split('/src/')[1]!.split('/')[0]}`;
  if (url.startsWith('node:') || url === '') return 'node internals';
  return url;
}

const areas = new Map<string, number>();
const functions = new Map<string, number>();
for (const [id, us] of self) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  const a = area(url, functionName);
  areas.set(a, (areas.get(a) ?? 0) + us);
  const key = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
  functions.set(key, (functions.get(key) ?? 0) + us);
}
// Time under token verification: self time of every frame whose stack passes through the
// verifier (jose, the cache lookup, the directory of users), as a share of busy time.
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const underAuth = (id: number): boolean => {
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const { url, functionName } = byId.get(at)!.callFrame;
    if (url.includes('/src/auth/token-verifier.ts') || url.includes('/src/users/user.directory.ts') || functionName === 'authenticate') return true;
  }
  return false;
};
let authUs = 0;
for (const [id, us] of self) if (underAuth(id)) authUs += us;

const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
const busy = total - (areas.get('(idle)') ?? 0);
console.log(`total ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy\n\nself time by area (share of busy time):`);
for (const [a, us] of [...areas]
  .filter(([a]) => a !== '(idle)')
  .sort((x, y) => y[1] - x[1])
  .slice(0, 25)) {
  console.log(`${((100 * us) / busy).toFixed(1).padStart(5)}%  ${a}`);
}
console.log(`\ntoken verification and user lookup (inclusive): ${((100 * authUs) / busy).toFixed(1)}% of busy time`);
console.log('\nheaviest functions (self, share of all samples):');
for (const [f, us] of [...functions].sort((x, y) => y[1] - x[1]).slice(0, Number(topArg ?? 30))) console.log(`${pct(us)}  ${f}`);
