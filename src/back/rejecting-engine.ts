import { encodeError } from '../lightning/wire/messages.js';
import { channelIdOffset, messageTypeName, MESSAGE_TYPES } from '../lightning/wire/types.js';
import type { Logger } from '../util/log.js';
import type { ChannelEngine, ChannelEngineHost, ConnectedPeer } from './channel-engine.js';

/**
 * The channel engine used when none is configured: this node accepts no channels. It answers
 * `open_channel` (and `open_channel2`) with an `error` for that temporary channel id, saying so,
 * and logs every other channel message.
 */
export class RejectingChannelEngine implements ChannelEngine {
  constructor(
    private readonly host: ChannelEngineHost,
    private readonly features: Uint8Array,
    private readonly log: Logger,
  ) {}

  initFeatures(): Uint8Array {
    return this.features;
  }

  async peerConnected(_peer: ConnectedPeer): Promise<void> {}

  peerDisconnected(_nodeId: Uint8Array): void {}

  handleMessage(nodeId: Uint8Array, message: Uint8Array): void {
    const type = message.length >= 2 ? (message[0]! << 8) | message[1]! : -1;
    const peer = Buffer.from(nodeId).toString('hex');
    if (type === MESSAGE_TYPES.open_channel || type === MESSAGE_TYPES.open_channel2) {
      const offset = 2 + channelIdOffset(type); // channelIdOffset counts from the end of the type
      if (message.length < offset + 32) {
        this.log.info({ peer, type: messageTypeName(type) }, 'truncated open_channel ignored');
        return;
      }
      const channelId = message.slice(offset, offset + 32);
      this.log.info({ peer, channelId: Buffer.from(channelId).toString('hex') }, 'refusing open_channel: no channel engine configured');
      this.host.sendToPeer(nodeId, encodeError({ type: 'error', channelId, data: new TextEncoder().encode('this node does not accept channels') }));
      return;
    }
    this.log.info({ peer, type: type >= 0 ? messageTypeName(type) : 'empty', bytes: message.length }, 'channel message received; no channel engine configured');
  }

  hasChannelWith(_nodeId: Uint8Array): boolean {
    return false;
  }

  async close(): Promise<void> {}
}
