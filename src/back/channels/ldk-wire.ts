/**
 * BOLT 2 messages <-> LDK's types, for a ChannelManager driven without LDK's PeerManager.
 * Inbound: whole wire message (2-byte type + payload) -> `constructor_read(payload)` -> the matching
 * `handle_*` of a ChannelMessageHandler. Outbound: LDK's MessageSendEvents -> whole wire messages.
 */
import * as ldk from 'lightningdevkit';

export const MessageType = {
  warning: 1,
  stfu: 2,
  init: 16,
  error: 17,
  ping: 18,
  pong: 19,
  openChannel: 32,
  acceptChannel: 33,
  fundingCreated: 34,
  fundingSigned: 35,
  channelReady: 36,
  shutdown: 38,
  closingSigned: 39,
  openChannel2: 64,
  acceptChannel2: 65,
  txAddInput: 66,
  txAddOutput: 67,
  txRemoveInput: 68,
  txRemoveOutput: 69,
  txComplete: 70,
  txSignatures: 71,
  txInitRbf: 72,
  txAckRbf: 73,
  txAbort: 74,
  spliceLocked: 77,
  spliceInit: 80,
  spliceAck: 81,
  updateAddHtlc: 128,
  updateFulfillHtlc: 130,
  updateFailHtlc: 131,
  commitmentSigned: 132,
  revokeAndAck: 133,
  updateFee: 134,
  updateFailMalformedHtlc: 135,
  channelReestablish: 136,
  channelAnnouncement: 256,
  nodeAnnouncement: 257,
  channelUpdate: 258,
  announcementSignatures: 259,
  queryShortChannelIds: 261,
  queryChannelRange: 263,
  replyChannelRange: 264,
  gossipTimestampFilter: 265,
} as const;

/** Anything the bindings hand out that has a native pointer. */
interface Native {
  write(): Uint8Array;
}

/**
 * The bindings represent an absent optional struct as an object whose native pointer is 0 (its
 * `write()` emits garbage: an all-zero `update_fee` once force-closed a channel). `ptr` is
 * protected in the typings, hence the cast.
 */
export function isPresent(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  const ptr = (value as { ptr?: unknown }).ptr;
  return typeof ptr !== 'bigint' || ptr !== 0n;
}

export function withType(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + payload.length);
  out[0] = type >> 8;
  out[1] = type & 0xff;
  out.set(payload, 2);
  return out;
}

export function messageType(message: Uint8Array): number {
  return (message[0]! << 8) | message[1]!;
}

type DecodeFailure =
  | 'unknown-version'
  | 'unknown-required-feature'
  | 'invalid-value'
  | 'short-read'
  | 'bad-length-descriptor'
  | 'io'
  | 'unsupported-compression'
  | 'dangerous-value';

function decodeFailure(err: ldk.DecodeError): DecodeFailure {
  if (err instanceof ldk.DecodeError_UnknownVersion) return 'unknown-version';
  if (err instanceof ldk.DecodeError_UnknownRequiredFeature) return 'unknown-required-feature';
  if (err instanceof ldk.DecodeError_ShortRead) return 'short-read';
  if (err instanceof ldk.DecodeError_BadLengthDescriptor) return 'bad-length-descriptor';
  if (err instanceof ldk.DecodeError_Io) return 'io';
  if (err instanceof ldk.DecodeError_UnsupportedCompression) return 'unsupported-compression';
  if (err instanceof ldk.DecodeError_DangerousValue) return 'dangerous-value';
  return 'invalid-value';
}

/** What the decode table produced for one inbound message. */
export type Inbound =
  | { kind: 'channel'; name: string; deliver(handler: ldk.ChannelMessageHandler, nodeId: Uint8Array): void }
  | { kind: 'error'; message: ldk.ErrorMessage }
  | { kind: 'warning'; message: ldk.WarningMessage }
  | { kind: 'malformed'; name: string; reason: DecodeFailure }
  | { kind: 'ignored'; reason: 'unknown-odd' | 'not-a-channel-message' }
  | { kind: 'unknown-even' };

interface ReadResult {
  is_ok(): boolean;
}

interface Entry {
  name: string;
  decode(payload: Uint8Array): Inbound;
}

type HandleName = {
  [K in keyof ldk.ChannelMessageHandler]: K extends `handle_${string}` ? K : never;
}[keyof ldk.ChannelMessageHandler];

