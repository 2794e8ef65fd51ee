/**
 * Two channel engines wired to each other in-process, message by message (no transport): each
 * engine's host delivers to the other engine on a later task, in order, as a network would.
 */
import type { ChannelEngineHost } from '../../src/back/channel-engine.js';
import type { LdkChannelEngine } from '../../src/back/channels/ldk-engine.js';
import { initMessage } from './ldk-mini-back.js';

export class DirectLink {
  a: LdkChannelEngine | undefined;
  b: LdkChannelEngine | undefined;
  up = false;

  /** The host to give engine `side` at start. */
  host(side: 'a' | 'b'): ChannelEngineHost {
    return {
      sendToPeer: (_nodeId, message) => {
        const copy = message.slice();
        setImmediate(() => {
          const from = side === 'a' ? this.a : this.b;
          const to = side === 'a' ? this.b : this.a;
          if (this.up && from && to) to.handleMessage(from.nodeId(), copy);
        });
      },
      disconnectPeer: () => this.disconnect(),
    };
  }

  async connect(): Promise<void> {
    const { a, b } = this;
    if (!a || !b) throw new Error('both engines first');
    this.up = true;
    await a.peerConnected({ nodeId: b.nodeId(), inbound: false, init: initMessage(b.initFeatures()), remoteAddress: 'b' });
    await b.peerConnected({ nodeId: a.nodeId(), inbound: true, init: initMessage(a.initFeatures()), remoteAddress: 'a' });
  }

  disconnect(): void {
    if (!this.up) return;
    this.up = false;
    if (this.a && this.b) {
      this.a.peerDisconnected(this.b.nodeId());
      this.b.peerDisconnected(this.a.nodeId());
    }
  }
}
