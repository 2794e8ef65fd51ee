// The built-in balancer's data plane in one process: accept, admit, choose the front with the
// fewest connections, connect (retrying on another front while nothing has been forwarded yet),
// write the PROXY v2 header, then splice both directions with backpressure and half-close.
import net from 'node:net';
import { AdmissionControl, DEFAULT_ADMISSION_LIMITS, type AdmissionLimits } from './admission.js';
import { BackendSet, type BackendSetOptions, type BackendSpec, type BackendTarget, type BackendView } from './backend-set.js';
import { DeadlineQueue } from './builtin-deadlines.js';
import { cachingLookup } from './builtin-dns.js';
import { ProxyHeaderCache } from './builtin-header.js';
import { originTlv } from './proxy-v2.js';

export interface ListenSpec {
  /** '::' listens dual-stack (IPv4 and IPv6); falls back to 0.0.0.0 where IPv6 is unavailable. */
  host: string;
  port: number;
}

export interface BalancerOptions {
  listen: ListenSpec[];
  /** Write a PROXY v2 header to the front first. */
  proxyProtocol: boolean;
  /** Value of the origin TLV (0xE0) in each header, e.g. "clearnet"; null sends none. */
  origin: string | null;
  connectTimeoutMs: number;
  /** A client that has not sent a single byte after this long is closed. */
  idleTimeoutMs: number;
  /** Fronts tried for one client before giving up. */
  maxConnectAttempts: number;
  limits: AdmissionLimits;
  backends: Partial<BackendSetOptions>;
  /** Processes serving the port (builtin.ts); the engine itself is always one process. */
  workers: number;
  /** With workers > 1: who hands out accepted connections (see workers.ts). */
  clusterScheduling: 'kernel' | 'round-robin';
  /**
   * Who moves the bytes: 'native' (native/relay/relay.c, half the CPU per connection), 'node'
   * (net.Socket, this file), or 'auto': native when its module is built, else node.
   */
  dataPath: DataPathChoice;
  /** Bind with SO_REUSEPORT (native data path with workers: each worker binds the port itself). */
  reusePort: boolean;
}

export type DataPathChoice = 'auto' | 'native' | 'node';

export const DEFAULT_BALANCER_OPTIONS: BalancerOptions = {
  listen: [{ host: '::', port: 9735 }],
  proxyProtocol: true,
  origin: null,
  connectTimeoutMs: 3_000,
  idleTimeoutMs: 30_000,
  maxConnectAttempts: 3,
  limits: DEFAULT_ADMISSION_LIMITS,
  backends: {},
  workers: 1,
  clusterScheduling: 'kernel',
  dataPath: 'auto',
  reusePort: false,
};

/** Options as a caller may give them: any subset, limits and backend options merged field by field. */
export type BalancerOptionsInput = Partial<Omit<BalancerOptions, 'limits'>> & { limits?: Partial<AdmissionLimits> };

export function resolveBalancerOptions(input: BalancerOptionsInput, base: BalancerOptions = DEFAULT_BALANCER_OPTIONS): BalancerOptions {
  return {
    ...base,
    ...input,
    limits: { ...base.limits, ...input.limits },
    backends: { ...base.backends, ...input.backends },
  };
}

export interface BalancerStats {
  activeConnections: number;
  acceptedTotal: number;
  forwardedTotal: number;
  refused: { globalCap: number; sourceConnections: number; sourceRate: number; noBackend: number };
  connectFailures: number;
  retries: number;
  idleTimeouts: number;
  bytesFromClients: number;
  bytesToClients: number;
  backends: BackendView[];
}

export function emptyStats(): BalancerStats {
  return {
    activeConnections: 0,
    acceptedTotal: 0,
    forwardedTotal: 0,
    refused: { globalCap: 0, sourceConnections: 0, sourceRate: 0, noBackend: 0 },
    connectFailures: 0,
    retries: 0,
    idleTimeouts: 0,
    bytesFromClients: 0,
    bytesToClients: 0,
    backends: [],
  };
}

export interface BoundAddress {
  host: string;
  port: number;
  family: string;
}

export class BalancerError extends Error {
  override readonly name = 'BalancerError';
  constructor(
    readonly code: 'LISTEN_FAILED' | 'NOT_STARTED' | 'CLOSED' | 'WORKER_FAILED' | 'NO_NATIVE',
    message: string,
  ) {
    super(message);
  }
}

/** What both data paths do with a listener: one engine's public surface. */
export interface Engine {
  readonly backends: BackendSet;
  start(): Promise<BoundAddress[]>;
  addresses(): BoundAddress[];
  updateBackends(snapshot: readonly BackendSpec[]): void;
  drain(id: string, draining?: boolean): boolean;
  reload(input: BalancerOptionsInput): Promise<BoundAddress[]>;
  stats(): BalancerStats;
  close(graceMs?: number): Promise<void>;
}

