import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { Counter, Gauge } from 'prom-client';
import { ClusterClient } from '../cluster/client.js';
import type { ClusterCredentials } from '../cluster/certificate.js';
import type { ClusterLink } from '../cluster/link.js';
import type { ClusterMessage, ConnectOutcome, FrontLoad, PeerTarget, WelcomeMessage } from '../cluster/messages.js';
import type { Config } from '../config/keys.js';
import { splitHostPort } from '../config/load.js';
import { checkRemoteFeatures, combineFeatures } from '../lightning/features/index.js';
import { defaultCrypto } from '../lightning/crypto/index.js';
import { localStaticKey, type NoiseConnection, type StaticKey } from '../lightning/transport/index.js';
import { encodeAddressDescriptor } from '../lightning/wire/address.js';
import { nodeAddressFromHost } from '../lightning/wire/address-from-text.js';
import { messageTypeName } from '../lightning/wire/types.js';
import { NodeKeyError, type NodeKey } from '../config/node-key.js';
import { getOrCreate } from '../util/metrics.js';
import { startOpsServer, type OpsServer } from '../util/ops-server.js';
import type { Logger } from '../util/log.js';
import { DialError, dialPeer } from './dialer.js';
import { GossipService } from './gossip/gossip-service.js';
import { decodeGossipFrame, encodeGossipFrame, PEER_FAULT_VERDICT_REASONS, type GossipRecord } from '../cluster/gossip-frames.js';
import type { GossipFrameMessage } from '../cluster/messages.js';
import { InboundListener } from './inbound-listener.js';
import { PeerSession, type InitPolicy } from './peer-session.js';

/** The back's verdict reasons that count against the peers an item came from. */
const PEER_FAULT_REASON_SET: ReadonlySet<string> = new Set(PEER_FAULT_VERDICT_REASONS);

/**
 * A front: stateless, one of many. It terminates BOLT 8, runs BOLT 1 with each peer, forwards
 * channel messages to the back over its cluster link and sends what the back asks. With
 * `front.node-key = delegated` it never holds the node key: the back answers the one ECDH of each
 * handshake.
 */
export interface FrontOptions {
  config: Config;
  log: Logger;
  credentials: ClusterCredentials;
  /** Present in local key mode only. */
  nodeKey?: NodeKey;
  /** Dials .onion hosts through Tor (set when front.tor-socks is configured). */
  proxyDial?: (host: string, port: number, timeoutMs: number) => Promise<import('node:net').Socket>;
  /** Each time the link to the back comes up (after the node id check), with the node id the back serves (hex). */
  onLinked?: (nodeIdHex: string) => void;
  /** When the back changes this front's service state (`lncluster cli drain` / `undrain`). */
  onServiceState?: (state: FrontServiceState) => void;
}

/**
 * What the back says about this front's service. A back of protocol version 1 never says anything:
 * the front then stays in service, as before.
 */
export interface FrontServiceState {
  /** The operator drained this front: the balancer should send it no new peers. Existing peers stay. */
  draining: boolean;
}

interface Settings {
  welcome: WelcomeMessage;
  handshakeTimeoutMs: number;
  initTimeoutMs: number;
  connectTimeoutMs: number;
  rebroadcastIntervalMs?: number;
  queriesPerSecond?: number;
  /** False when the back runs a channel engine: sessions that outlived a lost link are closed. */
  resumeSessions?: boolean;
}

/** Gossip for the back is collected for one turn of the event loop, then sent as one frame. */
const GOSSIP_IN_MAX_BYTES = 256 * 1024;

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

