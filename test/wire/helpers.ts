// Shared by the wire tests: fixture paths and hex helpers.
import { readFileSync } from 'node:fs';

const FIXTURES = new URL('../../../test/fixtures/', import.meta.url);

export function fixture(path: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(path, FIXTURES)));
}

export function fixtureText(path: string): string {
  return readFileSync(new URL(path, FIXTURES), 'utf8');
}

export function hex(s: string): Uint8Array {
  const clean = s.replace(/^0x/, '').replace(/\s+/g, '');
  return new Uint8Array(Buffer.from(clean, 'hex'));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
