/** Wire message type numbers (BOLT 1, 2, 4, 7). */
export const MESSAGE_TYPES = {
  warning: 1,
  stfu: 2,
  peer_storage: 7,
  peer_storage_retrieval: 9,
  init: 16,
  error: 17,
  ping: 18,
  pong: 19,
  open_channel: 32,
  accept_channel: 33,
  funding_created: 34,
  funding_signed: 35,
  channel_ready: 36,
  shutdown: 38,
  closing_signed: 39,
  closing_complete: 40,
  closing_sig: 41,
  open_channel2: 64,
  accept_channel2: 65,
  tx_add_input: 66,
  tx_add_output: 67,
  tx_remove_input: 68,
  tx_remove_output: 69,
  tx_complete: 70,
  tx_signatures: 71,
  tx_init_rbf: 72,
  tx_ack_rbf: 73,
  tx_abort: 74,
  splice_locked: 77,
  splice_init: 80,
  splice_ack: 81,
  start_batch: 127,
  update_add_htlc: 128,
  update_fulfill_htlc: 130,
  update_fail_htlc: 131,
  commitment_signed: 132,
  revoke_and_ack: 133,
  update_fee: 134,
  update_fail_malformed_htlc: 135,
  channel_reestablish: 136,
  channel_announcement: 256,
  node_announcement: 257,
  channel_update: 258,
  announcement_signatures: 259,
  query_short_channel_ids: 261,
  reply_short_channel_ids_end: 262,
  query_channel_range: 263,
  reply_channel_range: 264,
  gossip_timestamp_filter: 265,
  onion_message: 513,
} as const;

export type MessageName = keyof typeof MESSAGE_TYPES;

/** BOLT 2 messages we route by channel id without decoding their bodies. */
export const CHANNEL_MESSAGE_NAMES = [
  'stfu',
  'open_channel',
  'accept_channel',
  'funding_created',
  'funding_signed',
  'channel_ready',
  'shutdown',
  'closing_signed',
  'closing_complete',
  'closing_sig',
  'open_channel2',
  'accept_channel2',
  'tx_add_input',
  'tx_add_output',
  'tx_remove_input',
  'tx_remove_output',
  'tx_complete',
  'tx_signatures',
  'tx_init_rbf',
  'tx_ack_rbf',
  'tx_abort',
  'splice_locked',
  'splice_init',
  'splice_ack',
  'start_batch',
  'update_add_htlc',
  'update_fulfill_htlc',
  'update_fail_htlc',
  'commitment_signed',
  'revoke_and_ack',
  'update_fee',
  'update_fail_malformed_htlc',
  'channel_reestablish',
] as const satisfies readonly MessageName[];

export type ChannelMessageName = (typeof CHANNEL_MESSAGE_NAMES)[number];

const NAME_BY_TYPE = new Map<number, MessageName>(
  (Object.entries(MESSAGE_TYPES) as [MessageName, number][]).map(([name, type]) => [type, name]),
);
const CHANNEL_TYPES = new Set<number>(CHANNEL_MESSAGE_NAMES.map((n) => MESSAGE_TYPES[n]));
const GOSSIP_TYPES = new Set<number>([256, 257, 258, 261, 262, 263, 264, 265]);

/** The BOLT name of a message type, or `unknown_<type>`. */
export function messageTypeName(type: number): string {
  return NAME_BY_TYPE.get(type) ?? `unknown_${type}`;
}

export function knownMessageName(type: number): MessageName | undefined {
  return NAME_BY_TYPE.get(type);
}

/**
 * True for messages that belong to one channel and go to the channel engine: the BOLT 2 messages, and
 * `announcement_signatures` (BOLT 7, but it carries a channel_id and needs the node key: it is not gossip).
 */
export function isChannelMessage(type: number): boolean {
  return CHANNEL_TYPES.has(type) || type === MESSAGE_TYPES.announcement_signatures;
}

/** True for gossip (channel_announcement, node_announcement, channel_update) and gossip queries (261-265). */
export function isGossipMessage(type: number): boolean {
  return GOSSIP_TYPES.has(type);
}

/** Where the 32-byte channel id sits in a channel message's payload (after the 2-byte type). */
export function channelIdOffset(type: number): number {
  // open_channel and open_channel2 start with chain_hash, then the temporary channel id.
  return type === MESSAGE_TYPES.open_channel || type === MESSAGE_TYPES.open_channel2 ? 32 : 0;
}