/** Which listeners a reload keeps (indexes into `current`), opens, and closes (indexes). */
export function planListeners(current: readonly ListenSpec[], wanted: readonly ListenSpec[]): { kept: number[]; added: ListenSpec[]; dropped: number[] } {
  const keyOf = (s: ListenSpec): string => `${s.host}|${s.port}`;
  const wantedKeys = new Map(wanted.map((s) => [keyOf(s), s]));
  const currentKeys = new Set(current.map(keyOf));
  const kept: number[] = [];
  const dropped: number[] = [];
  current.forEach((s, i) => (wantedKeys.has(keyOf(s)) ? kept : dropped).push(i));
  return { kept, added: [...wantedKeys.values()].filter((s) => !currentKeys.has(keyOf(s))), dropped };
}

/**
 * Opens a listener through `attempt(host)`; '::' falls back to 0.0.0.0 where IPv6 is unavailable.
 * Failures become BalancerError LISTEN_FAILED naming the address.
 */
export function listenWithFallback<T>(spec: ListenSpec, attempt: (host: string) => Promise<T>): Promise<T> {
  return attempt(spec.host).catch((error: NodeJS.ErrnoException) => {
    if (spec.host === '::' && (error.code === 'EAFNOSUPPORT' || error.code === 'EADDRNOTAVAIL')) return attempt('0.0.0.0');
    throw new BalancerError('LISTEN_FAILED', `cannot listen on ${spec.host}:${spec.port}: ${error.message}`);
  });
}

/**
 * The address clients reach a listener on, when it is one fixed address (not a wildcard): the
 * PROXY header's destination then needs no getsockname per connection.
 */
interface LocalAddress {
  address: string | null;
  port: number;
}

interface Listener {
  spec: ListenSpec;
  server: net.Server;
  local: LocalAddress;
}

/** Per-connection state, kept small: one object and the listeners' closures. */
class Relay {
  upstream: net.Socket | null = null;
  /** Fronts that failed for this client; created on the first failure only. */
  failed: Set<string> | null = null;
  attempts = 0;
  /** The upstream connected and bytes may have been forwarded: no more retries. */
  connected = false;
  constructor(
    readonly client: net.Socket,
    readonly key: string,
    readonly local: LocalAddress,
  ) {}
}

const ignore = (): void => undefined;

/**
 * Passes on an end of stream (half-close). When the socket has already read its own peer's end and has
 * nothing left to write, closing it sends the same FIN as a shutdown would, without the shutdown call
 * and its callback: the common case when a short connection ends from both sides.
 */
function finishWriting(socket: net.Socket): void {
  if (socket.readableEnded && socket.writableLength === 0) socket.destroy();
  else socket.end();
}
const WILDCARDS = new Set(['::', '0.0.0.0', '']);

export class BalancerEngine implements Engine {
  readonly backends: BackendSet;
  private options: BalancerOptions;
  private readonly admission: AdmissionControl;
  private listeners: Listener[] = [];
  private readonly sockets = new Set<net.Socket>();
  private readonly counters = emptyStats();
  private headers: ProxyHeaderCache;
  /** Clients that have not sent a byte yet (checked when their deadline passes). */
  private idle: DeadlineQueue<Relay>;
  /** Relays whose upstream is connecting. */
  private connecting: DeadlineQueue<Relay>;
  private closed = false;
  private readonly lookup = cachingLookup();

  constructor(options: BalancerOptionsInput = {}, snapshot: readonly BackendSpec[] = []) {
    this.options = resolveBalancerOptions(options);
    this.admission = new AdmissionControl(this.options.limits);
    this.backends = new BackendSet(this.options.backends, snapshot);
    this.headers = new ProxyHeaderCache(this.options.origin ? [originTlv(this.options.origin)] : []);
    this.idle = new DeadlineQueue(this.options.idleTimeoutMs, this.idleExpired);
    this.connecting = new DeadlineQueue(this.options.connectTimeoutMs, this.connectExpired);
  }

  async start(): Promise<BoundAddress[]> {
    if (this.closed) throw new BalancerError('CLOSED', 'balancer is closed');
    this.listeners = await Promise.all(this.options.listen.map((spec) => this.listen(spec)));
    this.backends.startHealthChecks();
    return this.addresses();
  }

  addresses(): BoundAddress[] {
    return this.listeners.flatMap(({ server }) => {
      const a = server.address();
      return a && typeof a === 'object' ? [{ host: a.address, port: a.port, family: a.family }] : [];
    });
  }

