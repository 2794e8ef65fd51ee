import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Counter, Gauge } from 'prom-client';
import { ClusterServer, type FrontConnection } from '../cluster/server.js';
import type { ClusterCredentials } from '../cluster/certificate.js';
import type { ClusterLink } from '../cluster/link.js';
import { SERVICE_STATE_MIN_VERSION, type ClusterMessage, type PeerTarget } from '../cluster/messages.js';
import type { Config } from '../config/keys.js';
import { splitHostPort } from '../config/load.js';
import { chainHash, type Network } from '../lightning/chains.js';
import { combineFeatures } from '../lightning/features/index.js';
import { messageTypeName } from '../lightning/wire/types.js';
import { FRONT_FEATURES } from '../front/front-features.js';
import { getOrCreate } from '../util/metrics.js';
import { SERVICES } from '../discovery/services.js';
import type { ServiceInstance } from '../discovery/types.js';
import { startOpsServer, type OpsServer } from '../util/ops-server.js';
import type { Logger } from '../util/log.js';
import { AdminError, adminRouter, type AdminRoutes } from './admin-api.js';
import type { ChannelEngine, ChannelEngineHost } from './channel-engine.js';
import { Dispatcher, type ConnectResult } from './dispatcher.js';
import { EcdhService } from './ecdh-service.js';
import { FrontRegistry } from './front-registry.js';
import { PeerRegistry, type PeerRecord } from './peer-registry.js';
import { Reconnector } from './reconnector.js';
import { GossipHub } from './gossip-hub.js';
import { GossipSync } from './gossip-sync.js';
import { GossipStore, RoutingTable } from './gossip/index.js';
import { publishOwnNodeAnnouncement } from './gossip/own-announcement.js';
import { maskForContext } from '../lightning/features/index.js';
import { MESSAGE_TYPES } from '../lightning/wire/types.js';
import { withStatusPage } from './status-page.js';
import { ONION_REPORT_COMMAND, parseOnionReport } from '../tor/onion-report.js';

/**
 * The back: one per node. It owns the node identity, the registry of fronts and peers, the channel
 * engine, outgoing dispatch and the admin API. It never accepts peer TCP connections: fronts do,
 * and report over their cluster link.
 */
export interface BackOptions {
  config: Config;
  log: Logger;
  credentials: ClusterCredentials;
  nodeId: Uint8Array;
  /** The node key holder's ECDH, for keyless fronts. */
  ecdh(point: Uint8Array): Uint8Array;
  /** Builds the channel engine once the host (this back) exists; awaited in start(). */
  createEngine(host: ChannelEngineHost): ChannelEngine | Promise<ChannelEngine>;
  adminPassword: string;
  /** The node secret, for signing our node_announcement (absent: no announcement is signed). */
  nodeSecret?: Uint8Array;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const fromHex = (text: string) => Uint8Array.from(Buffer.from(text, 'hex'));

export class Back {
  readonly fronts = new FrontRegistry();
  readonly peers = new PeerRegistry();
  readonly dispatcher: Dispatcher;
  readonly reconnector: Reconnector;
  #engine: ChannelEngine | undefined;
  readonly #links = new Map<string, ClusterLink>();
  /** The protocol version negotiated on each link: what frame types that front understands. */
  readonly #linkVersions = new WeakMap<ClusterLink, number>();
  readonly #ecdh: EcdhService;
  readonly #server: ClusterServer;
  /** Known addresses of peers (from connect requests and inbound sessions), for reconnection. */
  readonly #addresses = new Map<string, { host: string; port: number }>();
  readonly #persistent = new Set<string>();
  #ops: OpsServer | undefined;
  readonly gossipTable: RoutingTable;
  readonly #gossipLog: Logger;
  #gossipStore: GossipStore | undefined;
  readonly #gossipHub: GossipHub;
  readonly #gossipSync: GossipSync;
  #gossipLoad: { state: 'loading' | 'ready'; channels: number; totalChannels: number } = { state: 'loading', channels: 0, totalChannels: 0 };
  #nodeAnnouncement: { status: string; detail?: string } = { status: 'not signed' };
  /** The onion address `lncluster tor` reported (POST onion-address); shown in getinfo, announced in node_announcement. */
  #onionAddress: string | undefined;
  /** Embedded discovery: bumped on every change of the set of fronts (not on heartbeats). */
  #registryIndex = 1;
  readonly #registryWaiters = new Set<() => void>();
  readonly #log: Logger;
  readonly #metrics = {
    fronts: getOrCreate('lncluster_back_fronts', (r) => new Gauge({ name: 'lncluster_back_fronts', help: 'fronts linked to the back', registers: [r] })),
    peers: getOrCreate('lncluster_back_peers', (r) => new Gauge({ name: 'lncluster_back_peers', help: 'live peer sessions', labelNames: ['front', 'direction'], registers: [r] })),
    messages: getOrCreate(
      'lncluster_back_peer_messages_total',
      (r) => new Counter({ name: 'lncluster_back_peer_messages_total', help: 'peer messages through the back', labelNames: ['type', 'direction'], registers: [r] }),
    ),
    linkQueue: getOrCreate(
      'lncluster_back_cluster_link_queue',
      (r) =>
        new Gauge({ name: 'lncluster_back_cluster_link_queue', help: 'outgoing queue of each front link', labelNames: ['front', 'unit'], registers: [r] }),
    ),
    frontDeaths: getOrCreate('lncluster_back_front_links_lost_total', (r) => new Counter({ name: 'lncluster_back_front_links_lost_total', help: 'front links lost, by reason', labelNames: ['reason'], registers: [r] })),
  };

