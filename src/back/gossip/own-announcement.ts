import { defaultCrypto } from '../../lightning/crypto/index.js';
import { buildNodeAnnouncement, type NodeAnnouncementInput } from '../../lightning/gossip/node-announcement.js';
import type { RoutingTable } from './routing-table.js';
import type { Decision } from './types.js';

export type OwnAnnouncementInput = Omit<NodeAnnouncementInput, 'timestamp'>;

/**
 * Our own node_announcement: signed with the node key, timestamp strictly above the one the table holds
 * for us (BOLT 7: MUST be greater than any previous one), then fed to the table like any other gossip
 * (so it is persisted and replicated to the fronts through the table's change events). The table accepts
 * it only once one of our channels is public (BOLT 7: a node_announcement needs a channel); until then
 * the decision says 'no-channel-for-node' and there is nothing to publish yet.
 */
export function publishOwnNodeAnnouncement(table: RoutingTable, input: OwnAnnouncementInput): { message: Uint8Array; decision: Decision } {
  const nodeId = (input.crypto ?? defaultCrypto()).publicKey(input.secretKey);
  const previous = table.getNode(nodeId)?.timestamp ?? 0;
  const timestamp = Math.max(table.now(), previous + 1);
  const message = buildNodeAnnouncement({ ...input, timestamp });
  return { message, decision: table.ingest(message, []) };
}