  updateBackends(snapshot: readonly BackendSpec[]): void {
    this.backends.update(snapshot);
  }

  drain(id: string, draining = true): boolean {
    return this.backends.drain(id, draining);
  }

  /**
   * Applies new options without touching open connections: limits and timeouts apply to the next
   * connection; listeners that are no longer wanted stop accepting (their connections stay), new
   * ones open first so the port is never unserved when an address is only moving.
   */
  async reload(input: BalancerOptionsInput): Promise<BoundAddress[]> {
    const next = resolveBalancerOptions(input, this.options);
    const plan = planListeners(
      this.listeners.map((l) => l.spec),
      next.listen,
    );
    const added = await Promise.all(plan.added.map((s) => this.listen(s)));
    for (const i of plan.dropped) this.listeners[i]!.server.close();
    this.listeners = [...plan.kept.map((i) => this.listeners[i]!), ...added];
    this.options = next;
    this.admission.setLimits(next.limits);
    this.headers = new ProxyHeaderCache(next.origin ? [originTlv(next.origin)] : []);
    // A queue expires in insertion order only for one delay: a new delay gets a new queue, and the
    // old one keeps serving the connections already in it (each relay remembers its queue).
    if (next.idleTimeoutMs !== this.idle.delayMs) this.idle = new DeadlineQueue(next.idleTimeoutMs, this.idleExpired);
    if (next.connectTimeoutMs !== this.connecting.delayMs) this.connecting = new DeadlineQueue(next.connectTimeoutMs, this.connectExpired);
    return this.addresses();
  }

  stats(): BalancerStats {
    return {
      ...this.counters,
      refused: { ...this.counters.refused },
      activeConnections: this.admission.activeConnections,
      backends: this.backends.list(),
    };
  }

  /** Stops accepting; open connections get `graceMs` to finish, then are cut. */
  async close(graceMs = 0): Promise<void> {
    this.closed = true;
    this.backends.stopHealthChecks();
    await Promise.all(this.listeners.map((l) => new Promise<void>((resolve) => l.server.close(() => resolve()))).concat(this.waitForSockets(graceMs)));
    this.admission.close();
  }

