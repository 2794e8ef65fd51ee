import { defaultCrypto, type CryptoProvider } from '../crypto/index.js';
import { minimalFeatures } from '../features/index.js';
import type { NodeAddress } from '../wire/index.js';
import { nodeAddressFromText } from '../wire/address-from-text.js';
import { GossipError } from './errors.js';
import { signNodeAnnouncement } from './signatures.js';

export interface NodeAnnouncementInput {
  /** The node's 32-byte secret key: node_id is derived from it. */
  readonly secretKey: Uint8Array;
  /** At most 32 bytes of UTF-8; zero-padded on the wire. */
  readonly alias: string;
  /** "#rrggbb", "rrggbb" or 3 bytes. */
  readonly color: string | Uint8Array;
  /** Descriptors or their text ("1.2.3.4:9735", "[::1]:9735", "<56 chars>.onion:9735", "host.example:9735"). */
  readonly addresses: readonly (NodeAddress | string)[];
  /** node_announcement context feature bits (BOLT 9). Leading zero bytes are trimmed (big-endian bit field). */
  readonly features: Uint8Array;
  /** Seconds; must grow with every new announcement (BOLT 7). */
  readonly timestamp: number;
  readonly crypto?: CryptoProvider;
}

// BOLT 7: address descriptors SHOULD be in ascending type order; at most one DNS hostname.
const TYPE_ORDER: Record<NodeAddress['type'], number> = { ipv4: 1, ipv6: 2, torv2: 3, torv3: 4, dns: 5 };

/** Builds and signs our own node_announcement; returns the wire message (type included). */
export function buildNodeAnnouncement(input: NodeAnnouncementInput): Uint8Array {
  const crypto = input.crypto ?? defaultCrypto();
  if (!Number.isInteger(input.timestamp) || input.timestamp <= 0 || input.timestamp > 0xffffffff) {
    throw new GossipError('bad-input', `node_announcement timestamp ${input.timestamp} is not a positive u32`);
  }
  const addresses = input.addresses.map((a) => (typeof a === 'string' ? nodeAddressFromText(a) : a));
  if (addresses.some((a) => a.port === 0)) throw new GossipError('bad-input', 'an announced address has port 0 (peers ignore it)');
  if (addresses.filter((a) => a.type === 'dns').length > 1) throw new GossipError('bad-input', 'BOLT 7 allows at most one DNS hostname');
  if (addresses.some((a) => a.type === 'torv2')) throw new GossipError('bad-input', 'Tor v2 addresses are obsolete');
  const sorted = addresses.map((a, i) => ({ a, i })).sort((x, y) => TYPE_ORDER[x.a.type] - TYPE_ORDER[y.a.type] || x.i - y.i).map((x) => x.a);
  return signNodeAnnouncement(
    crypto,
    {
      features: minimalFeatures(input.features),
      timestamp: input.timestamp,
      nodeId: crypto.publicKey(input.secretKey),
      rgbColor: parseColor(input.color),
      alias: encodeAlias(input.alias),
      addresses: sorted,
    },
    input.secretKey,
  );
}

export function encodeAlias(alias: string): Uint8Array {
  const utf8 = new TextEncoder().encode(alias);
  if (utf8.length > 32) throw new GossipError('bad-input', `alias is ${utf8.length} bytes of UTF-8, at most 32 fit`);
  const out = new Uint8Array(32);
  out.set(utf8);
  return out;
}

/** The alias text of a node_announcement's 32 bytes (trailing zeros dropped; invalid UTF-8 replaced). */
export function decodeAlias(alias: Uint8Array): string {
  let end = alias.length;
  while (end > 0 && alias[end - 1] === 0) end--;
  return new TextDecoder().decode(alias.subarray(0, end));
}

export function parseColor(color: string | Uint8Array): Uint8Array {
  if (color instanceof Uint8Array) {
    if (color.length !== 3) throw new GossipError('bad-input', `rgb color must be 3 bytes, got ${color.length}`);
    return color.slice();
  }
  const m = /^#?([0-9a-fA-F]{6})$/.exec(color);
  if (!m) throw new GossipError('bad-input', `color ${JSON.stringify(color)} is not #rrggbb`);
  return Uint8Array.from(Buffer.from(m[1]!, 'hex'));
}
