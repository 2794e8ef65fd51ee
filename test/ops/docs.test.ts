// The operator documents stay true to the code: every registered metric is documented (and nothing
// documented is gone), and relative links between documents resolve.
import test from 'ava';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from './config-reference.js';

const root = repoRoot();

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Metric names as the code registers them: `name: 'lncluster_...'` or a helper's first argument. */
function registeredMetrics(): Set<string> {
  const names = new Set<string>();
  for (const file of sourceFiles(join(root, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(?:name:\s*|\b(?:gauge|counter|mirrored|histogram)\(\s*)'(lncluster_[a-z0-9_]+)'/g)) names.add(match[1]!);
  }
  return names;
}

test('docs/operations.md documents every metric the code registers, and no other', (t) => {
  const registered = registeredMetrics();
  t.true(registered.has('lncluster_front_peers') && registered.has('lncluster_back_peers'), 'the scan finds metrics');
  const doc = readFileSync(join(root, 'docs', 'operations.md'), 'utf8');
  const documented = new Set([...doc.matchAll(/^\| `(lncluster_[a-z0-9_]+)` \|/gm)].map((m) => m[1]!));
  t.deepEqual([...registered].filter((n) => !documented.has(n)).sort(), [], 'registered but not in the metrics table of docs/operations.md');
  t.deepEqual([...documented].filter((n) => !registered.has(n)).sort(), [], 'documented but not registered any more');
});

test('the operator documents exist and their relative links resolve', (t) => {
  for (const name of ['architecture.md', 'deploy.md', 'operations.md', 'configuration.md']) {
    const file = join(root, 'docs', name);
    t.true(existsSync(file), `docs/${name}`);
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
      const target = match[1]!;
      if (/^[a-z]+:/.test(target)) continue;
      t.true(existsSync(join(dirname(file), target)), `docs/${name} links to ${target}`);
    }
  }
});
