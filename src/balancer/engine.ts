// The built-in balancer's data plane in one process: accept, admit, choose the front with the
// fewest connections, connect (retrying on another front while nothing has been forwarded yet),
// write the PROXY v2 header, then splice both directions with backpressure and half-close.
import net from 'node:net';
import { AdmissionControl, DEFAULT_ADMISSION_LIMITS, type AdmissionLimits } from './admission.js';
import { BackendSet, type BackendSetOptions, type BackendSpec, type BackendView } from './backend-set.js';
import { encodeProxyV2, originTlv, proxyAddressOf, type ProxyTlv } from './proxy-v2.js';

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
}

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
    readonly code: 'LISTEN_FAILED' | 'NOT_STARTED' | 'CLOSED' | 'WORKER_FAILED',
    message: string,
  ) {
    super(message);
  }
}

interface Listener {
  spec: ListenSpec;
  server: net.Server;
}

export class BalancerEngine {
  readonly backends: BackendSet;
  private options: BalancerOptions;
  private readonly admission: AdmissionControl;
  private listeners: Listener[] = [];
  private readonly sockets = new Set<net.Socket>();
  private readonly counters = emptyStats();
  private extraTlvs: ProxyTlv[] = [];
  private closed = false;

  constructor(options: BalancerOptionsInput = {}, snapshot: readonly BackendSpec[] = []) {
    this.options = resolveBalancerOptions(options);
    this.admission = new AdmissionControl(this.options.limits);
    this.backends = new BackendSet(this.options.backends, snapshot);
    this.extraTlvs = this.options.origin ? [originTlv(this.options.origin)] : [];
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
    const keyOf = (s: ListenSpec): string => `${s.host}|${s.port}`;
    const wanted = new Map(next.listen.map((s) => [keyOf(s), s]));
    const kept = this.listeners.filter((l) => wanted.has(keyOf(l.spec)));
    const keptKeys = new Set(kept.map((l) => keyOf(l.spec)));
    const added = await Promise.all([...wanted.values()].filter((s) => !keptKeys.has(keyOf(s))).map((s) => this.listen(s)));
    for (const l of this.listeners) if (!wanted.has(keyOf(l.spec))) l.server.close();
    this.listeners = [...kept, ...added];
    this.options = next;
    this.admission.setLimits(next.limits);
    this.extraTlvs = next.origin ? [originTlv(next.origin)] : [];
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
  }

  private listen(spec: ListenSpec): Promise<Listener> {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false, noDelay: true }, (socket) => this.handle(socket));
    server.on('error', () => undefined); // errors after listen (EMFILE on accept) must not crash us
    const attempt = (host: string): Promise<Listener> =>
      new Promise((resolve, reject) => {
        const onError = (error: NodeJS.ErrnoException): void => reject(error);
        server.once('error', onError);
        server.listen({ host, port: spec.port, ipv6Only: false, backlog: 4096 }, () => {
          server.off('error', onError);
          resolve({ spec, server });
        });
      });
    return attempt(spec.host).catch((error: NodeJS.ErrnoException) => {
      if (spec.host === '::' && (error.code === 'EAFNOSUPPORT' || error.code === 'EADDRNOTAVAIL')) return attempt('0.0.0.0');
      throw new BalancerError('LISTEN_FAILED', `cannot listen on ${spec.host}:${spec.port}: ${error.message}`);
    });
  }

  private handle(client: net.Socket): void {
    const counters = this.counters;
    counters.acceptedTotal++;
    client.on('error', () => undefined);
    const { verdict, key } = this.admission.admit(client.remoteAddress ?? '');
    if (verdict !== 'admitted') {
      if (verdict === 'global-cap') counters.refused.globalCap++;
      else if (verdict === 'source-connections') counters.refused.sourceConnections++;
      else counters.refused.sourceRate++;
      client.destroy();
      return;
    }
    this.sockets.add(client);
    const options = this.options;
    let upstream: net.Socket | null = null;
    let released = false;
    client.once('close', () => {
      this.sockets.delete(client);
      counters.bytesFromClients += client.bytesRead;
      counters.bytesToClients += client.bytesWritten;
      if (!released) {
        released = true;
        this.admission.release(key);
      }
      if (upstream && !upstream.writableEnded) upstream.destroy();
    });
    // A client that never sends a byte is dropped. bytesRead counts what the kernel handed us even
    // while the socket is paused waiting for the front, so no per-chunk listener is needed.
    const idleTimer = setTimeout(() => {
      if (client.bytesRead === 0 && !client.destroyed) {
        counters.idleTimeouts++;
        client.destroy();
        upstream?.destroy();
      }
    }, options.idleTimeoutMs);
    idleTimer.unref();
    client.once('close', () => clearTimeout(idleTimer));

    const tried = new Set<string>();
    const header = options.proxyProtocol ? encodeProxyV2({ command: 'proxy', address: proxyAddressOf(client), tlvs: this.extraTlvs }) : null;

    const attempt = (): void => {
      if (client.destroyed) return;
      const backend = this.backends.choose(tried);
      if (!backend) {
        counters.refused.noBackend++;
        client.destroy();
        return;
      }
      tried.add(backend.id);
      const socket = net.connect({ host: backend.host, port: backend.port, allowHalfOpen: true, noDelay: true });
      upstream = socket;
      let connected = false;
      const connectTimer = setTimeout(() => socket.destroy(new Error('connect timeout')), options.connectTimeoutMs);
      socket.once('error', () => undefined);
      socket.once('close', () => {
        clearTimeout(connectTimer);
        if (connected) {
          this.backends.release(backend.id);
          if (!client.writableEnded) client.destroy();
          return;
        }
        // The client left while we were connecting: not the front's fault.
        if (client.destroyed) return;
        // Nothing was forwarded yet: this client may still be saved by another front.
        counters.connectFailures++;
        this.backends.reportFailure(backend.id);
        if (tried.size < options.maxConnectAttempts) {
          counters.retries++;
          attempt();
        } else {
          counters.refused.noBackend++;
          client.destroy();
        }
      });
      socket.once('connect', () => {
        clearTimeout(connectTimer);
        connected = true;
        if (client.destroyed) {
          socket.destroy();
          return;
        }
        this.backends.reportSuccess(backend.id);
        this.backends.acquire(backend.id);
        counters.forwardedTotal++;
        socket.on('error', () => undefined);
        if (header) socket.write(header);
        client.pipe(socket);
        socket.pipe(client);
      });
    };
    attempt();
  }
}
