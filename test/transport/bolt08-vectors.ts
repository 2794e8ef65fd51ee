// Parses the committed copy of BOLT 8 Appendix A (test/fixtures/bolt08) into blocks the tests can run.
import { readFileSync } from 'node:fs';

export interface VectorStep {
  readonly kind: 'input' | 'output';
  readonly value: string;
}

export interface VectorBlock {
  readonly name: string;
  /** Every `key: value` / `key=value` line, first occurrence wins (ls.priv, e.priv, rs.pub, ck, sk, ...). */
  readonly fields: ReadonlyMap<string, string>;
  /** The act inputs and outputs, in order. */
  readonly steps: readonly VectorStep[];
  /** `output N:` lines of the message test. */
  readonly numberedOutputs: ReadonlyMap<number, string>;
}

export const FIXTURE_URL = new URL('../../../test/fixtures/bolt08/transport-test-vectors.md', import.meta.url);

export function loadBolt08Vectors(): VectorBlock[] {
  const text = readFileSync(FIXTURE_URL, 'utf8');
  const blocks: VectorBlock[] = [];
  let current: { name: string; fields: Map<string, string>; steps: VectorStep[]; numberedOutputs: Map<number, string> } | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('## ')) current = undefined; // prose of the next section, not part of a block
    if (line === '' || line.startsWith('#') || line.startsWith('```')) continue;
    const match = /^(output \d+|[A-Za-z][A-Za-z0-9.,]*)\s*[:=]\s*(.*)$/.exec(line);
    if (!match) continue;
    const key = match[1]!;
    const value = match[2]!.trim();
    if (key === 'name') {
      current = { name: value, fields: new Map(), steps: [], numberedOutputs: new Map() };
      blocks.push(current);
      continue;
    }
    if (!current) continue;
    const numbered = /^output (\d+)$/.exec(key);
    if (numbered) current.numberedOutputs.set(Number(numbered[1]), value);
    else if (key === 'input' || key === 'output') current.steps.push({ kind: key, value });
    else if (!current.fields.has(key)) current.fields.set(key, value);
  }
  return blocks;
}

export function hex(value: string): Uint8Array {
  const clean = value.startsWith('0x') ? value.slice(2) : value;
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) throw new Error(`not hex: ${value}`);
  return new Uint8Array(Buffer.from(clean, 'hex'));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** `ERROR (ACT1_BAD_VERSION)` -> `ACT1_BAD_VERSION`; undefined for a hex output. */
export function errorName(value: string): string | undefined {
  return /^ERROR \(([A-Z0-9_]+)/.exec(value)?.[1];
}

/** `sk,rk=0xA,0xB` -> { sk: A, rk: B }. */
export function keyPair(value: string): Record<string, Uint8Array> {
  const [names, values] = value.split('=') as [string, string];
  const keys = names.split(',');
  const parts = values.split(',');
  return Object.fromEntries(keys.map((name, index) => [name.trim(), hex(parts[index]!.trim())]));
}
