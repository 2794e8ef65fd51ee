// The configuration examples (config/*.conf) and docs/configuration.md agree with src/config/keys.ts.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_KEYS, LEGACY_ENV, type ConfigKey } from '../../src/config/keys.js';
import { envNameOf, loadConfig } from '../../src/config/load.js';
import { CONFIGURATION_DOC, defaultText, repoRoot } from './config-reference.js';

const root = repoRoot();
const EXAMPLES = ['back', 'front', 'balancer', 'tor'].map((role) => join(root, 'config', `${role}.conf`));
/** `key = value` or `# key = value` (a setting shown with its default or an example value). */
const SETTING = /^(#\s*)?([a-z][a-z0-9-]*(?:\.[a-z0-9-]+)*)\s*=(.*)$/;
const isKnown = (key: string) => key in CONFIG_KEYS || /^log\.level\.[a-z0-9-]+$/.test(key);

function settings(file: string): Array<{ key: string; value: string; commented: boolean; line: number }> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((text, index) => ({ match: SETTING.exec(text), line: index + 1 }))
    .filter((x) => x.match)
    .map(({ match, line }) => ({ key: match![2]!, value: match![3]!.replace(/\s#.*$/, '').trim(), commented: match![1] !== undefined, line }));
}

test('each example parses with loadConfig, without errors', (t) => {
  for (const file of EXAMPLES) t.notThrows(() => loadConfig({ argv: ['--config', file], env: {} }), file);
});

test('examples mention only known keys, and every commented value would be valid too', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lncluster-conf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const file of EXAMPLES) {
    const found = settings(file);
    t.true(found.length > 5, `${file} has settings`);
    for (const { key, line } of found) t.true(isKnown(key), `${file}:${line}: unknown key ${key}`);
    // Every shown value, uncommented, still loads: the examples never show an invalid value.
    for (const { key, value, line } of found.filter((s) => s.commented && s.value !== '')) {
      const one = join(dir, 'one.conf');
      writeFileSync(one, `${key} = ${value}\n`);
      t.notThrows(() => loadConfig({ argv: ['--config', one], env: {} }), `${file}:${line}: ${key} = ${value}`);
    }
  }
});

test('every configuration key appears in at least one example', (t) => {
  const mentioned = new Set(EXAMPLES.flatMap((file) => settings(file).map((s) => s.key)));
  const missing = (Object.keys(CONFIG_KEYS) as ConfigKey[]).filter((key) => !mentioned.has(key));
  t.deepEqual(missing, [], `keys without an example in config/*.conf: add them to the role that reads them`);
});

test('commented lines without another value show the default', (t) => {
  // A commented `key = value` whose value equals no default is an example value; those are allowed
  // only for keys whose default is empty (nothing to show) or for a handful of illustrations.
  const examplesAllowed = new Set(['log.level.back', 'discovery.static', 'balancer.tor-listen', 'tor.targets', 'discovery.back-admin-url']);
  for (const file of EXAMPLES) {
    for (const { key, value, commented, line } of settings(file)) {
      if (!commented || value === '' || examplesAllowed.has(key) || !(key in CONFIG_KEYS)) continue;
      t.is(value, defaultText(key as ConfigKey).replace(/^\((empty|empty list)\)$/, ''), `${file}:${line}: ${key} shows ${value}, default is ${defaultText(key as ConfigKey)}`);
    }
  }
});

test('docs/configuration.md lists every key with its environment names, default and meaning', (t) => {
  const text = readFileSync(join(root, CONFIGURATION_DOC), 'utf8');
  const rows = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const match = /^\| `([a-z][a-z0-9.-]*)` \|(.*)\|$/.exec(line);
    if (match) rows.set(match[1]!, match[2]!.split(' | ').map((c) => c.trim()));
  }
  const regenerate = 'regenerate: npx tsc -p . && node dist/test/ops/config-reference.js --write';
  t.deepEqual([...rows.keys()].sort(), Object.keys(CONFIG_KEYS).sort(), `the keys of docs/configuration.md differ from CONFIG_KEYS; ${regenerate}`);
  for (const key of Object.keys(CONFIG_KEYS) as ConfigKey[]) {
    const cells = rows.get(key);
    if (!cells) continue;
    const legacy = Object.entries(LEGACY_ENV).filter(([, m]) => m.key === key).map(([name]) => name);
    t.is(cells[0], [envNameOf(key), ...legacy].map((n) => `\`${n}\``).join(', '), `${key}: environment names; ${regenerate}`);
    t.is(cells[1], `\`${defaultText(key).replace(/\|/g, '\\|')}\``, `${key}: default; ${regenerate}`);
    t.is(cells[3], CONFIG_KEYS[key].doc.replace(/\|/g, '\\|'), `${key}: meaning; ${regenerate}`);
  }
});
