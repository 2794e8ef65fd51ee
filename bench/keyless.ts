// Keyless fronts: the cost of delegating the one static-key ECDH of each BOLT 8 handshake to the
// back over a real cluster link (mutual TLS on loopback), against a front holding the key.
// Measures responder handshakes/s with 64 handshakes in flight (wall clock, both processes' work in
// this one process) and the median handshake latency, local vs delegated.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { clusterCredentialsFromPem, createClusterCertificate } from '../src/cluster/certificate.js';
import { ClusterClient } from '../src/cluster/client.js';
import { ClusterServer } from '../src/cluster/server.js';
import type { ClusterLink } from '../src/cluster/link.js';
import { EcdhService, localEcdh } from '../src/back/ecdh-service.js';
import { defaultCrypto } from '../src/lightning/crypto/index.js';
import { localStaticKey, NoiseInitiator, NoiseResponder, type StaticKey } from '../src/lightning/transport/index.js';
import type { BenchResult } from './result.js';

const crypto = defaultCrypto();
const IN_FLIGHT = 64;
const DURATION_MS = 3_000;

async function handshake(responderKey: StaticKey, initiatorKey: StaticKey): Promise<number> {
  // Real handshakes wait for the network between acts: yield, so timers and the link keep running.
  await new Promise((resolve) => setImmediate(resolve));
  const started = performance.now();
  const initiator = new NoiseInitiator({ crypto, staticKey: initiatorKey, remoteStaticKey: responderKey.publicKey });
  const responder = new NoiseResponder({ crypto, staticKey: responderKey });
  const act2 = await responder.processAct1(initiator.createAct1());
  const { act3 } = await initiator.processAct2(act2);
  responder.processAct3(act3);
  return performance.now() - started;
}

async function measure(responderKey: StaticKey): Promise<{ rate: number; p50: number }> {
  const initiatorKey = localStaticKey(crypto.randomSecretKey(), crypto);
  const latencies: number[] = [];
  const deadline = performance.now() + DURATION_MS;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < deadline) latencies.push(await handshake(responderKey, initiatorKey));
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { rate: latencies.length / seconds, p50: latencies[Math.floor(latencies.length / 2)]! };
}

export async function benchKeyless(): Promise<BenchResult[]> {
  const secret = crypto.randomSecretKey();
  const dir = mkdtempSync(join(tmpdir(), 'lncluster-bench-keyless-'));
  const password = 'bench-password-123';
  const pem = await createClusterCertificate({ password });
  const credentials = await clusterCredentialsFromPem({ certificatePem: pem.certificatePem, encryptedKeyPem: pem.encryptedKeyPem, password });
  const ecdh = new EcdhService({ ecdh: localEcdh(crypto, secret), isRegisteredFront: () => true, ratePerSecond: 1_000_000 });
  const server = new ClusterServer({
    credentials,
    welcome: () => ({
      nodeId: crypto.publicKey(secret),
      chainHash: new Uint8Array(32),
      initFeatures: new Uint8Array(0),
      pingIntervalMs: 30_000,
      pingTimeoutMs: 60_000,
      settingsJson: '{}',
    }),
  });
  server.on('front', ({ frontId, link }) => {
    link.on('message', (message) => {
      if (message.type === 'ecdh-request') link.send({ type: 'ecdh-reply', requestId: message.requestId, result: ecdh.answer(frontId, message.point) });
    });
  });
  const address = await server.listen();
  const client = new ClusterClient({
    host: '127.0.0.1',
    port: address.port,
    credentials,
    hello: { frontId: 'bench', listenAddresses: [], capacity: 1, holdsNodeKey: false },
  });
  client.start();
  const { link } = await client.waitUntilUp();
  const pending = new Map<number, (secret: Uint8Array) => void>();
  let nextId = 1;
  (link as ClusterLink).on('message', (message) => {
    if (message.type === 'ecdh-reply' && message.result.ok) pending.get(message.requestId)?.(message.result.secret);
  });
  const delegated: StaticKey = {
    publicKey: crypto.publicKey(secret),
    ecdh: (point) =>
      new Promise((resolve) => {
        const id = nextId++;
        pending.set(id, (value) => (pending.delete(id), resolve(value)));
        link.send({ type: 'ecdh-request', requestId: id, point });
      }),
  };
  try {
    const local = await measure(localStaticKey(secret, crypto));
    const remote = await measure(delegated);
    return [
      { bench: 'keyless.responder-handshakes.local', value: Math.round(local.rate), unit: 'handshakes/s', baseline: null },
      { bench: 'keyless.responder-handshakes.delegated', value: Math.round(remote.rate), unit: 'handshakes/s', baseline: Math.round(local.rate) },
      { bench: 'keyless.handshake-p50.local', value: Number(local.p50.toFixed(2)), unit: 'ms', baseline: null },
      { bench: 'keyless.handshake-p50.delegated', value: Number(remote.p50.toFixed(2)), unit: 'ms', baseline: Number(local.p50.toFixed(2)) },
    ];
  } finally {
    client.stop();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  benchKeyless().then((rows) => rows.forEach((r) => console.log(JSON.stringify(r))));
}
