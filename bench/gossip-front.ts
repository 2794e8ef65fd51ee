// Front gossip: memory of the replica holding the full graph, and the time and CPU to dump the whole graph
// after gossip_timestamp_filter(0, max) to 1 new peer and to 50 peers at once, over real BOLT 8 sessions on
// TCP loopback. The graph is ../shared/data/gossip/synthetic/graph.gossip when present (50,808 channels,
// 101,616 updates, 14,688 node announcements), else a generated graph of the same size. The peers run in a
// child process (this file with --gossip-front-client) so the CPU figures are the front's alone.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import v8 from 'node:v8';
import type { BenchResult } from './result.js';
import { GossipService } from '../src/front/gossip/index.js';
import { readGossipRecords, encodeGossipTimestampFilter, encodeInit, encodePong, decodeMessage, peekMessageType } from '../src/lightning/wire/index.js';
import { defaultCrypto } from '../src/lightning/crypto/index.js';
import { localStaticKey, noiseConnect } from '../src/lightning/transport/index.js';
import { generateGraph, MAINNET } from '../test/front-gossip/graph.js';
import { startFront, FEATURES } from '../test/front-gossip/harness.js';

export type { BenchResult } from './result.js';

export interface GossipFrontBenchOptions {
  /** Peers of the "many" run. Default 50. */
  readonly peers?: number;
}

const CLIENT_FLAG = '--gossip-front-client';

function loadGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function memoryNow(gc: () => void): number {
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function graphMessages(): { messages: Uint8Array[]; source: string } {
  const file = path.resolve(process.cwd(), '../shared/data/gossip/synthetic/graph.gossip');
  if (existsSync(file)) {
    // Views into the file's buffer: the replica copies what it keeps, and the file is dropped after loading.
    return { messages: [...readGossipRecords(readFileSync(file))], source: 'synthetic graph.gossip' };
  }
  return { messages: generateGraph({ channels: 50_808, nodes: 17_324 }).all, source: 'generated graph' };
}

interface ClientReport {
  type: 'ready' | 'done';
  ms?: number;
  cpuMs?: number;
}

/** Runs `peers` peers in a child process; resolves with the wall time until all got `expected` gossip messages. */
async function dumpTo(peers: number, port: number, nodeId: Uint8Array, expected: number, service: GossipService): Promise<{ wallMs: number; cpuMs: number; clientCpuMs: number }> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [CLIENT_FLAG], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = (): Promise<ClientReport> =>
    new Promise((resolve, reject) => {
      const onMessage = (message: ClientReport): void => {
        child.off('exit', onExit);
        resolve(message);
      };
      const onExit = (code: number | null): void => {
        child.off('message', onMessage);
        reject(new Error(`bench client exited with ${code}`));
      };
      child.once('message', onMessage);
      child.once('exit', onExit);
    });
  child.send({ port, nodeId: Buffer.from(nodeId).toString('hex'), peers, expected });
  await next(); // every peer connected and through init
  while (service.stats().peers < peers) await new Promise((resolve) => setTimeout(resolve, 10));
  const cpu = process.cpuUsage();
  const start = performance.now();
  child.send({ go: true });
  const done = await next();
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  child.kill();
  return { wallMs, cpuMs: (used.user + used.system) / 1000, clientCpuMs: done.cpuMs ?? 0 };
}

