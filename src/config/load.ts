import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { CONFIG_KEYS, LEGACY_ENV, SECRET_KEYS, type Config, type ConfigKey } from './keys.js';

export type ConfigSource = 'default' | `file ${string}` | `env ${string}` | `flag --${string}`;

export interface ConfigProblem {
  key: string;
  value: string;
  expected: string;
  source: ConfigSource | 'command line';
}

/** Every problem found at once, each naming the key, the bad value, the expected form and its source. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'bad-config';
  constructor(readonly problems: ConfigProblem[]) {
    super(
      'invalid configuration:\n' +
        problems.map((p) => `  ${p.key} = ${JSON.stringify(p.value)} (from ${p.source}): expected ${p.expected}`).join('\n'),
    );
  }
}

export interface LoadedConfig {
  config: Config;
  /** Where each key's value came from. */
  sources: Record<ConfigKey, ConfigSource>;
  /** log.level.<module> overrides. */
  moduleLogLevels: Record<string, string>;
  /** Flags that are not configuration keys, for the command to interpret. */
  rest: string[];
}

export interface LoadOptions {
  argv: string[];
  env?: NodeJS.ProcessEnv;
  /** Defaults a command changes (the demo runs on regtest). */
  overrides?: Partial<Record<ConfigKey, string>>;
  /** Flags the command handles itself and which take a value (e.g. ['--fronts']). */
  commandFlagsWithValue?: string[];
}

const KEY_NAMES = Object.keys(CONFIG_KEYS) as ConfigKey[];
const MODULE_LEVEL = /^log\.level\.[a-z0-9-]+$/;

/** The known key closest to a misspelt one (edit distance at most 3), for "did you mean". */
function nearestKey(key: string): ConfigKey | undefined {
  let best: { key: ConfigKey; distance: number } | undefined;
  for (const candidate of KEY_NAMES) {
    const distance = editDistance(key, candidate);
    if (distance <= 3 && (!best || distance < best.distance)) best = { key: candidate, distance };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

export function envNameOf(key: string): string {
  return 'LNCLUSTER_' + key.toUpperCase().replace(/[.-]/g, '_');
}

function describeExpected(key: ConfigKey, message: string): string {
  return `${message} (${CONFIG_KEYS[key].doc})`;
}

/** Parses `key = value` lines; `#` starts a comment; lists are comma-separated. */
export function parseConfigFile(text: string, file: string): { entries: Array<[string, string]>; problems: ConfigProblem[] } {
  const entries: Array<[string, string]> = [];
  const problems: ConfigProblem[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (!line) return;
    const eq = line.indexOf('=');
    if (eq <= 0) {
      problems.push({ key: `line ${index + 1}`, value: line, expected: '`key = value`', source: `file ${file}` });
      return;
    }
    entries.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1')]);
  });
  return { entries, problems };
}

export function loadConfig(options: LoadOptions): LoadedConfig {
  const env = options.env ?? process.env;
  const raw = new Map<string, { value: string; source: ConfigSource }>();
  const problems: ConfigProblem[] = [];
  const moduleLogLevels: Record<string, string> = {};
  const rest: string[] = [];
  const set = (key: string, value: string, source: ConfigSource) => {
    if (MODULE_LEVEL.test(key)) {
      if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(value)) {
        problems.push({ key, value, expected: 'one of fatal, error, warn, info, debug, trace, silent', source });
      } else moduleLogLevels[key.slice('log.level.'.length)] = value;
      return;
    }
    if (!(key in CONFIG_KEYS)) {
      const near = nearestKey(key);
      problems.push({ key, value, expected: `a known key${near ? ` (did you mean ${near}?)` : ''}`, source });
      return;
    }
    raw.set(key, { value, source });
  };

  for (const [key, value] of Object.entries(options.overrides ?? {})) if (value !== undefined) raw.set(key, { value, source: 'default' });

  // Flags: split configuration keys from the command's own flags; --config names the file.
  const flags: Array<[string, string]> = [];
  let configFile: string | undefined;
  const argv = options.argv;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      rest.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const isKey = name in CONFIG_KEYS || MODULE_LEVEL.test(name) || name === 'config';
    if (!isKey) {
      rest.push(arg);
      if (eq < 0 && options.commandFlagsWithValue?.includes(arg) && i + 1 < argv.length) rest.push(argv[++i]!);
      continue;
    }
    let value: string;
    if (eq > 0) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) value = argv[++i]!;
    else {
      problems.push({ key: name, value: '', expected: 'a value after the flag', source: 'command line' });
      continue;
    }
    if (name === 'config') configFile = value;
    else flags.push([name, value]);
  }

  configFile ??= env['LNCLUSTER_CONFIG'];
  if (configFile) {
    let text: string | undefined;
    try {
      text = readFileSync(configFile, 'utf8');
    } catch (error) {
      problems.push({ key: 'config', value: configFile, expected: `a readable file (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`, source: 'command line' });
    }
    if (text !== undefined) {
      const parsed = parseConfigFile(text, configFile);
      problems.push(...parsed.problems);
      for (const [key, value] of parsed.entries) set(key, value, `file ${configFile}`);
    }
  }

  for (const [name, mapping] of Object.entries(LEGACY_ENV)) {
    const value = env[name];
    if (value !== undefined && value !== '') set(mapping.key, mapping.transform ? mapping.transform(value) : value, `env ${name}`);
  }
  for (const key of KEY_NAMES) {
    const name = envNameOf(key);
    const value = env[name];
    if (value !== undefined) set(key, value, `env ${name}`);
  }
  for (const [key, value] of flags) set(key, value, `flag --${key}`);

  const config = {} as Record<ConfigKey, unknown>;
  const sources = {} as Record<ConfigKey, ConfigSource>;
  for (const key of KEY_NAMES) {
    const spec = CONFIG_KEYS[key];
    const given = raw.get(key);
    let input: unknown = given?.value ?? spec.default;
    if (given && Array.isArray(spec.default)) input = given.value.split(',').map((s) => s.trim()).filter(Boolean);
    const result = spec.schema.safeParse(input);
    if (!result.success) {
      const shown = SECRET_KEYS.has(key) ? '[redacted]' : String(given?.value ?? spec.default);
      problems.push({ key, value: shown, expected: describeExpected(key, result.error.issues.map((i) => i.message).join('; ')), source: given?.source ?? 'default' });
      continue;
    }
    config[key] = result.data;
    sources[key] = given?.source ?? 'default';
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const typed = config as Config;
  // Paths relative to the data dir are resolved once, here.
  const dataDir = resolve(typed['data-dir']);
  typed['data-dir'] = dataDir;
  const inData = (value: string, fallback: string) => (value === '' ? resolve(dataDir, fallback) : isAbsolute(value) ? value : resolve(value));
  typed['node-key.file'] = inData(typed['node-key.file'], 'node_key');
  typed['cluster.cert'] = inData(typed['cluster.cert'], 'cluster.crt');
  typed['cluster.key'] = inData(typed['cluster.key'], 'cluster.key');
  typed['cluster.password-file'] = inData(typed['cluster.password-file'], 'cluster.password');
  typed['back.admin-password-file'] = inData(typed['back.admin-password-file'], 'admin.password');
  return { config: typed, sources, moduleLogLevels, rest };
}

export function splitHostPort(value: string): { host: string; port: number } {
  const colon = value.lastIndexOf(':');
  const host = value.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(value.slice(colon + 1)) };
}
