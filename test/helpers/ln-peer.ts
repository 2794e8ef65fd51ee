// A minimal Lightning peer for end-to-end tests, on top of our BOLT 8 transport or of the
// independent @node-lightning/noise: init exchange, pong replies, and a queue of received messages.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import noise from '@node-lightning/noise';
import { defaultCrypto } from '../../src/lightning/crypto/index.js';
import { localStaticKey, noiseAccept, noiseConnect, type NoiseConnection } from '../../src/lightning/transport/index.js';
import { chainHash } from '../../src/lightning/chains.js';
import { decodeMessage, encodeInit, encodePong, peekMessageType, type WireMessage } from '../../src/lightning/wire/messages.js';
import { featuresFromNames } from '../../src/lightning/features/index.js';

const crypto = defaultCrypto();

/** What a test peer sends in init: LDK's must-haves, and regtest in networks. */
export const TEST_PEER_FEATURES = featuresFromNames(['option_data_loss_protect', 'option_static_remotekey', 'var_onion_optin', 'gossip_queries']);

export function testInit(networks: Uint8Array[] = [chainHash('regtest')]): Uint8Array {
  return encodeInit({ type: 'init', globalFeatures: new Uint8Array(0), features: TEST_PEER_FEATURES, networks });
}

interface Wire {
  send(message: Uint8Array): void;
  close(): void;
  onMessage(listener: (message: Uint8Array) => void): void;
  onClose(listener: () => void): void;
}

export class TestPeer {
  readonly received: Uint8Array[] = [];
  #waiters: Array<() => void> = [];
  closed = false;
  readonly closedPromise: Promise<void>;
  theirInit: WireMessage | undefined;
  /** Set false to play a peer that never answers pings. */
  answerPings = true;

  constructor(private readonly wire: Wire, readonly secret: Uint8Array) {
    let resolveClosed!: () => void;
    this.closedPromise = new Promise((r) => (resolveClosed = r));
    wire.onMessage((message) => {
      if (peekMessageType(message) === 18 && this.answerPings) {
        const ping = decodeMessage(message);
        if (ping.type === 'ping') wire.send(encodePong({ type: 'pong', ignored: new Uint8Array(ping.numPongBytes) }));
      }
      this.received.push(message);
      for (const waiter of this.#waiters.splice(0)) waiter();
    });
    wire.onClose(() => {
      this.closed = true;
      resolveClosed();
      for (const waiter of this.#waiters.splice(0)) waiter();
    });
  }

  get nodeId(): string {
    return Buffer.from(crypto.publicKey(this.secret)).toString('hex');
  }

  send(message: Uint8Array): void {
    this.wire.send(message);
  }

  close(): void {
    this.wire.close();
  }

  /** Waits for the first received message matching `type` (by name), removing it from the queue. */
  async next(type: string, timeoutMs = 10_000): Promise<WireMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.received.findIndex((m) => {
        try {
          return decodeMessage(m).type === type;
        } catch {
          return false;
        }
      });
      if (index >= 0) return decodeMessage(this.received.splice(index, 1)[0]!);
      if (this.closed) throw new Error(`connection closed while waiting for ${type}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${type} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
  }

  /** Sends init and waits for the node's. */
  async handshakeInit(init: Uint8Array = testInit()): Promise<WireMessage> {
    this.send(init);
    this.theirInit = await this.next('init');
    return this.theirInit;
  }
}

/** A peer using the independent @node-lightning/noise implementation. */
export async function connectNodeLightningPeer(nodeId: string, port: number, secret = crypto.randomSecretKey()): Promise<TestPeer> {
  const socket = noise.connect({ ls: Buffer.from(secret), rpk: Buffer.from(nodeId, 'hex'), host: '127.0.0.1', port });
  socket.on('error', () => {});
  await Promise.race([once(socket, 'ready'), once(socket, 'close').then(() => Promise.reject(new Error('closed during handshake')))]);
  return new TestPeer(
    {
      send: (m) => void socket.write(Buffer.from(m)),
      close: () => socket.end(),
      onMessage: (l) => socket.on('data', (m: Buffer) => l(new Uint8Array(m))),
      onClose: (l) => socket.on('close', l),
    },
    secret,
  );
}

function wrap(connection: NoiseConnection, secret: Uint8Array): TestPeer {
  return new TestPeer(
    {
      send: (m) => void connection.send(m),
      close: () => connection.close(),
      onMessage: (l) => connection.on('message', l),
      onClose: (l) => connection.on('close', () => l()),
    },
    secret,
  );
}

/** A peer using our own transport, dialing the node. */
export async function connectPeer(nodeId: string, port: number, secret = crypto.randomSecretKey(), host = '127.0.0.1', localAddress?: string): Promise<TestPeer> {
  const socket: Socket = connect({ host, port, ...(localAddress ? { localAddress } : {}) });
  socket.on('error', () => {});
  const connection = await noiseConnect(socket, { staticKey: localStaticKey(secret, crypto), remoteNodeId: Uint8Array.from(Buffer.from(nodeId, 'hex')), timeoutMs: 10_000 });
  return wrap(connection, secret);
}

/** A remote node listening for the cluster's outgoing connections; answers init automatically. */
export async function listenPeer(options: { refuseFrom?: string } = {}): Promise<{ nodeId: string; port: number; peers: TestPeer[]; accepted: () => Promise<TestPeer>; close(): Promise<void> }> {
  const secret = crypto.randomSecretKey();
  const peers: TestPeer[] = [];
  const waiters: Array<(peer: TestPeer) => void> = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    if (options.refuseFrom && socket.remoteAddress?.replace(/^::ffff:/, '') === options.refuseFrom) {
      socket.destroy();
      return;
    }
    noiseAccept(socket, { staticKey: localStaticKey(secret, crypto), timeoutMs: 10_000 }).then(
      (connection) => {
        const peer = wrap(connection, secret);
        peers.push(peer);
        void peer.next('init').then(() => peer.send(testInit()), () => undefined);
        waiters.shift()?.(peer);
      },
      () => socket.destroy(),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    nodeId: Buffer.from(crypto.publicKey(secret)).toString('hex'),
    port: address.port,
    peers,
    accepted: () => (peers.length > 0 ? Promise.resolve(peers[peers.length - 1]!) : new Promise((r) => waiters.push(r))),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
