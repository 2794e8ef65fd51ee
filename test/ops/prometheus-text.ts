// A strict parser of the Prometheus text exposition format (0.0.4), for tests: anything a Prometheus
// server would reject, or that breaks the format's rules (a family split in two, a TYPE after its
// samples, a duplicate series, a non-cumulative histogram), throws with the line number.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestamp?: number;
}

export interface MetricFamily {
  name: string;
  type: MetricType;
  help?: string;
  samples: Sample[];
}

export class PrometheusTextError extends Error {
  override readonly name = 'PrometheusTextError';
  readonly code = 'bad-exposition';
  constructor(readonly line: number, message: string) {
    super(`line ${line}: ${message}`);
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// Prometheus parses values with Go's ParseFloat: Inf and NaN in any case (prom-client writes "Nan").
const FLOAT = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|inf|infinity|nan)$/i;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseFloatStrict(text: string, line: number, what: string): number {
  if (!FLOAT.test(text)) throw new PrometheusTextError(line, `${what} ${JSON.stringify(text)} is not a float`);
  if (/^[+]?Inf$/i.test(text)) return Infinity;
  if (/^-Inf$/i.test(text)) return -Infinity;
  if (/^nan$/i.test(text)) return NaN;
  return Number(text);
}

/** The family a sample name belongs to, given the families whose TYPE has been declared. */
function familyOf(sampleName: string, declared: Map<string, MetricFamily>): string {
  for (const suffix of ['_bucket', '_sum', '_count', '_created']) {
    if (sampleName.endsWith(suffix)) {
      const base = sampleName.slice(0, -suffix.length);
      const family = declared.get(base);
      if (family && (family.type === 'histogram' || family.type === 'summary')) return base;
    }
  }
  return sampleName;
}

function parseLabels(text: string, line: number): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1; // after '{'
  for (;;) {
    while (text[i] === ' ') i++;
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) };
    const nameMatch = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i));
    if (!nameMatch) throw new PrometheusTextError(line, `bad label name at ${JSON.stringify(text.slice(i, i + 20))}`);
    const name = nameMatch[0];
    i += name.length;
    while (text[i] === ' ') i++;
    if (text[i] !== '=' || text[i + 1] !== '"') throw new PrometheusTextError(line, `label ${name}: expected ="`);
    i += 2;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new PrometheusTextError(line, `label ${name}: unterminated value`);
      if (c === '"') break;
      if (c === '\\') {
        const next = text[i + 1];
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else throw new PrometheusTextError(line, `label ${name}: bad escape \\${next ?? ''}`);
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    i++; // closing quote
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new PrometheusTextError(line, `reserved or bad label name ${name}`);
    if (name in labels) throw new PrometheusTextError(line, `label ${name} twice`);
    labels[name] = value;
    while (text[i] === ' ') i++;
    if (text[i] === ',') i++;
    else if (text[i] !== '}') throw new PrometheusTextError(line, `expected , or } after label ${name}`);
  }
}

