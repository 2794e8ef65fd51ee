import { PayloadReader, PayloadWriter } from './codec.js';
import type { GossipFrameMessage } from './messages.js';

/**
 * Gossip over the cluster link, inside `gossip` frames (one sub-type byte, then the payload):
 * - back -> front `snapshot-batch` (the routing table in batches at link-up), `snapshot-end`,
 *   `accepted` (newly accepted gossip from any front, with the peers it came from, for the replica
 *   and the rebroadcast), `decisions` (verdicts on what this front forwarded: rejections name why);
 * - front -> back `gossip-in` (new gossip, once per item, with every peer it came from).
 * Peer node ids travel as 33 bytes. A malformed payload is a ClusterProtocolError.
 */
export interface GossipRecord {
  message: Uint8Array;
  /** Hex node ids of the peers the item came from. */
  origins: string[];
}

/**
 * Verdict reasons that blame the relaying peer rather than the state of the network: a front mutes a peer
 * that sends many of them. Names of the back's RejectReason; src/back/gossip/types.ts checks them at
 * compile time.
 */
export const PEER_FAULT_VERDICT_REASONS = ['malformed', 'bad-signature'] as const;

export interface GossipVerdict {
  key: string;
  accepted: boolean;
  reason: string;
}

export type GossipLinkMessage =
  | { kind: 'snapshot-batch'; messages: Uint8Array[] }
  | { kind: 'snapshot-end'; total: number }
  | { kind: 'accepted'; records: GossipRecord[] }
  | { kind: 'decisions'; verdicts: GossipVerdict[] }
  | { kind: 'gossip-in'; records: Array<GossipRecord & { key: string }> };

const SUB_TYPES = { 'snapshot-batch': 1, 'snapshot-end': 2, accepted: 3, decisions: 4, 'gossip-in': 16 } as const;

function writeOrigins(w: PayloadWriter, origins: string[]): void {
  w.u8(Math.min(origins.length, 255));
  for (const origin of origins.slice(0, 255)) w.fixedBytes(Uint8Array.from(Buffer.from(origin, 'hex')), 33, 'origin node id');
}

function readOrigins(r: PayloadReader): string[] {
  const count = r.u8();
  return Array.from({ length: count }, () => Buffer.from(r.fixedBytes(33)).toString('hex'));
}

export function encodeGossipFrame(message: GossipLinkMessage): GossipFrameMessage {
  const w = new PayloadWriter();
  switch (message.kind) {
    case 'snapshot-batch':
      w.u32(message.messages.length);
      for (const m of message.messages) w.bytes16(m);
      break;
    case 'snapshot-end':
      w.u32(message.total);
      break;
    case 'accepted':
      w.u32(message.records.length);
      for (const record of message.records) {
        w.bytes16(record.message);
        writeOrigins(w, record.origins);
      }
      break;
    case 'decisions':
      w.u32(message.verdicts.length);
      for (const v of message.verdicts) w.string16(v.key).bool(v.accepted).string16(v.reason);
      break;
    case 'gossip-in':
      w.u32(message.records.length);
      for (const record of message.records) {
        w.string16(record.key).bytes16(record.message);
        writeOrigins(w, record.origins);
      }
      break;
  }
  return { type: 'gossip', subType: SUB_TYPES[message.kind], payload: w.finish() };
}

export function decodeGossipFrame(frame: GossipFrameMessage): GossipLinkMessage {
  const r = new PayloadReader(frame.payload, 'gossip');
  const count = () => {
    const n = r.u32();
    // Each item takes at least 2 bytes: a count beyond that is a lie, not an allocation.
    if (n > r.remaining / 2) r.fail(`count ${n} exceeds the payload`);
    return n;
  };
  let message: GossipLinkMessage;
  switch (frame.subType) {
    case SUB_TYPES['snapshot-batch']:
      message = { kind: 'snapshot-batch', messages: Array.from({ length: count() }, () => r.bytes16()) };
      break;
    case SUB_TYPES['snapshot-end']:
      message = { kind: 'snapshot-end', total: r.u32() };
      break;
    case SUB_TYPES.accepted:
      message = { kind: 'accepted', records: Array.from({ length: count() }, () => ({ message: r.bytes16(), origins: readOrigins(r) })) };
      break;
    case SUB_TYPES.decisions:
      message = { kind: 'decisions', verdicts: Array.from({ length: count() }, () => ({ key: r.string16(), accepted: r.bool(), reason: r.string16() })) };
      break;
    case SUB_TYPES['gossip-in']:
      message = { kind: 'gossip-in', records: Array.from({ length: count() }, () => ({ key: r.string16(), message: r.bytes16(), origins: readOrigins(r) })) };
      break;
    default:
      return r.fail(`unknown gossip sub-type ${frame.subType}`);
  }
  r.end();
  return message;
}
