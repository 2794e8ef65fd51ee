// Shared by the gossip tests: fixtures and small byte helpers.
import { readFileSync } from 'node:fs';
import { readGossipRecords } from '../../src/lightning/wire/index.js';

const FIXTURES = new URL('../../../test/fixtures/', import.meta.url);

/** Messages of a committed `.gossip` fixture (copies). */
export function fixtureMessages(path: string): Uint8Array[] {
  return [...readGossipRecords(new Uint8Array(readFileSync(new URL(path, FIXTURES))))].map((m) => m.slice());
}

export function typeOf(m: Uint8Array): number {
  return (m[0]! << 8) | m[1]!;
}

/** A copy with one bit flipped at `index`. */
export function flipped(m: Uint8Array, index: number): Uint8Array {
  const copy = m.slice();
  copy[index]! ^= 0x01;
  return copy;
}

export const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