export class Front {
  readonly id: string;
  readonly #log: Logger;
  readonly #client: ClusterClient;
  readonly #listener: InboundListener;
  readonly #sessions = new Map<number, PeerSession>();
  readonly #sessionByNode = new Map<string, PeerSession>();
  readonly #pendingEcdh = new Map<number, { resolve(secret: Uint8Array): void; reject(error: Error): void; timer: NodeJS.Timeout }>();
  #nextSessionId = 1;
  #nextEcdhId = 1;
  #settings: Settings | undefined;
  #link: ClusterLink | undefined;
  #handshakes = 0;
  #dials = 0;
  #graceTimer: NodeJS.Timeout | undefined;
  #stopping = false;
  #started = false;
  #fatal: NodeKeyError | undefined;
  #linkCongested = false;
  #serviceState: FrontServiceState = { draining: false };
  #listenAddress = '';
  #ops: OpsServer | undefined;
  #bytesWindow = { at: Date.now(), in: 0, out: 0 };
  #gossip: GossipService | undefined;
  #gossipOut: Array<GossipRecord & { key: string }> = [];
  #gossipOutBytes = 0;
  #gossipFlush: NodeJS.Immediate | undefined;
  readonly #metrics = {
    sessions: getOrCreate('lncluster_front_peers', (r) => new Gauge({ name: 'lncluster_front_peers', help: 'live peer sessions on this front', labelNames: ['direction'], registers: [r] })),
    handshakes: getOrCreate(
      'lncluster_front_handshakes_total',
      (r) => new Counter({ name: 'lncluster_front_handshakes_total', help: 'BOLT 8 handshakes by result', labelNames: ['direction', 'result'], registers: [r] }),
    ),
    messages: getOrCreate(
      'lncluster_front_peer_messages_total',
      (r) => new Counter({ name: 'lncluster_front_peer_messages_total', help: 'peer messages by type and direction', labelNames: ['type', 'direction'], registers: [r] }),
    ),
    bytes: getOrCreate('lncluster_front_peer_bytes_total', (r) => new Counter({ name: 'lncluster_front_peer_bytes_total', help: 'peer message bytes', labelNames: ['direction'], registers: [r] })),
    link: getOrCreate('lncluster_front_cluster_link_up', (r) => new Gauge({ name: 'lncluster_front_cluster_link_up', help: '1 while the link to the back is up', registers: [r] })),
    linkQueue: getOrCreate(
      'lncluster_front_cluster_link_queue',
      (r) => new Gauge({ name: 'lncluster_front_cluster_link_queue', help: 'outgoing queue of the link to the back', labelNames: ['unit'], registers: [r] }),
    ),
  };

  constructor(private readonly options: FrontOptions) {
    const { config } = options;
    // Sampled at scrape time: the queue changes far more often than anyone looks at it.
    (this.#metrics.linkQueue as Gauge & { collect?: () => void }).collect = () => {
      const queued = this.#link?.queued ?? { bytes: 0, frames: 0 };
      this.#metrics.linkQueue.set({ unit: 'bytes' }, queued.bytes);
      this.#metrics.linkQueue.set({ unit: 'frames' }, queued.frames);
    };
    this.id = config['front.id'] || `${hostname()}-${process.pid}`;
    this.#log = options.log.child({ module: 'front', front: this.id });
    const listen = splitHostPort(config['front.listen']);
    this.#listener = new InboundListener({
      host: listen.host,
      port: listen.port,
      staticKey: () => this.#staticKey(),
      proxyTrusted: config['front.proxy-trusted'],
      handshakeTimeoutMs: config['peer.handshake-timeout-ms'],
      maxHandshakesPerIp: config['front.max-handshakes-per-ip'],
      admissionOpen: () => this.#sessions.size + this.#handshakes < config['front.max-peers'],
      onHandshakeStart: () => this.#handshakes++,
      onHandshakeEnd: (ok, reason) => {
        this.#handshakes--;
        this.#metrics.handshakes.inc({ direction: 'inbound', result: ok ? 'ok' : reason ?? 'failed' });
      },
      onConnection: (connection, remote) => this.#startSession(connection, 'inbound', remote.address, remote.port),
      log: this.#log,
    });
    this.#listener.setAccepting(false); // until the back has welcomed us
    const back = splitHostPort(config['front.back']);
    this.#client = new ClusterClient({
      host: back.host,
      port: back.port,
      credentials: options.credentials,
      hello: () => ({ frontId: this.id, listenAddresses: [this.#listenAddress], capacity: config['front.max-peers'], holdsNodeKey: options.nodeKey !== undefined }),
      link: { loadProvider: () => this.load() },
    });
    this.#client.on('up', ({ welcome, link }) => this.#onUp(welcome, link));
    this.#client.on('down', ({ closed, retryInMs }) => this.#onDown(`${closed.reason}: ${closed.message}`, retryInMs));
    this.#client.on('connect-failed', ({ error, attempt, retryInMs }) => {
      if (attempt === 1 || attempt % 10 === 0) this.#log.warn({ reason: error.message, attempt, retryInMs }, 'cannot reach the back');
    });
  }

  get listenAddress(): string {
    return this.#listenAddress;
  }

  get isLinked(): boolean {
    return this.#link !== undefined;
  }

  /** The node id the back serves (hex), once linked. */
  get nodeIdHex(): string | undefined {
    const welcome = this.#settings?.welcome;
    return welcome ? hex(welcome.nodeId) : undefined;
  }

  /** The last service state the back sent (kept across a lost link: the back sends it again on relink). */
  get serviceState(): FrontServiceState {
    return { ...this.#serviceState };
  }

  async start(): Promise<{ listen: string; opsUrl: string }> {
    const address = await this.#listener.listen();
    const advertised = this.options.config['front.advertise'];
    const host = advertised || (address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address);
    this.#listenAddress = `${host.includes(':') ? `[${host}]` : host}:${address.port}`;
    const ops = splitHostPort(this.options.config['ops.listen']);
    this.#ops = await startOpsServer({
      host: ops.host,
      port: ops.port,
      readiness: () => [...(this.#link ? [] : ['not linked to the back']), ...(this.#stopping ? ['stopping'] : [])],
      details: () => ({ role: 'front', id: this.id, linked: this.isLinked, peers: this.#sessions.size, listen: this.#listenAddress, gossip: this.#gossipSummary() }),
    });
    this.#client.start();
    // Ready means serving: linked to the back, which gives the node id and init features.
    await this.#client.waitUntilUp().catch(() => undefined);
    if (this.#fatal) {
      await this.stop('node id mismatch');
      throw this.#fatal;
    }
    this.#started = true;
    this.#log.info({ listen: this.#listenAddress, back: this.options.config['front.back'], keyless: !this.options.nodeKey, ops: this.#ops.url }, 'front started');
    return { listen: this.#listenAddress, opsUrl: this.#ops.url };
  }

  /** SIGTERM: stop accepting, close every peer (telling the back), leave. */
  async stop(reason = 'front shutting down'): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#listener.setAccepting(false);
    for (const session of [...this.#sessions.values()]) session.fail(reason, 'warning');
    // Give peer-down frames a moment to reach the back before the link closes.
    await new Promise((resolve) => setTimeout(resolve, 100));
    this.#client.stop();
    await this.#listener.close();
    this.#gossip?.close();
    await this.#ops?.close();
  }

  load(): FrontLoad {
    const now = Date.now();
    const seconds = Math.max(0.001, (now - this.#bytesWindow.at) / 1000);
    let bytesIn = 0;
    let bytesOut = 0;
    for (const session of this.#sessions.values()) {
      bytesIn += session.bytesIn;
      bytesOut += session.bytesOut;
    }
    const load: FrontLoad = {
      livePeers: [...this.#sessions.values()].filter((s) => s.ready).length,
      handshakesInProgress: this.#handshakes,
      dialsInProgress: this.#dials,
      bytesInPerSecond: Math.max(0, Math.round((bytesIn - this.#bytesWindow.in) / seconds)),
      bytesOutPerSecond: Math.max(0, Math.round((bytesOut - this.#bytesWindow.out) / seconds)),
    };
    this.#bytesWindow = { at: now, in: bytesIn, out: bytesOut };
    return load;
  }

  sessions(): PeerSession[] {
    return [...this.#sessions.values()];
  }

  // ---- the link -----------------------------------------------------------------------------------

  /** The back must serve the node our key (local mode) and node-id (NODE_PUB_KEY) name. */
  #nodeIdMismatch(backNodeId: Uint8Array): NodeKeyError | undefined {
    const back = hex(backNodeId);
    if (this.options.nodeKey && hex(this.options.nodeKey.nodeId) !== back) {
      return new NodeKeyError('node-id-mismatch', `the back serves node ${back}, but this front's node key is ${hex(this.options.nodeKey.nodeId)}`);
    }
    const expected = this.options.config['node-id'];
    if (expected && expected !== back) return new NodeKeyError('node-id-mismatch', `the back serves node ${back}, but node-id (NODE_PUB_KEY) is ${expected}`);
    return undefined;
  }

  #onUp(welcome: WelcomeMessage, link: ClusterLink): void {
    const mismatch = this.#nodeIdMismatch(welcome.nodeId);
    if (mismatch) {
      // Refuse to serve another node: at start, start() throws it (one clear line, exit 2); later, exit.
      this.#fatal = mismatch;
      this.#log.fatal({ reason: mismatch.message }, 'refusing to serve');
      link.close('local', 'node id mismatch');
      this.#client.stop();
      if (this.#started) void this.stop('node id mismatch').then(() => process.exit(2));
      return;
    }
    let extra: Partial<Omit<Settings, 'welcome'>> & { draining?: boolean } = {};
    try {
      extra = JSON.parse(welcome.settingsJson) as typeof extra;
    } catch {
      this.#log.warn('unreadable settings in the welcome; using local timeouts');
    }
    const config = this.options.config;
    this.#settings = {
      welcome,
      handshakeTimeoutMs: extra.handshakeTimeoutMs ?? config['peer.handshake-timeout-ms'],
      initTimeoutMs: extra.initTimeoutMs ?? config['peer.init-timeout-ms'],
      connectTimeoutMs: extra.connectTimeoutMs ?? config['peer.connect-timeout-ms'],
      ...(extra.rebroadcastIntervalMs ? { rebroadcastIntervalMs: extra.rebroadcastIntervalMs } : {}),
      ...(extra.queriesPerSecond ? { queriesPerSecond: extra.queriesPerSecond } : {}),
      resumeSessions: extra.resumeSessions ?? true,
    };
    this.#link = link;
    this.#linkCongested = false;
    this.#gossip ??= this.#createGossip(welcome);
    clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    this.#metrics.link.set(1);
    link.on('message', (message) => this.#onLinkMessage(message));
    link.on('drain', () => {
      this.#linkCongested = false;
      for (const session of this.#sessions.values()) session.resume();
    });
    // Sessions that survived a short loss of the back are announced again, or closed so that the peer
    // reconnects when the back's channel engine needs a fresh init (channel_reestablish).
    for (const session of [...this.#sessions.values()]) {
      if (!session.ready) continue;
      if (this.#settings.resumeSessions === false) session.fail('the node restarted its channel engine: please reconnect', 'warning');
      else this.#announce(session, session.remoteInit!);
    }
    if (!this.#stopping) this.#listener.setAccepting(true);
    if (typeof extra.draining === 'boolean') this.#onServiceState({ draining: extra.draining });
    this.#log.info({ nodeId: hex(welcome.nodeId) }, 'linked to the back');
    this.#notify('onLinked', () => this.options.onLinked?.(hex(welcome.nodeId)));
  }

  #onServiceState(state: FrontServiceState): void {
    // From the welcome's settings on every link, and from service-state messages: only a change is worth passing on.
    if (state.draining === this.#serviceState.draining) return;
    this.#serviceState = { ...state };
    this.#log.info({ draining: state.draining }, state.draining ? 'the back drains this front' : 'the back put this front back in service');
    this.#notify('onServiceState', () => this.options.onServiceState?.(this.serviceState));
  }

  /** Runs a caller's hook: a failing hook is logged and never breaks the link's message handling. */
  #notify(hook: string, run: () => void): void {
    try {
      run();
    } catch (error) {
      this.#log.error({ err: error, hook }, 'front hook failed');
    }
  }

  #onDown(reason: string, retryInMs: number): void {
    this.#link = undefined;
    this.#metrics.link.set(0);
    this.#listener.setAccepting(false);
    for (const pending of this.#pendingEcdh.values()) pending.reject(new Error('link to the back lost'));
    this.#log.warn({ reason, retryInMs }, 'link to the back lost: not accepting new peers');
    const grace = this.options.config['front.disconnect-grace-ms'];
    this.#graceTimer ??= setTimeout(() => {
      this.#graceTimer = undefined;
      if (this.#link) return;
      this.#log.warn({ peers: this.#sessions.size, graceMs: grace }, 'back still unreachable: disconnecting peers');
      for (const session of [...this.#sessions.values()]) session.fail('node temporarily unavailable', 'warning');
    }, grace);
  }

  #send(message: ClusterMessage): void {
    const link = this.#link;
    if (!link || link.closed) return;
    if (!link.send(message) && !this.#linkCongested) {
      // Backpressure: a stalled back pauses reading from peers rather than buffering without limit.
      this.#linkCongested = true;
      for (const session of this.#sessions.values()) session.pause();
    }
  }

  #onLinkMessage(message: ClusterMessage): void {
    switch (message.type) {
      case 'send-to-peer': {
        const session = this.#resolve(message.target);
        if (!session) return;
        session.send(message.data);
        return;
      }
      case 'disconnect-peer':
        this.#resolve(message.target)?.close(message.reason);
        return;
      case 'connect-request':
        void this.#dial(message.requestId, message.nodeId, message.host, message.port);
        return;
      case 'ecdh-reply': {
        const pending = this.#pendingEcdh.get(message.requestId);
        if (!pending) return;
        if (message.result.ok) pending.resolve(message.result.secret);
        else pending.reject(new Error(`the back refused ECDH: ${message.result.error}`));
        return;
      }
      case 'gossip':
        this.#onGossipFrame(message);
        return;
      case 'service-state':
        this.#onServiceState({ draining: message.draining });
        return;
      case 'heartbeat':
        return;
      default:
        this.#log.warn({ type: message.type }, 'unexpected message from the back');
    }
  }

  #resolve(target: PeerTarget): PeerSession | undefined {
    return target.kind === 'session' ? this.#sessions.get(target.sessionId) : this.#sessionByNode.get(hex(target.nodeId));
  }

  // ---- keys ---------------------------------------------------------------------------------------

  #staticKey(): StaticKey {
    if (this.options.nodeKey) return localStaticKey(this.options.nodeKey.secret, defaultCrypto());
    const welcome = this.#settings?.welcome;
    if (!welcome) throw new Error('not linked to the back');
    return { publicKey: welcome.nodeId, ecdh: (point) => this.#delegatedEcdh(point) };
  }

  #delegatedEcdh(point: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      if (!this.#link) {
        reject(new Error('not linked to the back'));
        return;
      }
      const requestId = this.#nextEcdhId++;
      const done = () => {
        clearTimeout(entry.timer);
        this.#pendingEcdh.delete(requestId);
      };
      const entry = {
        resolve: (secret: Uint8Array) => (done(), resolve(secret)),
        reject: (error: Error) => (done(), reject(error)),
        timer: setTimeout(() => entry.reject(new Error('the back did not answer the ECDH request')), 5_000),
      };
      this.#pendingEcdh.set(requestId, entry);
      this.#send({ type: 'ecdh-request', requestId, point });
    });
  }

  // ---- sessions -----------------------------------------------------------------------------------

  #startSession(connection: NoiseConnection, direction: 'inbound' | 'outbound', remoteAddress: string, remotePort: number): PeerSession | undefined {
    const settings = this.#settings;
    if (!settings || this.#stopping) {
      connection.close();
      return undefined;
    }
    const sessionId = this.#nextSessionId++;
    const log = this.#log.child({ session: sessionId, peer: hex(connection.remoteNodeId) });
    const initPolicy: InitPolicy = (init) => {
      const result = checkRemoteFeatures(settings.welcome.initFeatures, combineFeatures(init.globalFeatures, init.features));
      return result.ok ? undefined : result.error.message;
    };
    const session = new PeerSession(
      connection,
      sessionId,
      direction,
      formatAddress(remoteAddress, remotePort),
      {
        chainHash: settings.welcome.chainHash,
        initFeatures: settings.welcome.initFeatures,
        pingIntervalMs: settings.welcome.pingIntervalMs,
        pongTimeoutMs: settings.welcome.pingTimeoutMs,
        initTimeoutMs: settings.initTimeoutMs,
      },
      initPolicy,
      log,
    );
    this.#sessions.set(sessionId, session);
    session.on('ready', (init) => {
      const previous = this.#sessionByNode.get(session.nodeIdHex);
      this.#sessionByNode.set(session.nodeIdHex, session);
      if (previous && previous !== session) previous.close('replaced by a newer session on this front');
      this.#metrics.sessions.inc({ direction });
      this.#gossip?.addPeer(session);
      log.info({ remote: session.remoteAddress, direction }, 'peer ready');
      this.#announce(session, init);
    });
    session.on('wire', (direction, message) => this.#countMessage(message, direction));
    session.on('forward', (message) => {
      this.#send({ type: 'peer-message', sessionId, nodeId: connection.remoteNodeId, data: message });
    });
    session.on('gossip', (message) => {
      if (session.ready) this.#gossip?.onPeerGossip(session, message);
    });
    session.on('closed', (reason) => {
      this.#sessions.delete(sessionId);
      this.#gossip?.removePeer(session);
      if (this.#sessionByNode.get(session.nodeIdHex) === session) this.#sessionByNode.delete(session.nodeIdHex);
      if (session.ready) {
        this.#metrics.sessions.dec({ direction });
        this.#send({ type: 'peer-down', sessionId, nodeId: connection.remoteNodeId, reason });
      }
      log.info({ reason }, 'peer session closed');
    });
    if (this.#linkCongested) session.pause();
    session.start(remoteAddrTlv(remoteAddress, remotePort));
    return session;
  }

  #announce(session: PeerSession, init: Uint8Array): void {
    this.#send({
      type: 'peer-ready',
      sessionId: session.sessionId,
      nodeId: session.connection.remoteNodeId,
      remoteAddress: session.remoteAddress,
      direction: session.direction,
      initMessage: init,
    });
  }

  async #dial(requestId: number, nodeId: Uint8Array, host: string, port: number): Promise<void> {
    const settings = this.#settings;
    const reply = (outcome: ConnectOutcome, message: string, sessionId?: number) =>
      this.#send({ type: 'connect-result', requestId, outcome, message, ...(sessionId === undefined ? {} : { sessionId }) });
    if (!settings || this.#stopping) {
      reply('failure', 'front is not serving');
      return;
    }
    this.#dials++;
    try {
      const connection = await dialPeer({
        nodeId,
        host,
        port,
        staticKey: this.#staticKey(),
        connectTimeoutMs: settings.connectTimeoutMs,
        handshakeTimeoutMs: settings.handshakeTimeoutMs,
        proxyDial: this.options.proxyDial,
        proxyAll: this.options.config['front.tor-all'],
        sourceAddress: this.options.config['front.dial-source-address'] || undefined,
      });
      this.#metrics.handshakes.inc({ direction: 'outbound', result: 'ok' });
      const session = this.#startSession(connection, 'outbound', host, port);
      if (!session) {
        reply('failure', 'front stopped while dialing');
        return;
      }
      const outcome = await new Promise<{ ok: boolean; reason: string }>((resolve) => {
        session.once('ready', () => resolve({ ok: true, reason: 'connected' }));
        session.once('closed', (reason) => resolve({ ok: false, reason }));
      });
      if (outcome.ok) reply('connected', `connected through front ${this.id}`, session.sessionId);
      else reply('failure', `init exchange failed: ${outcome.reason}`);
    } catch (error) {
      const outcome = error instanceof DialError ? error.outcome : 'failure';
      this.#metrics.handshakes.inc({ direction: 'outbound', result: outcome });
      reply(outcome, error instanceof Error ? error.message : String(error));
    } finally {
      this.#dials--;
    }
  }

  // ---- gossip -------------------------------------------------------------------------------------

  #createGossip(welcome: WelcomeMessage): GossipService {
    return new GossipService({
      chainHash: welcome.chainHash,
      ...(this.#settings?.rebroadcastIntervalMs ? { rebroadcastIntervalMs: this.#settings.rebroadcastIntervalMs } : {}),
      ...(this.#settings?.queriesPerSecond ? { queriesPerSecond: this.#settings.queriesPerSecond } : {}),
      forward: (message, origins, key) => this.#queueGossipIn({ message, origins, key }),
      // Replies to the back's own sync queries go to the back like any peer message.
      onSyncReply: (session, message) => {
        const peer = this.#sessionByNode.get(session.nodeIdHex);
        if (peer) this.#send({ type: 'peer-message', sessionId: peer.sessionId, nodeId: peer.connection.remoteNodeId, data: message });
      },
      onViolation: (session, reason) => this.#log.info({ peer: session.nodeIdHex, reason }, 'gossip rule broken by peer'),
      aggregator: { isPeerFault: (reason) => reason !== undefined && PEER_FAULT_REASON_SET.has(reason) },
    });
  }

  #queueGossipIn(record: GossipRecord & { key: string }): void {
    this.#gossipOut.push(record);
    this.#gossipOutBytes += record.message.length + 40 * record.origins.length + record.key.length;
    if (this.#gossipOutBytes >= GOSSIP_IN_MAX_BYTES) this.#flushGossipIn();
    else this.#gossipFlush ??= setImmediate(() => this.#flushGossipIn());
  }

  #flushGossipIn(): void {
    if (this.#gossipFlush) clearImmediate(this.#gossipFlush);
    this.#gossipFlush = undefined;
    if (this.#gossipOut.length === 0) return;
    const records = this.#gossipOut;
    this.#gossipOut = [];
    this.#gossipOutBytes = 0;
    this.#send(encodeGossipFrame({ kind: 'gossip-in', records }));
  }

  #onGossipFrame(frame: GossipFrameMessage): void {
    const gossip = this.#gossip;
    if (!gossip) return;
    let message;
    try {
      message = decodeGossipFrame(frame);
    } catch (error) {
      this.#log.warn({ reason: (error as Error).message }, 'malformed gossip frame from the back');
      return;
    }
    switch (message.kind) {
      case 'snapshot-batch':
        gossip.applySnapshot(message.messages);
        return;
      case 'snapshot-end':
        this.#log.info({ messages: message.total, replica: gossip.stats().replica }, 'routing table replica loaded');
        return;
      case 'accepted':
        gossip.applyFromBack(message.records.map((r) => r.message));
        return;
      case 'decisions':
        gossip.applyFromBack([], message.verdicts);
        return;
      case 'gossip-in':
        return;
    }
  }

  #gossipSummary(): Record<string, unknown> | null {
    const stats = this.#gossip?.stats();
    return stats ? { replica: stats.replica, messagesSent: stats.messagesSent, peers: stats.peers } : null;
  }

  /** Gossip figures for /health and tests. */
  gossipStats(): ReturnType<GossipService['stats']> | undefined {
    return this.#gossip?.stats();
  }

  #countMessage(message: Uint8Array, direction: 'in' | 'out'): void {
    const type = message.length >= 2 ? messageTypeName((message[0]! << 8) | message[1]!) : 'empty';
    this.#metrics.messages.inc({ type, direction });
    this.#metrics.bytes.inc({ direction }, message.length);
  }
}

function formatAddress(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/** BOLT 1 `remote_addr`: the address we see the peer at, when it is an IP address. */
function remoteAddrTlv(address: string, port: number): Uint8Array | undefined {
  return isIP(address) ? encodeAddressDescriptor(nodeAddressFromHost(address, port)) : undefined;
}
