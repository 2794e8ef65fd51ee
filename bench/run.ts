// `npm run bench [-- --json] [-- --only name,name]`: every benchmark of the project in one run.
// With --json: one JSON object per line {"bench","value","unit","baseline"}; otherwise a table.
// Figures are ratios against a baseline measured in the same run wherever one exists; record them
// in docs/benchmarks.md with the command that produced them.
import { pathToFileURL } from 'node:url';
import type { BenchResult } from './result.js';

type BenchFunction = () => Promise<BenchResult[]>;
type Suite = { name: string; file: string; exported: string };

// Loaded by URL so that a suite can be added without touching the others, and a missing one is reported.
const SUITES: Suite[] = [
  { name: 'transport', file: './transport.js', exported: 'benchTransport' },
  { name: 'wire', file: './wire.js', exported: 'benchWire' },
  { name: 'gossip-ingest', file: './gossip-ingest.js', exported: 'benchGossipIngest' },
  { name: 'gossip-front', file: './gossip-front.js', exported: 'benchGossipFront' },
  { name: 'keyless', file: './keyless.js', exported: 'benchKeyless' },
  { name: 'balancer', file: './balancer.js', exported: 'benchBalancer' },
];

async function loadSuite(suite: Suite): Promise<BenchFunction> {
  const module = (await import(new URL(suite.file, import.meta.url).href)) as Record<string, unknown>;
  const run = module[suite.exported];
  if (typeof run !== 'function') throw new Error(`${suite.file} does not export ${suite.exported}`);
  return run as BenchFunction;
}

function table(rows: BenchResult[]): string {
  const width = Math.max(...rows.map((r) => r.bench.length), 5);
  const lines = rows.map((r) => {
    const ratio = r.baseline ? `  (baseline ${r.baseline}, ${(r.value / r.baseline).toFixed(2)}x)` : '';
    return `${r.bench.padEnd(width)}  ${String(r.value).padStart(12)} ${r.unit}${ratio}`;
  });
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const onlyIndex = argv.indexOf('--only');
  const only = onlyIndex >= 0 ? new Set((argv[onlyIndex + 1] ?? '').split(',')) : undefined;
  let failed = 0;
  for (const suite of SUITES) {
    if (only && !only.has(suite.name)) continue;
    let run: BenchFunction;
    try {
      run = await loadSuite(suite);
    } catch (error) {
      // A suite whose module is not there yet is reported, not fatal.
      process.stderr.write(`bench ${suite.name}: not available (${(error as Error).message})\n`);
      continue;
    }
    process.stderr.write(`bench ${suite.name}: running\n`);
    try {
      const rows = await run();
      if (json) for (const row of rows) process.stdout.write(JSON.stringify(row) + '\n');
      else process.stdout.write(`\n== ${suite.name}\n${table(rows)}\n`);
    } catch (error) {
      failed++;
      process.stderr.write(`bench ${suite.name} failed: ${(error as Error).stack ?? String(error)}\n`);
    }
  }
  return failed === 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