export async function benchGossipFront(options: GossipFrontBenchOptions = {}): Promise<BenchResult[]> {
  const manyPeers = options.peers ?? 50;
  const gc = loadGc();
  const results: BenchResult[] = [];

  const before = memoryNow(gc);
  let loaded = graphMessages();
  const service = new GossipService({ chainHash: MAINNET, forward: () => undefined });
  const loadStart = performance.now();
  const applied = service.applySnapshot(loaded.messages);
  const loadMs = performance.now() - loadStart;
  const count = loaded.messages.length;
  loaded = { messages: [], source: loaded.source };
  const replicaBytes = memoryNow(gc) - before;
  const stats = service.replica.stats();
  process.stderr.write(
    `gossip-front: ${loaded.source}: ${stats.channels} channels, ${stats.updates} updates, ${stats.nodeAnnouncements} node announcements (${applied.applied.length}/${count} applied)\n`,
  );
  results.push({ bench: 'gossip-front replica memory (full graph)', value: round(replicaBytes / 1e6), unit: 'MB', baseline: 250 });
  results.push({ bench: 'gossip-front replica raw gossip bytes', value: round(stats.bytes / 1e6), unit: 'MB', baseline: null });
  results.push({ bench: 'gossip-front replica load', value: Math.round(count / (loadMs / 1000)), unit: 'msg/s', baseline: null });

  const expected = stats.channels + stats.updates + stats.nodeAnnouncements;
  const front = await startFront(service);
  try {
    for (const peers of [1, manyPeers]) {
      const run = await dumpTo(peers, front.port, front.nodeId, expected, service);
      const label = peers === 1 ? '1 peer' : `${peers} peers`;
      results.push({ bench: `gossip-front full dump to ${label}: wall`, value: round(run.wallMs / 1000), unit: 's', baseline: null });
      results.push({ bench: `gossip-front full dump to ${label}: front CPU`, value: round(run.cpuMs / 1000), unit: 'CPU s', baseline: null });
      results.push({ bench: `gossip-front full dump to ${label}: front throughput`, value: Math.round((expected * peers) / (run.cpuMs / 1000)), unit: 'msg per CPU s', baseline: null });
      process.stderr.write(`gossip-front: ${label}: ${round(run.wallMs / 1000)} s wall, front ${round(run.cpuMs / 1000)} CPU s, peers ${round(run.clientCpuMs / 1000)} CPU s\n`);
      // Let the sessions of this run go before the next.
      for (const session of front.sessions.splice(0)) session.close('bench run over');
      while (service.stats().peers > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    await front.close();
    service.close();
  }
  return results;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

// ---- the peers, in a child process ----------------------------------------------------------------------

async function runClients(config: { port: number; nodeId: string; peers: number; expected: number }): Promise<void> {
  const crypto = defaultCrypto();
  const remoteNodeId = Uint8Array.from(Buffer.from(config.nodeId, 'hex'));
  const filter = encodeGossipTimestampFilter({ type: 'gossip_timestamp_filter', chainHash: MAINNET, firstTimestamp: 0, timestampRange: 0xffffffff });
  let finished = 0;
  let allDone!: () => void;
  const done = new Promise<void>((resolve) => (allDone = resolve));
  const connections = await Promise.all(
    Array.from({ length: config.peers }, async () => {
      const socket = connect({ host: '127.0.0.1', port: config.port });
      socket.on('error', () => {});
      const connection = await noiseConnect(socket, { staticKey: localStaticKey(new Uint8Array(randomBytes(32)), crypto), remoteNodeId });
      let gossip = 0;
      let sawInit!: () => void;
      const initSeen = new Promise<void>((resolve) => (sawInit = resolve));
      connection.on('message', (message) => {
        const type = peekMessageType(message);
        if (type === 16) return sawInit();
        if (type === 18) {
          const ping = decodeMessage(message);
          if (ping.type === 'ping') connection.send(encodePong({ type: 'pong', ignored: new Uint8Array(ping.numPongBytes) }));
          return;
        }
        if (type === 19) return;
        if (++gossip === config.expected && ++finished === config.peers) allDone();
      });
      connection.send(encodeInit({ type: 'init', globalFeatures: new Uint8Array(0), features: FEATURES, networks: [MAINNET] }));
      await initSeen;
      return connection;
    }),
  );
  const cpu = process.cpuUsage();
  process.send!({ type: 'ready' } satisfies ClientReport);
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  for (const connection of connections) connection.send(filter);
  await done;
  const used = process.cpuUsage(cpu);
  process.send!({ type: 'done', cpuMs: (used.user + used.system) / 1000 } satisfies ClientReport);
}

if (process.argv.includes(CLIENT_FLAG)) {
  process.once('message', (config: { port: number; nodeId: string; peers: number; expected: number }) => {
    runClients(config).catch((error: unknown) => {
      process.stderr.write(`bench client failed: ${String(error)}\n`);
      process.exit(1);
    });
  });
} else if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  // `node dist/bench/gossip-front.js` runs this benchmark alone.
  benchGossipFront().then(
    (rows) => {
      for (const row of rows) process.stdout.write(JSON.stringify(row) + '\n');
    },
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