  constructor(private readonly options: BackOptions) {
    const { config } = options;
    // Sampled at scrape time, one series per linked front.
    (this.#metrics.linkQueue as Gauge & { collect?: () => void }).collect = () => {
      this.#metrics.linkQueue.reset();
      for (const [frontId, link] of this.#links) {
        this.#metrics.linkQueue.set({ front: frontId, unit: 'bytes' }, link.queued.bytes);
        this.#metrics.linkQueue.set({ front: frontId, unit: 'frames' }, link.queued.frames);
      }
    };
    this.#log = options.log.child({ module: 'back' });
    this.#ecdh = new EcdhService({ ecdh: options.ecdh, isRegisteredFront: (id) => this.fronts.has(id), ratePerSecond: config['back.ecdh-rate-per-front'] });
    this.dispatcher = new Dispatcher({
      fronts: this.fronts,
      sendConnectRequest: (frontId, requestId, nodeId, host, port) =>
        this.#sendToFront(frontId, { type: 'connect-request', requestId, nodeId: fromHex(nodeId), host, port }),
      answerTimeoutMs: config['peer.connect-timeout-ms'] + config['peer.handshake-timeout-ms'] + config['peer.init-timeout-ms'] + 5_000,
      livePeersOf: (frontId) => this.peers.countOnFront(frontId),
    });
    this.reconnector = new Reconnector({
      connect: async (nodeId) => {
        const address = this.#addresses.get(nodeId);
        if (!address || this.peers.get(nodeId)) return true;
        return (await this.connect(nodeId, address.host, address.port)).ok;
      },
    });
    this.#gossipLog = this.#log.child({ module: 'gossip' });
    this.gossipTable = new RoutingTable({ network: config.network as Network, log: this.#gossipLog });
    this.#gossipHub = new GossipHub({
      table: this.gossipTable,
      log: this.#gossipLog,
      onChannelUpdate: (message, origins) => this.#channelUpdateToEngine(message, origins),
    });
    this.#gossipSync = new GossipSync({
      table: this.gossipTable,
      chainHash: chainHash(config.network as Network),
      syncPeers: config['gossip.sync-peers'],
      send: (nodeId, message) => this.sendToPeer(nodeId, message),
      log: this.#log.child({ module: 'gossip-sync' }),
    });
    const { host, port } = splitHostPort(config['back.cluster-listen']);
    this.#server = new ClusterServer({
      credentials: options.credentials,
      host,
      port,
      welcome: (hello) => ({
        nodeId: options.nodeId,
        chainHash: chainHash(config.network as Network),
        initFeatures: combineFeatures(this.engine.initFeatures(), FRONT_FEATURES),
        pingIntervalMs: config['peer.ping-interval-ms'],
        pingTimeoutMs: config['peer.pong-timeout-ms'],
        settingsJson: JSON.stringify({
          handshakeTimeoutMs: config['peer.handshake-timeout-ms'],
          initTimeoutMs: config['peer.init-timeout-ms'],
          connectTimeoutMs: config['peer.connect-timeout-ms'],
          rebroadcastIntervalMs: config['gossip.rebroadcast-interval-ms'],
          queriesPerSecond: config['gossip.queries-per-second'],
          // A channel engine must see every peer reconnect (channel_reestablish follows a fresh init):
          // sessions that outlived a lost link are closed rather than announced again.
          resumeSessions: config['back.channel-engine'] === 'none',
          // The front's service state at link time, drained or not: a drained front that relinks knows it
          // before it (re)registers in Consul, and one drained before this back restarted (which forgets
          // drain marks) withdraws the flag it published. The service-state message carries later changes.
          draining: this.fronts.isDrained(hello.frontId),
        }),
      }),
    });
    this.#server.on('front', (connection) => this.#onFront(connection));
    this.#server.on('rejected', ({ remoteAddress, error }) => this.#log.warn({ remote: remoteAddress, reason: error.message }, 'cluster connection rejected'));
  }

  /** The channel engine; available once start() has run. */
  get engine(): ChannelEngine {
    if (!this.#engine) throw new Error('the back is not started');
    return this.#engine;
  }

  get nodeIdHex(): string {
    return hex(this.options.nodeId);
  }

  /** "<56 chars>.onion" while `lncluster tor` keeps the onion service published, else undefined. */
  get onionAddress(): string | undefined {
    return this.#onionAddress;
  }

  setOnionAddress(address: string | undefined): void {
    if (address === this.#onionAddress) return;
    this.#onionAddress = address;
    this.#log.info({ onionAddress: address ?? null }, address ? 'onion address reported' : 'onion address withdrawn');
    if (this.#engine) this.#announceSelf();
  }

  async start(): Promise<{ clusterAddress: string; adminUrl: string }> {
    this.#engine = await this.options.createEngine({
      sendToPeer: (nodeId, message) => this.sendToPeer(hex(nodeId), message),
      disconnectPeer: (nodeId, reason) => this.disconnectPeer(hex(nodeId), reason),
    });
    await this.#loadGossip();
    const cluster = await this.#server.listen();
    const { host, port } = splitHostPort(this.options.config['ops.listen']);
    this.#ops = await startOpsServer({
      host,
      port,
      readiness: () => [],
      details: () => ({ role: 'back', nodeId: this.nodeIdHex, fronts: this.fronts.list().length, peers: this.peers.size }),
      // The read-only status page (GET / and /status) shares the admin password.
      routes: withStatusPage(adminRouter(this.#adminRoutes(), () => this.options.adminPassword), { password: () => this.options.adminPassword, log: this.options.log }),
    });
    const dataDir = this.options.config['data-dir'];
    mkdirSync(dataDir, { recursive: true });
    const clusterAddress = `${cluster.address}:${cluster.port}`;
    writeFileSync(join(dataDir, 'admin.json'), JSON.stringify({ adminUrl: this.#ops.url, clusterAddress, nodeId: this.nodeIdHex, pid: process.pid }) + '\n', { mode: 0o600 });
    this.#log.info({ clusterAddress, adminUrl: this.#ops.url, nodeId: this.nodeIdHex, network: this.options.config.network }, 'back started');
    return { clusterAddress, adminUrl: this.#ops.url };
  }

  async stop(): Promise<void> {
    for (const wake of [...this.#registryWaiters]) wake();
    this.reconnector.close();
    this.dispatcher.close();
    await this.#server.close();
    this.#gossipHub.close();
    await this.gossipTable.close();
    this.#gossipStore?.close();
    await this.#engine?.close();
    await this.#ops?.close();
  }

  // ---- peers --------------------------------------------------------------------------------------

  sendToPeer(nodeId: string, message: Uint8Array): boolean {
    const peer = this.peers.get(nodeId);
    if (!peer) {
      this.#log.debug({ peer: nodeId }, 'message for a peer that is not connected dropped');
      return false;
    }
    this.#countMessage(message, 'out');
    return this.#sendToFront(peer.frontId, { type: 'send-to-peer', target: sessionTarget(peer), data: message });
  }

  disconnectPeer(nodeId: string, reason: string): boolean {
    const peer = this.peers.get(nodeId);
    if (!peer) return false;
    return this.#sendToFront(peer.frontId, { type: 'disconnect-peer', target: sessionTarget(peer), reason });
  }

  /** Dials a node through the least-loaded front (retried once elsewhere). */
  async connect(nodeId: string, host: string, port: number, persistent = false): Promise<ConnectResult> {
    this.#addresses.set(nodeId, { host, port });
    if (persistent) this.#persistent.add(nodeId);
    const result = await this.dispatcher.connect(nodeId, host, port);
    this.#log.info({ peer: nodeId, host, port, outcome: result.outcome, attempts: result.attempts }, 'outgoing connection');
    return result;
  }

  // ---- fronts -------------------------------------------------------------------------------------

  #onFront({ frontId, link, hello, version, remoteAddress }: FrontConnection): void {
    const log = this.#log.child({ front: frontId });
    if (this.#links.has(frontId)) this.#dropFront(frontId, 'replaced by a new link');
    this.#links.set(frontId, link);
    this.#linkVersions.set(link, version);
    this.#gossipHub.addFront(frontId, link);
    this.fronts.add({ id: frontId, listenAddress: hello.listenAddresses[0] ?? remoteAddress, keyless: !hello.holdsNodeKey });
    this.#registryChanged();
    this.#metrics.fronts.set(this.fronts.list().length);
    log.info({ remote: remoteAddress, listen: hello.listenAddresses, keyless: !hello.holdsNodeKey }, 'front linked');
    link.on('message', (message) => {
      try {
        this.#onFrontMessage(frontId, link, message, log);
      } catch (error) {
        log.error({ err: error, type: message.type }, 'failed to handle a front message');
      }
    });
    link.once('close', (closed) => {
      if (this.#links.get(frontId) !== link) return;
      this.#metrics.frontDeaths.inc({ reason: closed.reason });
      log.warn({ reason: closed.reason, detail: closed.message }, 'front link lost');
      this.#dropFront(frontId, closed.message);
    });
  }

  /**
   * Tells a linked front that its service state (drain) changed; it publishes it in its own discovery
   * registration (Consul). Only on links negotiated at protocol >= 2: a version 1 front does not know the frame and
   * would close the link on it; such a front stays listed as ready by Consul while the back drains it.
   */
  #sendServiceState(frontId: string): void {
    const link = this.#links.get(frontId);
    const front = this.fronts.get(frontId);
    if (!link || !front || (this.#linkVersions.get(link) ?? 0) < SERVICE_STATE_MIN_VERSION) return;
    this.#sendToFront(frontId, { type: 'service-state', draining: front.draining });
  }

  #dropFront(frontId: string, reason: string): void {
    this.#links.delete(frontId);
    this.#gossipHub.removeFront(frontId);
    this.fronts.remove(frontId);
    this.#ecdh.forget(frontId);
    this.dispatcher.onFrontGone(frontId);
    for (const peer of this.peers.removeFront(frontId)) this.#peerGone(peer, `front ${frontId} lost: ${reason}`);
    this.#metrics.fronts.set(this.fronts.list().length);
    this.#registryChanged();
  }

  #registryChanged(): void {
    this.#registryIndex++;
    for (const wake of [...this.#registryWaiters]) wake();
  }

  /** Healthy fronts as discovery instances (the embedded registry). */
  frontInstances(): ServiceInstance[] {
    return this.fronts
      .list()
      .map((f) => {
        const colon = f.listenAddress.lastIndexOf(':');
        return {
          id: f.id,
          service: SERVICES.front,
          address: f.listenAddress.slice(0, colon).replace(/^\[(.*)\]$/, '$1'),
          port: Number(f.listenAddress.slice(colon + 1)),
          meta: { role: 'front' as const, nodeId: this.nodeIdHex, draining: f.draining, keyless: f.keyless },
        };
      })
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Blocking query, Consul style: answers when the index moves past `index`, or after `waitMs`. */
  async #watchRegistry(service: string, index: number, waitMs: number): Promise<{ index: number; instances: ServiceInstance[] }> {
    if (index >= this.#registryIndex) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(Math.max(waitMs, 0), 300_000));
        function done() {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
        const waiters = this.#registryWaiters;
        waiters.add(done);
      });
    }
    return { index: this.#registryIndex, instances: service === SERVICES.front ? this.frontInstances() : [] };
  }

  #onFrontMessage(frontId: string, link: ClusterLink, message: ClusterMessage, log: Logger): void {
    switch (message.type) {
      case 'heartbeat':
        if (message.load) this.fronts.heartbeat(frontId, message.load);
        return;
      case 'peer-ready':
        this.#onPeerReady(frontId, message.sessionId, hex(message.nodeId), message.remoteAddress, message.direction, message.initMessage, log);
        return;
      case 'peer-down': {
        const removed = this.peers.remove(hex(message.nodeId), frontId, message.sessionId);
        if (removed) this.#peerGone(removed, message.reason);
        return;
      }
      case 'peer-message': {
        const nodeId = hex(message.nodeId);
        if (!this.peers.isCurrent(nodeId, frontId, message.sessionId)) return; // a replaced session's late message
        this.#countMessage(message.data, 'in');
        const type = message.data.length >= 2 ? (message.data[0]! << 8) | message.data[1]! : -1;
        // Replies to our own gossip queries are the sync's; everything else is the channel engine's.
        if (type === MESSAGE_TYPES.reply_channel_range || type === MESSAGE_TYPES.reply_short_channel_ids_end) this.#gossipSync.onReply(nodeId, message.data);
        else this.engine.handleMessage(message.nodeId, message.data);
        return;
      }
      case 'connect-result':
        this.dispatcher.onConnectResult(frontId, message.requestId, message.outcome, message.message);
        return;
      case 'ecdh-request':
        link.send({ type: 'ecdh-reply', requestId: message.requestId, result: this.#ecdh.answer(frontId, message.point) });
        return;
      case 'gossip':
        this.#gossipHub.onFrame(frontId, link, message).catch((error: unknown) => {
          log.warn({ reason: (error as Error).message }, 'bad gossip frame from a front');
          link.close('local', 'malformed gossip frame');
        });
        return;
      default:
        log.warn({ type: message.type }, 'unexpected message from a front');
    }
  }

  #onPeerReady(frontId: string, sessionId: number, nodeId: string, remoteAddress: string, direction: 'inbound' | 'outbound', init: Uint8Array, log: Logger): void {
    const record: PeerRecord = { nodeId, frontId, sessionId, remoteAddress, inbound: direction === 'inbound', connectedAt: Date.now(), init };
    const previous = this.peers.add(record);
    if (previous) {
      log.info({ peer: nodeId, previousFront: previous.frontId }, 'a new session replaces the previous one');
      this.#sendToFront(previous.frontId, { type: 'disconnect-peer', target: sessionTarget(previous), reason: 'replaced by a newer session' });
      this.engine.peerDisconnected(fromHex(nodeId));
      this.#metrics.peers.dec({ front: previous.frontId, direction: previous.inbound ? 'inbound' : 'outbound' });
    }
    this.#metrics.peers.inc({ front: frontId, direction });
    this.reconnector.peerUp(nodeId);
    this.#gossipSync.onPeerReady(nodeId, init);
    log.info({ peer: nodeId, remote: remoteAddress, direction, session: sessionId }, 'peer ready');
    this.engine.peerConnected({ nodeId: fromHex(nodeId), inbound: record.inbound, init, remoteAddress }).catch((error: unknown) => {
      log.info({ peer: nodeId, reason: (error as Error).message }, 'channel engine refused the peer');
      this.disconnectPeer(nodeId, `refused: ${(error as Error).message}`);
    });
    if (record.inbound) this.#evictUnfundedInbound(log);
  }

  /** Keeps at most back.max-unfunded-inbound-peers inbound peers without channels; oldest go first. */
  #evictUnfundedInbound(log: Logger): void {
    const limit = this.options.config['back.max-unfunded-inbound-peers'];
    if (this.peers.size <= limit) return; // nothing to evict: skip the scan on every new peer
    const unfunded = this.peers
      .list()
      .filter((p) => p.inbound && !this.#persistent.has(p.nodeId) && !this.engine.hasChannelWith(fromHex(p.nodeId)))
      .sort((a, b) => a.connectedAt - b.connectedAt);
    for (const peer of unfunded.slice(0, Math.max(0, unfunded.length - limit))) {
      log.info({ peer: peer.nodeId }, 'evicting the oldest inbound peer without channels');
      this.disconnectPeer(peer.nodeId, 'too many peers without channels');
    }
  }

  #peerGone(peer: PeerRecord, reason: string): void {
    this.#metrics.peers.dec({ front: peer.frontId, direction: peer.inbound ? 'inbound' : 'outbound' });
    this.#log.info({ peer: peer.nodeId, front: peer.frontId, reason }, 'peer down');
    this.engine.peerDisconnected(fromHex(peer.nodeId));
    this.#gossipSync.onPeerDown(peer.nodeId);
    if (this.#persistent.has(peer.nodeId) || this.engine.hasChannelWith(fromHex(peer.nodeId))) this.reconnector.peerDown(peer.nodeId);
  }

  #sendToFront(frontId: string, message: ClusterMessage): boolean {
    const link = this.#links.get(frontId);
    if (!link || link.closed) return false;
    link.send(message);
    return true;
  }

  #countMessage(message: Uint8Array, direction: 'in' | 'out'): void {
    const type = message.length >= 2 ? messageTypeName((message[0]! << 8) | message[1]!) : 'empty';
    this.#metrics.messages.inc({ type, direction });
  }

  // ---- gossip -------------------------------------------------------------------------------------

  /** Reloads the routing table from SQLite (with progress in logs and getinfo), then persists every change. */
  async #loadGossip(): Promise<void> {
    const config = this.options.config;
    const path = config['gossip.db'] || `${config['data-dir']}/gossip.sqlite`;
    mkdirSync(config['data-dir'], { recursive: true });
    const log = this.#gossipLog;
    this.#gossipStore = GossipStore.open(path, { log: this.#gossipLog });
    const loaded = this.#gossipStore.load(this.gossipTable, {
      progressEvery: 10_000,
      onProgress: (p) => {
        this.#gossipLoad = { state: 'loading', channels: p.channels, totalChannels: p.totalChannels };
        log.info({ channels: p.channels, of: p.totalChannels, nodes: p.nodes }, 'loading the routing table');
      },
    });
    this.#gossipLoad = { state: 'ready', channels: loaded.channels, totalChannels: loaded.channels };
    this.#gossipStore.attach(this.gossipTable);
    this.gossipTable.startPruning(3600);
    log.info({ ...this.gossipTable.counts(), db: path, fundingCheck: config['gossip.funding-check'] ? 'on' : 'off (gossip.funding-check)' }, 'routing table ready');
    this.#announceSelf();
  }

  /** Signs our node_announcement; the table takes it once one of our channels is public (BOLT 7). */
  #announceSelf(): void {
    const secret = this.options.nodeSecret;
    if (!secret) return;
    const addresses = [...this.options.config['back.public-addresses'], ...(this.#onionAddress ? [`${this.#onionAddress}:9735`] : [])];
    try {
      const { decision } = publishOwnNodeAnnouncement(this.gossipTable, {
        secretKey: secret,
        alias: this.options.config['back.alias'],
        color: this.options.config['back.color'],
        addresses,
        features: maskForContext(combineFeatures(this.engine.initFeatures(), FRONT_FEATURES), 'node_announcement'),
      });
      this.#nodeAnnouncement = decision.accepted
        ? { status: 'published' }
        : { status: decision.reason === 'no-channel-for-node' ? 'waiting for a public channel' : 'refused', detail: decision.detail };
    } catch (error) {
      this.#nodeAnnouncement = { status: 'error', detail: (error as Error).message };
    }
    this.#log.info({ addresses, ...this.#nodeAnnouncement }, 'own node_announcement');
  }

  /**
   * A peer's channel_update also concerns the channel engine when that peer is a channel counterparty:
   * for a private channel it is the only way to learn the peer's fees (as LDK's PeerManager does).
   */
  #channelUpdateToEngine(message: Uint8Array, origins: readonly string[]): void {
    for (const origin of origins) {
      if (this.peers.get(origin) && this.#engine?.hasChannelWith(fromHex(origin))) this.#engine.handleMessage(fromHex(origin), message);
    }
  }

  /** Gossip the channel engine produced (our public channels): into the table like any other. */
  ingestOwnGossip(messages: readonly Uint8Array[]): void {
    for (const message of messages) {
      const decision = this.gossipTable.ingest(message, []);
      if (!decision.accepted) this.#log.warn({ reason: decision.reason, detail: decision.detail }, 'own gossip refused by the routing table');
    }
    if (this.#nodeAnnouncement.status !== 'published') this.#announceSelf();
  }

  // ---- admin API ----------------------------------------------------------------------------------

  info(): Record<string, unknown> {
    return {
      nodeId: this.nodeIdHex,
      network: this.options.config.network,
      fronts: this.fronts.list().length,
      peers: this.peers.size,
      publicAddresses: this.options.config['back.public-addresses'],
      ...(this.#onionAddress ? { onionAddress: this.#onionAddress } : {}),
      gossip: {
        ...this.gossipTable.counts(),
        load: this.#gossipLoad,
        // Accepted changes not yet written to SQLite (flushed every 200 ms): what a kill -9 now would lose.
        unsaved: this.#gossipStore?.pending ?? 0,
        sync: this.#gossipSync.progress(),
        nodeAnnouncement: this.#nodeAnnouncement,
      },
      ...this.#engine?.info?.(),
    };
  }

  #adminRoutes(): AdminRoutes {
    const engineCommands = () => this.#engine?.adminCommands?.() ?? {};
    const routes: AdminRoutes = {
      get: {
        getinfo: () => this.info(),
        discovery: (query) =>
          this.#watchRegistry(String(query['service'] ?? SERVICES.front), Number(query['index'] ?? 0) || 0, Number(query['wait'] ?? 0) || 0),
        peers: () =>
          this.peers.list().map((p) => ({
            nodeId: p.nodeId,
            front: p.frontId,
            session: p.sessionId,
            address: p.remoteAddress,
            direction: p.inbound ? 'inbound' : 'outbound',
            connectedAt: new Date(p.connectedAt).toISOString(),
          })),
        fronts: () =>
          this.fronts.list().map((f) => ({
            id: f.id,
            listen: f.listenAddress,
            keyless: f.keyless,
            healthy: Date.now() - f.lastHeartbeatAt < 3_000,
            draining: f.draining,
            peers: this.peers.countOnFront(f.id),
            load: f.load,
            connectedAt: new Date(f.connectedAt).toISOString(),
          })),
      },
      post: {
        drain: (body) => {
          const front = typeof body['front'] === 'string' ? body['front'] : '';
          const draining = body['draining'] !== false;
          if (!this.fronts.setDraining(front, draining)) throw new AdminError(404, 'unknown-front', `no front ${front}`);
          this.#registryChanged();
          this.#sendServiceState(front);
          this.#log.info({ front, draining }, draining ? 'front draining' : 'front back in service');
          return { front, draining };
        },
        connect: async (body) => {
          const uri = typeof body['uri'] === 'string' ? body['uri'] : '';
          const match = /^(0[23][0-9a-fA-F]{64})@(.+):(\d{1,5})$/.exec(uri);
          if (!match) throw new AdminError(400, 'bad-uri', 'expected <node_id>@<host>:<port>');
          const host = match[2]!.replace(/^\[(.*)\]$/, '$1');
          const result = await this.connect(match[1]!.toLowerCase(), host, Number(match[3]), body['persistent'] === true);
          if (result.outcome === 'no-front') throw new AdminError(503, 'no-front', result.message);
          return result;
        },
        disconnect: (body) => {
          const nodeId = typeof body['nodeId'] === 'string' ? body['nodeId'].toLowerCase() : '';
          this.#persistent.delete(nodeId);
          this.reconnector.forget(nodeId);
          if (!this.disconnectPeer(nodeId, 'disconnect requested by the operator')) throw new AdminError(404, 'not-connected', `peer ${nodeId} is not connected`);
          return { disconnected: nodeId };
        },
        // `lncluster tor` reports the published onion address (null when the service is down).
        [ONION_REPORT_COMMAND]: (body) => {
          this.setOnionAddress(parseOnionReport(body));
          return { onionAddress: this.#onionAddress ?? null };
        },
      },
    };
    // The engine's commands are looked up per request: it exists only once start() has run.
    return {
      get: new Proxy(routes.get, { get: (target, name: string) => target[name] ?? engineCommands().get?.[name] }),
      post: new Proxy(routes.post, { get: (target, name: string) => target[name] ?? engineCommands().post?.[name] }),
    };
  }
}

function sessionTarget(peer: PeerRecord): PeerTarget {
  return { kind: 'session', sessionId: peer.sessionId };
}