/** One decode-table row: the message's reader and the handler method that takes what it reads. */
function entry<K extends HandleName>(name: string, read: (payload: Uint8Array) => ReadResult, method: K): Entry {
  return {
    name,
    decode(payload) {
      const result = read(payload);
      if (!result.is_ok()) {
        return { kind: 'malformed', name, reason: decodeFailure((result as unknown as { err: ldk.DecodeError }).err) };
      }
      const msg = (result as unknown as { res: unknown }).res;
      return {
        kind: 'channel',
        name,
        deliver: (h, nodeId) => (h[method] as (this: ldk.ChannelMessageHandler, id: Uint8Array, m: unknown) => void).call(h, nodeId, msg),
      };
    },
  };
}

const T = MessageType;
const INBOUND = new Map<number, Entry>([
  [T.openChannel, entry('open_channel', ldk.OpenChannel.constructor_read, 'handle_open_channel')],
  [T.acceptChannel, entry('accept_channel', ldk.AcceptChannel.constructor_read, 'handle_accept_channel')],
  [T.openChannel2, entry('open_channel2', ldk.OpenChannelV2.constructor_read, 'handle_open_channel_v2')],
  [T.acceptChannel2, entry('accept_channel2', ldk.AcceptChannelV2.constructor_read, 'handle_accept_channel_v2')],
  [T.fundingCreated, entry('funding_created', ldk.FundingCreated.constructor_read, 'handle_funding_created')],
  [T.fundingSigned, entry('funding_signed', ldk.FundingSigned.constructor_read, 'handle_funding_signed')],
  [T.channelReady, entry('channel_ready', ldk.ChannelReady.constructor_read, 'handle_channel_ready')],
  [T.shutdown, entry('shutdown', ldk.Shutdown.constructor_read, 'handle_shutdown')],
  [T.closingSigned, entry('closing_signed', ldk.ClosingSigned.constructor_read, 'handle_closing_signed')],
  [T.stfu, entry('stfu', ldk.Stfu.constructor_read, 'handle_stfu')],
  [T.txAddInput, entry('tx_add_input', ldk.TxAddInput.constructor_read, 'handle_tx_add_input')],
  [T.txAddOutput, entry('tx_add_output', ldk.TxAddOutput.constructor_read, 'handle_tx_add_output')],
  [T.txRemoveInput, entry('tx_remove_input', ldk.TxRemoveInput.constructor_read, 'handle_tx_remove_input')],
  [T.txRemoveOutput, entry('tx_remove_output', ldk.TxRemoveOutput.constructor_read, 'handle_tx_remove_output')],
  [T.txComplete, entry('tx_complete', ldk.TxComplete.constructor_read, 'handle_tx_complete')],
  [T.txSignatures, entry('tx_signatures', ldk.TxSignatures.constructor_read, 'handle_tx_signatures')],
  [T.txInitRbf, entry('tx_init_rbf', ldk.TxInitRbf.constructor_read, 'handle_tx_init_rbf')],
  [T.txAckRbf, entry('tx_ack_rbf', ldk.TxAckRbf.constructor_read, 'handle_tx_ack_rbf')],
  [T.txAbort, entry('tx_abort', ldk.TxAbort.constructor_read, 'handle_tx_abort')],
  [T.updateAddHtlc, entry('update_add_htlc', ldk.UpdateAddHTLC.constructor_read, 'handle_update_add_htlc')],
  [T.updateFulfillHtlc, entry('update_fulfill_htlc', ldk.UpdateFulfillHTLC.constructor_read, 'handle_update_fulfill_htlc')],
  [T.updateFailHtlc, entry('update_fail_htlc', ldk.UpdateFailHTLC.constructor_read, 'handle_update_fail_htlc')],
  [
    T.updateFailMalformedHtlc,
    entry('update_fail_malformed_htlc', ldk.UpdateFailMalformedHTLC.constructor_read, 'handle_update_fail_malformed_htlc'),
  ],
  [T.commitmentSigned, entry('commitment_signed', ldk.CommitmentSigned.constructor_read, 'handle_commitment_signed')],
  [T.revokeAndAck, entry('revoke_and_ack', ldk.RevokeAndACK.constructor_read, 'handle_revoke_and_ack')],
  [T.updateFee, entry('update_fee', ldk.UpdateFee.constructor_read, 'handle_update_fee')],
  [T.channelReestablish, entry('channel_reestablish', ldk.ChannelReestablish.constructor_read, 'handle_channel_reestablish')],
  [
    T.announcementSignatures,
    entry('announcement_signatures', ldk.AnnouncementSignatures.constructor_read, 'handle_announcement_signatures'),
  ],
  // LDK's PeerManager gives every channel_update to the channel handler too (private channels' updates).
  [T.channelUpdate, entry('channel_update', ldk.ChannelUpdate.constructor_read, 'handle_channel_update')],
]);

