import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/db/embedded.ts';

/** Where Debian's `prometheus` package puts its programs (`.ci/run` installs it). */
const PROMTOOL = process.env['PROMTOOL'] ?? '/usr/bin/promtool';
const PROMETHEUS = process.env['PROMETHEUS'] ?? '/usr/bin/prometheus';

export const hasPromtool = existsSync(PROMTOOL);
export const hasPrometheus = existsSync(PROMETHEUS);

/** Runs promtool with `args`: its exit code and everything it printed. */
export function promtool(args: string[]): { code: number | null; output: string } {
  const run = spawnSync(PROMTOOL, args, { encoding: 'utf8', timeout: 30_000 });
  return { code: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}

/** `promtool check metrics` on an exposition text: its exit code and whatever it printed (problems). */
export function promtoolCheck(text: string): { code: number | null; output: string } {
  const run = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  return { code: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}

/** One series of an exposition text: name, labels and value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the sample lines of the Prometheus text format (enough for this server's output). */
export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the one sample with this name and these labels (undefined when absent). */
export function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

export interface PrometheusServer {
  /** Base URL of its HTTP API, e.g. http://127.0.0.1:9090 */
  url: string;
  /** Runs an instant query and returns its vector result. */
  query(promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  output(): string;
  stop(): Promise<void>;
}

/**
 * A real Prometheus server (Debian's), scraping `target` (host:port, path /metrics) every second,
 * with its own configuration and data folder in a temporary directory; stopped by its PID.
 */
export async function startPrometheus(target: string): Promise<PrometheusServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'taskgraph-prometheus-'));
  const config = path.join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      '  - job_name: taskgraph',
      '    static_configs:',
      `      - targets: ['${target}']`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const child = spawn(
    PROMETHEUS,
    [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    output: () => out,
    async query(promql) {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
      if (!res.ok) throw new Error(`Prometheus answered ${res.status} to ${promql}: ${await res.text()}`);
      const body = (await res.json()) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
      return body.data.result;
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(killer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