export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const finished = new Set<string>();
  const series = new Set<string>();
  let current: string | undefined;
  if (text.length > 0 && !text.endsWith('\n')) throw new PrometheusTextError(text.split('\n').length, 'the last line must end with a newline');
  const lines = text.split('\n');
  lines.pop();
  const enter = (name: string, line: number) => {
    if (current === name) return;
    if (finished.has(name)) throw new PrometheusTextError(line, `family ${name} appears in two separate groups`);
    if (current) finished.add(current);
    current = name;
  };
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    if (raw.startsWith('#')) {
      const match = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(raw);
      if (!match) return; // a plain comment
      const [, kind, name, rest = ''] = match;
      if (!METRIC_NAME.test(name!)) throw new PrometheusTextError(line, `bad metric name ${name}`);
      enter(name!, line);
      let family = families.get(name!);
      if (kind === 'TYPE') {
        if (!TYPES.has(rest.trim() as MetricType)) throw new PrometheusTextError(line, `unknown type ${rest}`);
        if (family?.samples.length) throw new PrometheusTextError(line, `TYPE of ${name} after its samples`);
        if (family?.type !== undefined && family.type !== 'untyped') throw new PrometheusTextError(line, `second TYPE for ${name}`);
        if (family) family.type = rest.trim() as MetricType;
        else families.set(name!, { name: name!, type: rest.trim() as MetricType, samples: [] });
      } else {
        if (family?.help !== undefined) throw new PrometheusTextError(line, `second HELP for ${name}`);
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new PrometheusTextError(line, `bad escape in HELP of ${name}`);
        const help = rest.replace(/\\(\\|n)/g, (_m, c: string) => (c === 'n' ? '\n' : '\\'));
        if (family) family.help = help;
        else families.set(name!, (family = { name: name!, type: 'untyped', help, samples: [] }));
      }
      return;
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(raw);
    if (!nameMatch) throw new PrometheusTextError(line, `bad sample line ${JSON.stringify(raw.slice(0, 60))}`);
    const sampleName = nameMatch[0];
    let rest = raw.slice(sampleName.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, line));
    const parts = rest.trim().split(/\s+/);
    if (!rest.startsWith(' ') || parts.length < 1 || parts.length > 2 || parts[0] === '') throw new PrometheusTextError(line, `expected "value [timestamp]" after ${sampleName}`);
    const value = parseFloatStrict(parts[0]!, line, 'value');
    let timestamp: number | undefined;
    if (parts[1] !== undefined) {
      if (!/^-?\d+$/.test(parts[1])) throw new PrometheusTextError(line, `timestamp ${parts[1]} is not an integer`);
      timestamp = Number(parts[1]);
    }
    const familyName = familyOf(sampleName, families);
    enter(familyName, line);
    let family = families.get(familyName);
    if (!family) families.set(familyName, (family = { name: familyName, type: 'untyped', samples: [] }));
    const key = sampleName + JSON.stringify(Object.entries(labels).sort());
    if (series.has(key)) throw new PrometheusTextError(line, `duplicate series ${sampleName}${JSON.stringify(labels)}`);
    series.add(key);
    if ((family.type === 'counter' || sampleName.endsWith('_count') || sampleName.endsWith('_bucket')) && value < 0) {
      throw new PrometheusTextError(line, `${sampleName} is negative`);
    }
    family.samples.push({ name: sampleName, labels, value, ...(timestamp === undefined ? {} : { timestamp }) });
  });
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

/** Buckets cumulative and ending in le="+Inf" equal to _count, per label set. */
function checkHistogram(family: MetricFamily): void {
  const groups = new Map<string, { buckets: Array<[number, number]>; count?: number }>();
  for (const sample of family.samples) {
    const { le, ...others } = sample.labels;
    const key = JSON.stringify(Object.entries(others).sort());
    const group = groups.get(key) ?? { buckets: [] };
    groups.set(key, group);
    if (sample.name === `${family.name}_bucket`) {
      if (le === undefined) throw new PrometheusTextError(0, `${sample.name} without le`);
      group.buckets.push([le === '+Inf' ? Infinity : Number(le), sample.value]);
    } else if (sample.name === `${family.name}_count`) group.count = sample.value;
  }
  for (const [key, group] of groups) {
    const sorted = [...group.buckets].sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]![1] < sorted[i - 1]![1]) throw new PrometheusTextError(0, `${family.name}${key}: buckets not cumulative`);
    }
    const inf = sorted.at(-1);
    if (!inf || inf[0] !== Infinity) throw new PrometheusTextError(0, `${family.name}${key}: no le="+Inf" bucket`);
    if (group.count !== undefined && group.count !== inf[1]) throw new PrometheusTextError(0, `${family.name}${key}: +Inf bucket ${inf[1]} != count ${group.count}`);
  }
}

/** The value of one series, or undefined when absent. */
export function sampleValue(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const family of families.values()) {
    for (const sample of family.samples) {
      if (sample.name !== name) continue;
      const keys = Object.keys(labels);
      if (keys.length === Object.keys(sample.labels).length && keys.every((k) => sample.labels[k] === labels[k])) return sample.value;
    }
  }
  return undefined;
}