/** Types the fronts own (BOLT 1 and BOLT 7 queries/announcements): never an engine matter. */
const NOT_FOR_ENGINE = new Set<number>([
  T.init,
  T.ping,
  T.pong,
  T.channelAnnouncement,
  T.nodeAnnouncement,
  T.queryShortChannelIds,
  262,
  T.queryChannelRange,
  T.replyChannelRange,
  T.gossipTimestampFilter,
]);

/** Decodes one whole wire message (type included). Never throws. */
export function decodeInbound(message: Uint8Array): Inbound {
  if (message.length < 2) return { kind: 'malformed', name: 'truncated', reason: 'short-read' };
  const type = messageType(message);
  const payload = message.subarray(2);
  if (type === T.error) {
    const r = ldk.ErrorMessage.constructor_read(payload);
    if (r instanceof ldk.Result_ErrorMessageDecodeErrorZ_OK) return { kind: 'error', message: r.res };
    return { kind: 'malformed', name: 'error', reason: decodeFailure((r as ldk.Result_ErrorMessageDecodeErrorZ_Err).err) };
  }
  if (type === T.warning) {
    const r = ldk.WarningMessage.constructor_read(payload);
    if (r instanceof ldk.Result_WarningMessageDecodeErrorZ_OK) return { kind: 'warning', message: r.res };
    return { kind: 'malformed', name: 'warning', reason: decodeFailure((r as ldk.Result_WarningMessageDecodeErrorZ_Err).err) };
  }
  const known = INBOUND.get(type);
  if (known) return known.decode(payload);
  if (NOT_FOR_ENGINE.has(type)) return { kind: 'ignored', reason: 'not-a-channel-message' };
  return type % 2 === 1 ? { kind: 'ignored', reason: 'unknown-odd' } : { kind: 'unknown-even' };
}

/** What one MessageSendEvent asks of us. */
export type Outbound =
  | { kind: 'send'; nodeId: Uint8Array; messages: Uint8Array[]; disconnect: boolean }
  | { kind: 'broadcast'; messages: Uint8Array[] }
  | { kind: 'none' };

function w(type: number, msg: Native): Uint8Array {
  return withType(type, msg.write());
}

function send(nodeId: Uint8Array, messages: Uint8Array[], disconnect = false): Outbound {
  return { kind: 'send', nodeId, messages, disconnect };
}

/** Wire messages for one commitment update, in LDK's own order. */
function commitmentUpdate(u: ldk.CommitmentUpdate): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const m of u.get_update_add_htlcs()) out.push(w(T.updateAddHtlc, m));
  for (const m of u.get_update_fulfill_htlcs()) out.push(w(T.updateFulfillHtlc, m));
  for (const m of u.get_update_fail_htlcs()) out.push(w(T.updateFailHtlc, m));
  for (const m of u.get_update_fail_malformed_htlcs()) out.push(w(T.updateFailMalformedHtlc, m));
  const fee = u.get_update_fee();
  if (isPresent(fee)) out.push(w(T.updateFee, fee));
  out.push(w(T.commitmentSigned, u.get_commitment_signed()));
  return out;
}

function errorAction(nodeId: Uint8Array, action: ldk.ErrorAction): Outbound {
  if (action instanceof ldk.ErrorAction_DisconnectPeer) {
    return send(nodeId, isPresent(action.msg) ? [w(T.error, action.msg)] : [], true);
  }
  if (action instanceof ldk.ErrorAction_DisconnectPeerWithWarning) return send(nodeId, [w(T.warning, action.msg)], true);
  if (action instanceof ldk.ErrorAction_SendErrorMessage) return send(nodeId, [w(T.error, action.msg)]);
  if (action instanceof ldk.ErrorAction_SendWarningMessage) return send(nodeId, [w(T.warning, action.msg)]);
  return { kind: 'none' }; // IgnoreError, IgnoreAndLog, IgnoreDuplicateGossip
}

