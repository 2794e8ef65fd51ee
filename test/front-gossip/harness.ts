// Helpers for the front gossip tests: a fake session (deterministic backpressure) and a real front over
// TCP on 127.0.0.1 (BOLT 8 + PeerSession + GossipService) with test peers that can stop reading.
import { EventEmitter, once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { defaultCrypto } from '../../src/lightning/crypto/index.js';
import { localStaticKey, noiseAccept, noiseConnect, type NoiseConnection } from '../../src/lightning/transport/index.js';
import { decodeMessage, encodeInit, encodePing, encodePong, peekMessageType } from '../../src/lightning/wire/messages.js';
import { featuresFromNames } from '../../src/lightning/features/index.js';
import { PeerSession } from '../../src/front/peer-session.js';
import { rootLogger } from '../../src/util/log.js';
import type { GossipService } from '../../src/front/gossip/index.js';
import { MAINNET } from './graph.js';

const crypto = defaultCrypto();
export const FEATURES = featuresFromNames(['option_data_loss_protect', 'option_static_remotekey', 'var_onion_optin', 'gossip_queries']);

/** A session whose send() accepts `budget` messages, then reports congestion until drain() is called. */
export class FakeSession {
  readonly connection = new EventEmitter();
  readonly sent: Uint8Array[] = [];
  closed = false;
  budget = Infinity;
  corks = 0;
  uncorks = 0;
  constructor(readonly nodeIdHex: string) {}
  cork(): void {
    this.corks++;
  }
  uncork(): void {
    this.uncorks++;
  }
  send(message: Uint8Array): boolean {
    this.sent.push(message);
    this.budget--;
    return this.budget > 0;
  }
  drain(budget = Infinity): void {
    this.budget = budget;
    this.connection.emit('drain');
  }
  close(): void {
    this.closed = true;
    this.connection.emit('close');
  }
  types(): number[] {
    return this.sent.map((m) => peekMessageType(m));
  }
}

export function fakeId(n: number): string {
  return (n & 1 ? '03' : '02') + n.toString(16).padStart(64, '0');
}

export interface TestFront {
  readonly port: number;
  readonly nodeId: Uint8Array;
  readonly sessions: PeerSession[];
  close(): Promise<void>;
}

/** A front: accepts BOLT 8 connections, runs PeerSession, and hands each ready session to the service. */
export async function startFront(service: GossipService, pingIntervalMs = 60_000): Promise<TestFront> {
  const secret = new Uint8Array(randomBytes(32));
  const staticKey = localStaticKey(secret, crypto);
  const sessions: PeerSession[] = [];
  const sockets = new Set<Socket>();
  let nextId = 1;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    noiseAccept(socket, { staticKey }).then(
      (connection) => {
        const session = new PeerSession(
          connection,
          nextId++,
          'inbound',
          `127.0.0.1:${socket.remotePort}`,
          { chainHash: MAINNET, initFeatures: FEATURES, pingIntervalMs, pongTimeoutMs: pingIntervalMs * 2, initTimeoutMs: 10_000 },
          () => undefined,
          rootLogger(),
        );
        sessions.push(session);
        session.on('ready', () => service.addPeer(session));
        session.on('gossip', (message) => service.onPeerGossip(session, message));
        session.on('closed', () => service.removePeer(session));
        session.start();
      },
      () => socket.destroy(),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    nodeId: staticKey.publicKey,
    sessions,
    close: async () => {
      for (const session of sessions) session.close('test over');
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A test peer over real BOLT 8: sends init, answers pings unless told not to, records what it receives. */
export class TestPeer {
  readonly received: Uint8Array[] = [];
  readonly nodeIdHex: string;
  bytesReceived = 0;
  pongsReceived = 0;
  /** Gossip messages received so far, and that count at each pong (to see a pong arrive mid-dump). */
  gossipCount = 0;
  readonly gossipCountAtPong: number[] = [];
  answerPings = true;
  closed = false;
  #listeners: Array<() => void> = [];

  private constructor(
    readonly connection: NoiseConnection,
    readonly socket: Socket,
    secret: Uint8Array,
    readonly keep: boolean,
  ) {
    this.nodeIdHex = Buffer.from(crypto.publicKey(secret)).toString('hex');
    connection.on('message', (message) => {
      const type = peekMessageType(message);
      this.bytesReceived += message.length;
      if (type === 18 && this.answerPings) {
        const ping = decodeMessage(message);
        if (ping.type === 'ping') connection.send(encodePong({ type: 'pong', ignored: new Uint8Array(ping.numPongBytes) }));
      }
      if (type === 19) {
        this.pongsReceived++;
        this.gossipCountAtPong.push(this.gossipCount);
      }
      if (type !== 16 && type !== 18 && type !== 19) this.gossipCount++;
      if (this.keep || type === 16 || type === 19) this.received.push(message);
      this.#notify();
    });
    connection.on('close', () => {
      this.closed = true;
      this.#notify();
    });
  }

  /** Connects, exchanges init; `keep` false keeps only counts (for large dumps). */
  static async connect(front: TestFront, keep = true): Promise<TestPeer> {
    const secret = new Uint8Array(randomBytes(32));
    const socket = connect({ host: '127.0.0.1', port: front.port });
    socket.on('error', () => {});
    const connection = await noiseConnect(socket, { staticKey: localStaticKey(secret, crypto), remoteNodeId: front.nodeId });
    const peer = new TestPeer(connection, socket, secret, keep);
    connection.send(encodeInit({ type: 'init', globalFeatures: new Uint8Array(0), features: FEATURES, networks: [MAINNET] }));
    await peer.until(() => peer.received.some((m) => peekMessageType(m) === 16));
    // Our init is processed by the front before anything we send next (same connection, in order).
    return peer;
  }

  send(message: Uint8Array): boolean {
    return this.connection.send(message);
  }

  ping(): void {
    this.connection.send(encodePing({ type: 'ping', numPongBytes: 4, ignored: new Uint8Array(0) }));
  }

  /** Gossip received (no init/ping/pong). */
  gossip(): Uint8Array[] {
    return this.received.filter((m) => ![16, 18, 19].includes(peekMessageType(m)));
  }

  async until(predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (this.closed) throw new Error('connection closed while waiting');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('condition not met in time');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.#listeners.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.connection.close();
  }

  #notify(): void {
    for (const listener of this.#listeners.splice(0)) listener();
  }
}

/** Waits for a condition checked on each event-loop turn (for server-side state). */
export async function eventually(predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
