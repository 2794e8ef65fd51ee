import { once } from 'node:events';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import {
  ClusterServer,
  decodeMessage,
  encodeFrame,
  encodeMessagePayload,
  FrameDecoder,
  frameTypeOf,
  type ClusterMessage,
  type HelloMessage,
  clusterCredentialsFromPem,
  createClusterCertificate,
  type ClusterCredentials,
  type ClusterLinkOptions,
  type ClusterWelcomeFields,
  type FrontConnection,
} from '../../src/cluster/index.js';

const PASSWORD = 'test-password-123';
let shared: Promise<ClusterCredentials> | undefined;

/** A fresh cluster identity (certificate + key). */
export async function newCredentials(extraTrustedPems: string[] = []): Promise<ClusterCredentials> {
  const created = await createClusterCertificate({ password: PASSWORD });
  return clusterCredentialsFromPem({ ...created, password: PASSWORD, extraTrustedPems });
}

/** One identity shared by the tests of a file (generation costs a few milliseconds only, but keeps tests short). */
export function sharedCredentials(): Promise<ClusterCredentials> {
  shared ??= newCredentials();
  return shared;
}

export const NODE_ID = new Uint8Array(33).fill(2);
export const CHAIN_HASH = new Uint8Array(32).fill(7);

export function welcomeFields(): ClusterWelcomeFields {
  return {
    nodeId: NODE_ID,
    chainHash: CHAIN_HASH,
    initFeatures: new Uint8Array([0x02, 0xa2]),
    pingIntervalMs: 30_000,
    pingTimeoutMs: 60_000,
    settingsJson: '{"rebroadcastMs":60000}',
  };
}

export async function startServer(
  credentials: ClusterCredentials,
  options: { link?: ClusterLinkOptions; handshakeTimeoutMs?: number; port?: number } = {},
): Promise<{ server: ClusterServer; port: number }> {
  const server = new ClusterServer({ credentials, welcome: () => welcomeFields(), ...options });
  const address = await server.listen();
  return { server, port: address.port };
}

export function nextFront(server: ClusterServer): Promise<FrontConnection> {
  return once(server, 'front').then(([front]) => front as FrontConnection);
}

/** A raw TLS connection presenting the given credentials (or none), to speak bytes directly. */
export async function rawTlsClient(port: number, credentials: ClusterCredentials | undefined, trustServer: ClusterCredentials): Promise<TLSSocket> {
  const socket = tlsConnect({
    host: '127.0.0.1',
    port,
    ca: trustServer.trustedPems,
    servername: 'lncluster',
    checkServerIdentity: () => undefined,
    minVersion: 'TLSv1.3',
    ...(credentials ? { cert: credentials.certificatePem, key: credentials.keyPem } : {}),
  });
  await once(socket, 'secureConnect');
  // The server may reset the connection (that is what several tests provoke): not an uncaught error.
  socket.on('error', () => undefined);
  return socket;
}

/** Resolves when the socket is closed, whatever the cause. */
export function socketClosed(socket: TLSSocket): Promise<void> {
  if (socket.destroyed && socket.closed) return Promise.resolve();
  return new Promise((resolve) => {
    socket.on('error', () => undefined);
    socket.once('close', () => resolve());
  });
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

export function sendRaw(socket: TLSSocket, message: ClusterMessage): void {
  socket.write(encodeFrame(frameTypeOf(message.type), encodeMessagePayload(message)));
}

/** Collects the messages a raw socket receives (ignoring undecodable input). */
export function collectMessages(socket: TLSSocket): { messages: ClusterMessage[]; next: (type: ClusterMessage['type']) => Promise<ClusterMessage> } {
  const messages: ClusterMessage[] = [];
  const waiters: Array<{ type: string; resolve: (m: ClusterMessage) => void }> = [];
  const decoder = new FrameDecoder();
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk);
    for (let frame = decoder.next(); frame; frame = decoder.next()) {
      const message = decodeMessage(frame.type, frame.payload);
      messages.push(message);
      for (const waiter of waiters.filter((w) => w.type === message.type)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
    }
  });
  return {
    messages,
    next: (type) => {
      const seen = messages.find((m) => m.type === type);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ type, resolve }));
    },
  };
}

export const HELLO: HelloMessage = {
  type: 'hello',
  minVersion: 1,
  maxVersion: 1,
  frontId: 'raw-front',
  listenAddresses: [],
  capacity: 10,
  holdsNodeKey: true,
};