/** Maps one of LDK's MessageSendEvents to what must go on the wire. */
export function encodeOutbound(e: ldk.MessageSendEvent): Outbound {
  const M = ldk;
  if (e instanceof M.MessageSendEvent_SendOpenChannel) return send(e.node_id, [w(T.openChannel, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendAcceptChannel) return send(e.node_id, [w(T.acceptChannel, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendOpenChannelV2) return send(e.node_id, [w(T.openChannel2, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendAcceptChannelV2) return send(e.node_id, [w(T.acceptChannel2, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendFundingCreated) return send(e.node_id, [w(T.fundingCreated, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendFundingSigned) return send(e.node_id, [w(T.fundingSigned, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendStfu) return send(e.node_id, [w(T.stfu, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendSpliceInit) return send(e.node_id, [w(T.spliceInit, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendSpliceAck) return send(e.node_id, [w(T.spliceAck, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendSpliceLocked) return send(e.node_id, [w(T.spliceLocked, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendTxAddInput) return send(e.node_id, [w(T.txAddInput, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendTxAddOutput) return send(e.node_id, [w(T.txAddOutput, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendTxRemoveInput) return send(e.node_id, [w(T.txRemoveInput, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendTxRemoveOutput) return send(e.node_id, [w(T.txRemoveOutput, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendTxComplete) return send(e.node_id, [w(T.txComplete, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendTxSignatures) return send(e.node_id, [w(T.txSignatures, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendTxInitRbf) return send(e.node_id, [w(T.txInitRbf, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendTxAckRbf) return send(e.node_id, [w(T.txAckRbf, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendTxAbort) return send(e.node_id, [w(T.txAbort, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendChannelReady) return send(e.node_id, [w(T.channelReady, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendAnnouncementSignatures) return send(e.node_id, [w(T.announcementSignatures, e.msg)]);
  if (e instanceof M.MessageSendEvent_UpdateHTLCs) return send(e.node_id, commitmentUpdate(e.updates));
  if (e instanceof M.MessageSendEvent_SendRevokeAndACK) return send(e.node_id, [w(T.revokeAndAck, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendClosingSigned) return send(e.node_id, [w(T.closingSigned, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendShutdown) return send(e.node_id, [w(T.shutdown, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendChannelReestablish) return send(e.node_id, [w(T.channelReestablish, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendChannelAnnouncement) {
    const msgs = [w(T.channelAnnouncement, e.msg)];
    if (isPresent(e.update_msg)) msgs.push(w(T.channelUpdate, e.update_msg));
    return send(e.node_id, msgs);
  }
  if (e instanceof M.MessageSendEvent_SendChannelUpdate) return send(e.node_id, [w(T.channelUpdate, e.msg)]);
  if (e instanceof M.MessageSendEvent_BroadcastChannelAnnouncement) {
    const msgs = [w(T.channelAnnouncement, e.msg)];
    if (isPresent(e.update_msg)) msgs.push(w(T.channelUpdate, e.update_msg));
    return { kind: 'broadcast', messages: msgs };
  }
  if (e instanceof M.MessageSendEvent_BroadcastChannelUpdate) return { kind: 'broadcast', messages: [w(T.channelUpdate, e.msg)] };
  if (e instanceof M.MessageSendEvent_BroadcastNodeAnnouncement) return { kind: 'broadcast', messages: [w(T.nodeAnnouncement, e.msg)] };
  if (e instanceof M.MessageSendEvent_HandleError) return errorAction(e.node_id, e.action);
  if (e instanceof M.MessageSendEvent_SendChannelRangeQuery) return send(e.node_id, [w(T.queryChannelRange, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendShortIdsQuery) return send(e.node_id, [w(T.queryShortChannelIds, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendReplyChannelRange) return send(e.node_id, [w(T.replyChannelRange, e.msg)]);
  if (e instanceof M.MessageSendEvent_SendGossipTimestampFilter) return send(e.node_id, [w(T.gossipTimestampFilter, e.msg)]);
  return { kind: 'none' };
}

/** A BOLT 1 `warning` (channel_id zero = the whole connection), as LDK's PeerManager sends on bad input. */
export function warningMessage(data: string, channelId: Uint8Array = new Uint8Array(32)): Uint8Array {
  const text = new TextEncoder().encode(data);
  const out = new Uint8Array(2 + 32 + 2 + text.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, T.warning);
  out.set(channelId, 2);
  view.setUint16(34, text.length);
  out.set(text, 36);
  return out;
}
