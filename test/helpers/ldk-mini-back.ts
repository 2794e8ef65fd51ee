/**
 * A minimal "back" for engine tests: a TCP listener terminating BOLT 8 with the project's transport
 * (the static key's ECDH done by the engine, as for a keyless front), the BOLT 1 init exchange and
 * ping/pong, and everything else handed to the channel engine.
 */
import { createServer, type AddressInfo, type Server } from 'node:net';
import { noiseAccept, type NoiseConnection } from '../../src/lightning/transport/connection.js';
import type { ChannelEngine, ChannelEngineHost } from '../../src/back/channel-engine.js';
import { chainHash } from '../../src/lightning/chains.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export function initMessage(features: Uint8Array): Uint8Array {
  const chain = chainHash('regtest');
  const out = Buffer.alloc(2 + 2 + 2 + features.length + 2 + 32);
  let o = out.writeUInt16BE(16, 0);
  o = out.writeUInt16BE(0, o);
  o = out.writeUInt16BE(features.length, o);
  out.set(features, o);
  o += features.length;
  out[o++] = 1; // networks TLV
  out[o++] = 32;
  out.set(chain, o);
  return new Uint8Array(out);
}

export interface MiniBackEngine {
  nodeId(): Uint8Array;
  ecdh(point: Uint8Array): Uint8Array;
}

/** Routes the engine's output to live sessions; the engine is set once started. */
export class MiniBack implements ChannelEngineHost {
  engine: (ChannelEngine & MiniBackEngine) | undefined;
  private server: Server | undefined;
  readonly sessions = new Map<string, NoiseConnection>();
  readonly sent: Array<{ nodeId: string; message: Uint8Array }> = [];
  readonly disconnects: Array<{ nodeId: string; reason: string }> = [];
  readonly connectedPeers = new Set<string>();

  sendToPeer(nodeId: Uint8Array, message: Uint8Array): void {
    this.sent.push({ nodeId: hex(nodeId), message });
    this.sessions.get(hex(nodeId))?.send(message);
  }
  disconnectPeer(nodeId: Uint8Array, reason: string): void {
    this.disconnects.push({ nodeId: hex(nodeId), reason });
    this.sessions.get(hex(nodeId))?.close();
  }

  async listen(): Promise<number> {
    this.server = createServer((socket) => void this.accept(socket));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return (this.server.address() as AddressInfo).port;
  }

  private async accept(socket: import('node:net').Socket): Promise<void> {
    const engine = this.engine;
    if (!engine) return void socket.destroy();
    let conn: NoiseConnection;
    try {
      conn = await noiseAccept(socket, { staticKey: { publicKey: engine.nodeId(), ecdh: (p) => engine.ecdh(p) }, timeoutMs: 20_000 });
    } catch {
      return;
    }
    const id = hex(conn.remoteNodeId);
    let ready = false;
    let previous: NoiseConnection | undefined = this.sessions.get(id);
    if (previous) previous.close();
    conn.send(initMessage(engine.initFeatures()));
    conn.on('message', (m) => {
      const type = (m[0]! << 8) | m[1]!;
      if (!ready) {
        if (type !== 16) return conn.close();
        ready = true;
        if (previous && this.sessions.get(id) === previous) {
          this.sessions.delete(id);
          engine.peerDisconnected(conn.remoteNodeId);
        }
        previous = undefined;
        this.sessions.set(id, conn);
        engine
          .peerConnected({ nodeId: conn.remoteNodeId, inbound: true, init: m, remoteAddress: conn.remoteAddress ?? '' })
          .then(() => this.connectedPeers.add(id))
          .catch(() => conn.close());
        return;
      }
      if (type === 18) {
        const numPong = (m[2]! << 8) | m[3]!;
        if (numPong < 65532) {
          const pong = new Uint8Array(4 + numPong);
          pong[1] = 19;
          pong[2] = numPong >> 8;
          pong[3] = numPong & 0xff;
          conn.send(pong);
        }
        return;
      }
      if (type === 19) return;
      engine.handleMessage(conn.remoteNodeId, m);
    });
    conn.on('close', () => {
      if (this.sessions.get(id) === conn) {
        this.sessions.delete(id);
        this.connectedPeers.delete(id);
        engine.peerDisconnected(conn.remoteNodeId);
      }
    });
  }

  async close(): Promise<void> {
    for (const c of this.sessions.values()) c.close();
    this.sessions.clear();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
