// Generates docs/configuration.md from src/config/keys.ts (the one place keys, defaults and meanings
// live), so the document cannot drift: `node dist/test/ops/config-reference.js --write` rewrites it,
// and test/ops/config-docs.test.ts fails when it is out of date.
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_KEYS, LEGACY_ENV, SECRET_KEYS, type ConfigKey } from '../../src/config/keys.js';
import { envNameOf } from '../../src/config/load.js';

/** The repository root, found upwards from this file (dist-NAME/test/ops or test/ops). */
export function repoRoot(): string {
  let dir = fileURLToPath(new URL('.', import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src', 'config', 'keys.ts'))) return dir;
    dir = join(dir, '..');
  }
  throw new Error('repository root not found');
}

export const ROLE_FOLDERS: Record<string, string> = { back: 'src/back', front: 'src/front', balancer: 'src/balancer', tor: 'src/tor' };
/** Files that mention every key (definitions, path resolution): never evidence that a role reads one. */
const NOT_EVIDENCE = new Set(['src/config/keys.ts', 'src/config/load.ts']);

function filesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  if (statSync(path).isFile()) return path.endsWith('.ts') ? [path] : [];
  return readdirSync(path).flatMap((name) => filesUnder(join(path, name)));
}

/** A role's own files plus the files they import from elsewhere in src (one level: config, cli, discovery...). */
function roleSources(root: string, folder: string): string[] {
  const own = filesUnder(join(root, folder));
  const files = new Set(own);
  for (const file of own) {
    for (const match of readFileSync(file, 'utf8').matchAll(/from '(\.\.?\/[^']+)\.js'/g)) {
      const target = join(dirname(file), `${match[1]}.ts`);
      if (existsSync(target) && !NOT_EVIDENCE.has(relative(root, target))) files.add(target);
    }
  }
  return [...files];
}

/** Which roles' source (or what it imports) mentions each key as a quoted string: what the code reads today. */
export function keysReadBy(root = repoRoot()): Record<ConfigKey, string[]> {
  const sources = Object.fromEntries(Object.entries(ROLE_FOLDERS).map(([role, folder]) => [role, roleSources(root, folder).map((f) => readFileSync(f, 'utf8')).join('\n')]));
  const result = {} as Record<ConfigKey, string[]>;
  for (const key of Object.keys(CONFIG_KEYS) as ConfigKey[]) {
    const quoted = [`'${key}'`, `"${key}"`]; // not backticks: those are comments and docs
    const dotted = key === 'network' || key === 'discovery' ? new RegExp(`config\\.${key}\\b`) : undefined;
    result[key] = Object.entries(sources)
      .filter(([, text]) => quoted.some((q) => text.includes(q)) || (dotted?.test(text) ?? false))
      .map(([role]) => role);
  }
  return result;
}

export function defaultText(key: ConfigKey): string {
  const value: unknown = CONFIG_KEYS[key].default;
  if (Array.isArray(value)) return value.length === 0 ? '(empty list)' : value.join(', ');
  return value === '' ? '(empty)' : String(value);
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

const LEGACY_BY_KEY = new Map<string, string[]>();
for (const [name, mapping] of Object.entries(LEGACY_ENV)) LEGACY_BY_KEY.set(mapping.key, [...(LEGACY_BY_KEY.get(mapping.key) ?? []), name]);

export function renderConfigurationDoc(readBy: Record<ConfigKey, string[]>): string {
  const keys = Object.keys(CONFIG_KEYS) as ConfigKey[];
  const groups = new Map<string, ConfigKey[]>();
  for (const key of keys) {
    const group = key.includes('.') ? key.slice(0, key.indexOf('.')) : 'general';
    groups.set(group, [...(groups.get(group) ?? []), key]);
  }
  const lines = [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/keys.ts by test/ops/config-reference.ts: do not edit by hand.',
    '     Regenerate: npx tsc -p . && node dist/test/ops/config-reference.js --write -->',
    '',
    'Every role reads the same keys from four sources; a later source overrides an earlier one:',
    '',
    '1. the defaults below;',
    '2. a file given with `--config FILE` (or `LNCLUSTER_CONFIG`): `key = value` lines, `#` starts a comment, lists are',
    '   comma-separated (examples per role in `config/*.conf`);',
    '3. the environment: `LNCLUSTER_` + the key upper-cased with `.` and `-` as `_` (`front.max-peers` →',
    '   `LNCLUSTER_FRONT_MAX_PEERS`), and the legacy names of eclair\'s cluster mode listed below;',
    '4. flags: `--key value` or `--key=value`.',
    '',
    'At start every value is checked; all problems are reported at once, each naming the key, the bad value, the',
    'expected form and the source (`from file /etc/lncluster/front.conf`, `from env NODE_PUB_KEY`, `from flag',
    '--front.listen`), and the process exits with code 2. Unknown keys are errors too, with the nearest known key',
    'suggested. Values of secret keys (' + [...SECRET_KEYS].map((k) => `\`${k}\``).join(', ') + ') are shown as `[redacted]`.',
    '',
    '`log.level.<module>` (for example `log.level.gossip = debug`) sets the level of one module.',
    '',
    'Paths left empty default to a file in `data-dir`; relative paths are resolved from the working directory.',
    '',
    '## Legacy environment names',
    '',
    '| variable | sets | note |',
    '|---|---|---|',
    ...Object.entries(LEGACY_ENV).map(
      ([name, m]) => `| \`${name}\` | \`${m.key}\` | ${name === 'BACKEND_IP' ? 'an IP address or host name; `:9736` is appended (IPv6 bracketed)' : name === 'NODE_PUB_KEY' ? 'the back refuses to start when its node key does not match; a front refuses a back that serves another node id' : name === 'CLUSTER_TLS_PASSWORD' ? 'prefer `cluster.password-file`: the environment of a process is readable by its user' : 'this front\'s address as the back and the balancer reach it'} |`,
    ),
    '',
    'The `LNCLUSTER_*` name of a key overrides its legacy name when both are set.',
    '',
    '## Keys',
    '',
    '"Used by" is found by the generator: the roles whose source (`src/<role>` and the modules it imports) names the key.',
    'It is a guide, not a contract; "(not read yet)" marks a key that is defined and validated but not used by any role',
    'in this version.',
  ];
  for (const [group, groupKeys] of groups) {
    lines.push('', `### ${group}`, '', '| key | environment | default | used by | meaning |', '|---|---|---|---|---|');
    for (const key of groupKeys) {
      const env = [envNameOf(key), ...(LEGACY_BY_KEY.get(key) ?? [])].map((n) => `\`${n}\``).join(', ');
      const roles = readBy[key].length === 0 ? '(not read yet)' : readBy[key].join(', ');
      lines.push(`| \`${key}\` | ${env} | \`${cell(defaultText(key))}\` | ${roles} | ${cell(CONFIG_KEYS[key].doc)} |`);
    }
  }
  return lines.join('\n') + '\n';
}

export const CONFIGURATION_DOC = 'docs/configuration.md';

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv.includes('--write')) {
  const root = repoRoot();
  const file = join(root, CONFIGURATION_DOC);
  writeFileSync(file, renderConfigurationDoc(keysReadBy(root)));
  process.stdout.write(`wrote ${relative(process.cwd(), file)}\n`);
}