  private async waitForSockets(graceMs: number): Promise<void> {
    if (graceMs > 0 && this.sockets.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        const poll = setInterval(() => {
          if (this.sockets.size === 0) {
            clearTimeout(timer);
            clearInterval(poll);
            resolve();
          }
        }, 50);
        timer.unref();
      });
    }
    for (const socket of this.sockets) socket.destroy();
    this.idle.clear();
    this.connecting.clear();
  }

  private listen(spec: ListenSpec): Promise<Listener> {
    const local: LocalAddress = { address: null, port: 0 };
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false, noDelay: true }, (socket) => this.handle(socket, local));
    server.on('error', () => undefined); // errors after listen (EMFILE on accept) must not crash us
    const attempt = (host: string): Promise<Listener> =>
      new Promise((resolve, reject) => {
        const onError = (error: NodeJS.ErrnoException): void => reject(error);
        server.once('error', onError);
        server.listen({ host, port: spec.port, ipv6Only: false, backlog: 4096 }, () => {
          server.off('error', onError);
          const bound = server.address();
          if (bound && typeof bound === 'object' && !WILDCARDS.has(bound.address)) {
            local.address = bound.address;
            local.port = bound.port;
          }
          resolve({ spec, server, local });
        });
      });
    return listenWithFallback(spec, attempt);
  }

  private handle(client: net.Socket, local: LocalAddress): void {
    const counters = this.counters;
    counters.acceptedTotal++;
    client.on('error', ignore);
    const key = this.admission.keyOf(client.remoteAddress ?? '');
    const verdict = this.admission.admitKey(key);
    if (verdict !== 'admitted') {
      if (verdict === 'global-cap') counters.refused.globalCap++;
      else if (verdict === 'source-connections') counters.refused.sourceConnections++;
      else counters.refused.sourceRate++;
      client.destroy();
      return;
    }
    this.sockets.add(client);
    const relay = new Relay(client, key, local);
    const idle = this.idle;
    client.on('close', () => this.clientClosed(relay, idle));
    // A client that never sends a byte is dropped. bytesRead counts what the kernel handed us even
    // while the socket is not flowing yet, so no per-chunk listener is needed.
    idle.add(relay);
    this.attempt(relay);
  }

  private clientClosed(relay: Relay, idle: DeadlineQueue<Relay>): void {
    const { client, upstream } = relay;
    this.sockets.delete(client);
    idle.delete(relay);
    this.connecting.delete(relay);
    const counters = this.counters;
    counters.bytesFromClients += client.bytesRead;
    counters.bytesToClients += client.bytesWritten;
    this.admission.release(relay.key);
    if (!upstream || upstream.destroyed) return;
    // The front's bytes have nowhere to go now. Once the front has finished sending, only our own
    // writes to it may still be flushing: let them. Otherwise cut it: a front still sending would wait
    // forever on an upstream paused for a client that is gone (a reset in mid-stream leaked it).
    if (upstream.readableEnded && upstream.writableEnded && !upstream.writableFinished) upstream.once('finish', () => upstream.destroy());
    else upstream.destroy();
  }

  private readonly idleExpired = (relay: Relay): void => {
    const client = relay.client;
    if (client.bytesRead === 0 && !client.destroyed) {
      this.counters.idleTimeouts++;
      client.destroy();
      relay.upstream?.destroy();
    }
  };

  private readonly connectExpired = (relay: Relay): void => {
    if (!relay.connected) relay.upstream?.destroy(new Error('connect timeout'));
  };

  private attempt(relay: Relay): void {
    const client = relay.client;
    if (client.destroyed) return;
    const backend = this.backends.pick(relay.failed);
    if (!backend) {
      this.counters.refused.noBackend++;
      client.destroy();
      return;
    }
    relay.attempts++;
    // Numeric hosts connect without any lookup; names are resolved once per TTL, not per client.
    const socket = net.connect({ host: backend.host, port: backend.port, allowHalfOpen: true, noDelay: true, lookup: this.lookup });
    relay.upstream = socket;
    this.connecting.add(relay);
    socket.on('error', ignore);
    socket.on('close', () => this.upstreamClosed(relay, socket, backend));
    socket.on('connect', () => this.upstreamConnected(relay, socket, backend));
  }

  private upstreamClosed(relay: Relay, socket: net.Socket, backend: BackendTarget): void {
    const client = relay.client;
    if (relay.connected) {
      this.backends.release(backend.id);
      if (!client.writableEnded) client.destroy();
      return;
    }
    this.connecting.delete(relay);
    // The client left while we were connecting: not the front's fault.
    if (client.destroyed || relay.upstream !== socket) return;
    // Nothing was forwarded yet: this client may still be saved by another front.
    const counters = this.counters;
    counters.connectFailures++;
    this.backends.reportFailure(backend.id);
    (relay.failed ??= new Set()).add(backend.id);
    if (relay.attempts < this.options.maxConnectAttempts) {
      counters.retries++;
      this.attempt(relay);
    } else {
      counters.refused.noBackend++;
      client.destroy();
    }
  }

  private upstreamConnected(relay: Relay, socket: net.Socket, backend: BackendTarget): void {
    this.connecting.delete(relay);
    const client = relay.client;
    if (client.destroyed) {
      socket.destroy();
      return;
    }
    relay.connected = true;
    this.backends.reportSuccess(backend.id);
    this.backends.acquire(backend.id);
    this.counters.forwardedTotal++;
    if (client.bytesRead > 0) this.idle.delete(relay);
    client.on('end', () => finishWriting(socket));
    socket.on('end', () => finishWriting(client));
    // Whatever the client sent while we were connecting leaves together with the header, in one
    // write (one syscall, one segment).
    const first = client.readableLength > 0 ? (client.read() as Buffer | null) : null;
    const opening = this.options.proxyProtocol ? this.header(client, relay.local, first) : first;
    if (opening && !socket.write(opening)) pauseUntilDrain(client, socket);
    // Manual forwarding instead of pipe(): three listeners per direction instead of seven, and a
    // drain listener only while one side is actually behind.
    client.on('data', (chunk: Buffer) => {
      if (!socket.write(chunk)) pauseUntilDrain(client, socket);
    });
    socket.on('data', (chunk: Buffer) => {
      if (!client.write(chunk)) pauseUntilDrain(socket, client);
    });
  }

  private header(client: net.Socket, local: LocalAddress, first: Buffer | null): Buffer {
    const sourceAddress = client.remoteAddress;
    const sourcePort = client.remotePort;
    const destinationAddress = local.address ?? client.localAddress;
    const destinationPort = local.address !== null ? local.port : client.localPort;
    if (sourceAddress && sourcePort !== undefined && destinationAddress && destinationPort !== undefined) {
      const header = this.headers.encode(sourceAddress, sourcePort, destinationAddress, destinationPort, first);
      if (header) return header;
    }
    return this.headers.unspecified(first);
  }
}

/** Backpressure: `from` stops until `to` has flushed what it holds. */
function pauseUntilDrain(from: net.Socket, to: net.Socket): void {
  if (from.isPaused()) return;
  from.pause();
  to.once('drain', () => from.resume());
}
