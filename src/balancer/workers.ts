// Multi-process mode of the built-in balancer: node:cluster workers share the listening socket and
// each runs a full BalancerEngine. The primary only forwards control (membership, drain, reload,
// stats) over IPC; it never touches a client byte.
//
// Trade-off, documented for operators: "fewest active connections" is decided per worker, from the
// connections that worker carries. With W workers each front's load is the sum of W independent
// least-connections choices, which stays even when the kernel spreads accepts evenly over the
// workers, but a front that one worker sees as idle may already be busy through the others. Passive
// health (connect failures) and active checks also run per worker, so a dead front is found by each
// worker on its own (each costs at most one retried connect). Sharing exact counts would need a
// round trip to the primary per connection, which costs more than the imbalance it fixes.
//
// Scheduling: by default the kernel hands out accepts (SCHED_NONE: every worker accepts on the
// shared socket), which is what makes new connections/s scale; Node's default round-robin makes
// the primary accept every connection and pass it over IPC, evening out the spread at the cost of
// throughput. `clusterScheduling: 'round-robin'` selects the latter.
import cluster, { type Worker } from 'node:cluster';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { BackendSpec, BackendView } from './backend-set.js';
import { createEngine } from './data-path.js';
import { BalancerError, emptyStats, listenWithFallback, type BalancerOptions, type BalancerStats, type BoundAddress, type Engine, type ListenSpec } from './engine.js';

type ToWorker =
  | { t: 'lnb:start'; options: BalancerOptions; backends: BackendSpec[]; drained: string[] }
  | { t: 'lnb:backends'; backends: BackendSpec[] }
  | { t: 'lnb:drain'; id: string; draining: boolean }
  | { t: 'lnb:reload'; req: number; options: BalancerOptions }
  | { t: 'lnb:stats'; req: number }
  | { t: 'lnb:close'; graceMs: number };

type FromWorker =
  | { t: 'lnb:ready' }
  | { t: 'lnb:listening'; addresses: BoundAddress[] }
  | { t: 'lnb:failed'; message: string }
  | { t: 'lnb:stats'; req: number; stats: BalancerStats }
  | { t: 'lnb:reloaded'; req: number; addresses: BoundAddress[]; error?: string };

function isFromWorker(message: unknown): message is FromWorker {
  return typeof message === 'object' && message !== null && typeof (message as { t?: unknown }).t === 'string' && (message as { t: string }).t.startsWith('lnb:');
}

/** Sums the counters of several workers; a backend's state is the best any worker reports. */
export function mergeStats(parts: readonly BalancerStats[]): BalancerStats {
  const total = emptyStats();
  const backends = new Map<string, BackendView>();
  const rank = { ready: 2, draining: 1, down: 0 } as const;
  for (const s of parts) {
    total.activeConnections += s.activeConnections;
    total.acceptedTotal += s.acceptedTotal;
    total.forwardedTotal += s.forwardedTotal;
    total.refused.globalCap += s.refused.globalCap;
    total.refused.sourceConnections += s.refused.sourceConnections;
    total.refused.sourceRate += s.refused.sourceRate;
    total.refused.noBackend += s.refused.noBackend;
    total.connectFailures += s.connectFailures;
    total.retries += s.retries;
    total.idleTimeouts += s.idleTimeouts;
    total.bytesFromClients += s.bytesFromClients;
    total.bytesToClients += s.bytesToClients;
    for (const b of s.backends) {
      const seen = backends.get(b.id);
      if (!seen) backends.set(b.id, { ...b });
      else {
        seen.activeConnections += b.activeConnections;
        seen.totalConnections += b.totalConnections;
        seen.failures = Math.max(seen.failures, b.failures);
        if (b.state === 'draining' || (seen.state !== 'draining' && rank[b.state] > rank[seen.state])) seen.state = b.state;
      }
    }
  }
  total.backends = [...backends.values()];
  return total;
}

const WORKER_ENTRY = fileURLToPath(new URL('./builtin-worker.js', import.meta.url));

/** Primary side: forks and steers the workers. */
export class WorkerPool {
  private readonly workers = new Set<Worker>();
  private readonly latest = new Map<Worker, BalancerStats>();
  private options: BalancerOptions;
  private backends: BackendSpec[];
  private readonly drained = new Set<string>();
  /** Ports the first worker picked for `host:0` listeners (native data path, SO_REUSEPORT). */
  private readonly pickedPorts = new Map<string, number>();
  private bound: BoundAddress[] = [];
  private closing = false;
  private nextReq = 1;
  private readonly statsTimer: NodeJS.Timeout;

  constructor(options: BalancerOptions, backends: readonly BackendSpec[]) {
    // The native data path binds in each worker with SO_REUSEPORT (node:cluster only shares the
    // sockets of net.Server); the kernel then spreads new connections over the workers.
    this.options = options.dataPath === 'native' ? { ...options, reusePort: true } : options;
    this.backends = [...backends];
    this.statsTimer = setInterval(() => void this.refreshStats().catch(() => undefined), 1_000);
    this.statsTimer.unref();
  }

  async start(): Promise<BoundAddress[]> {
    if (!cluster.isPrimary) throw new BalancerError('WORKER_FAILED', 'worker mode must be started from a primary process');
    if (this.options.clusterScheduling === 'kernel') cluster.schedulingPolicy = cluster.SCHED_NONE;
    else cluster.schedulingPolicy = cluster.SCHED_RR;
    const started: PromiseSettledResult<void>[] = [];
    let remaining = this.options.workers;
    if (this.options.reusePort) {
      // SO_REUSEPORT would let our workers join another program's sockets on the same port (if it
      // set the option too) instead of failing: check that the ports are free first.
      await Promise.all(this.options.listen.filter((l) => l.port !== 0).map((l) => assertPortFree(l)));
    }
    if (this.options.reusePort && this.options.listen.some((l) => l.port === 0)) {
      // Port 0 picks a random port per socket: the first worker picks, the others join its ports.
      const [first] = await Promise.allSettled([this.fork()]);
      started.push(first!);
      remaining--;
      if (first!.status === 'fulfilled') {
        this.options.listen.forEach((l, i) => {
          if (l.port === 0 && this.bound[i]) this.pickedPorts.set(l.host, this.bound[i]!.port);
        });
        this.options = { ...this.options, listen: this.withPickedPorts(this.options.listen) };
      }
    }
    started.push(...(await Promise.allSettled(Array.from({ length: remaining }, () => this.fork()))));
    const failure = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) {
      await this.close(0);
      throw failure.reason instanceof Error ? failure.reason : new BalancerError('WORKER_FAILED', String(failure.reason));
    }
    return this.bound;
  }

  addresses(): BoundAddress[] {
    return this.bound;
  }

  /** `host:0` listeners as the port picked for that host at start (the one the workers share). */
  private withPickedPorts(listen: readonly ListenSpec[]): ListenSpec[] {
    return listen.map((l) => (l.port === 0 && this.pickedPorts.has(l.host) ? { host: l.host, port: this.pickedPorts.get(l.host)! } : l));
  }

  updateBackends(snapshot: readonly BackendSpec[]): void {
    this.backends = [...snapshot];
    this.broadcast({ t: 'lnb:backends', backends: this.backends });
  }

  drain(id: string, draining: boolean): boolean {
    if (draining) this.drained.add(id);
    else this.drained.delete(id);
    this.broadcast({ t: 'lnb:drain', id, draining });
    return this.backends.some((b) => b.id === id);
  }

  async reload(input: BalancerOptions): Promise<BoundAddress[]> {
    const options = this.options.reusePort ? { ...input, listen: this.withPickedPorts(input.listen), reusePort: true, dataPath: this.options.dataPath } : input;
    if (options.reusePort && options.listen.some((l) => l.port === 0)) throw new BalancerError('LISTEN_FAILED', 'port 0 cannot be added by a reload when several workers bind the port themselves (native data path)');
    this.options = options;
    const replies = await Promise.all([...this.workers].map((w) => this.request<{ addresses: BoundAddress[]; error?: string }>(w, 'lnb:reloaded', (req) => ({ t: 'lnb:reload', req, options }))));
    const error = replies.find((r) => r.error);
    if (error) throw new BalancerError('LISTEN_FAILED', error.error ?? 'reload failed');
    this.bound = replies[0]?.addresses ?? this.bound;
    return this.bound;
  }

  /** Sum of the latest report of each worker (pushed every second). */
  stats(): BalancerStats {
    return mergeStats([...this.latest.values()]);
  }

  async refreshStats(): Promise<BalancerStats> {
    await Promise.all(
      [...this.workers].map(async (w) => {
        const reply = await this.request<{ stats: BalancerStats }>(w, 'lnb:stats', (req) => ({ t: 'lnb:stats', req }));
        this.latest.set(w, reply.stats);
      }),
    );
    return this.stats();
  }

  async close(graceMs: number): Promise<void> {
    this.closing = true;
    clearInterval(this.statsTimer);
    await Promise.all(
      [...this.workers].map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            const kill = setTimeout(() => w.process.kill('SIGKILL'), graceMs + 3_000);
            w.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            this.send(w, { t: 'lnb:close', graceMs });
          }),
      ),
    );
    this.workers.clear();
  }

  private fork(): Promise<void> {
    cluster.setupPrimary({ exec: WORKER_ENTRY, args: [], silent: false });
    const worker = cluster.fork();
    this.workers.add(worker);
    worker.on('message', (message: unknown) => {
      if (isFromWorker(message) && message.t === 'lnb:stats' && message.req === 0) this.latest.set(worker, message.stats);
    });
    worker.once('exit', () => {
      this.workers.delete(worker);
      this.latest.delete(worker);
      // A worker that dies unasked is replaced; its connections are lost, the port stays served.
      if (!this.closing) void this.fork().catch(() => undefined);
    });
    return new Promise<void>((resolve, reject) => {
      const onMessage = (message: unknown): void => {
        if (!isFromWorker(message)) return;
        if (message.t === 'lnb:ready') {
          // Only now is the worker's message handler attached: messages sent earlier are lost.
          this.send(worker, { t: 'lnb:start', options: { ...this.options, workers: 1 }, backends: this.backends, drained: [...this.drained] });
        } else if (message.t === 'lnb:listening') {
          worker.off('message', onMessage);
          this.bound = message.addresses;
          resolve();
        } else if (message.t === 'lnb:failed') {
          worker.off('message', onMessage);
          reject(new BalancerError('LISTEN_FAILED', message.message));
        }
      };
      worker.on('message', onMessage);
      worker.once('exit', (code) => reject(new BalancerError('WORKER_FAILED', `balancer worker exited with ${code} while starting`)));
    });
  }

  private request<T>(worker: Worker, replyType: FromWorker['t'], make: (req: number) => ToWorker): Promise<T> {
    const req = this.nextReq++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        worker.off('message', onMessage);
        reject(new BalancerError('WORKER_FAILED', `worker did not answer ${replyType}`));
      }, 5_000);
      const onMessage = (message: unknown): void => {
        if (isFromWorker(message) && message.t === replyType && 'req' in message && message.req === req) {
          clearTimeout(timer);
          worker.off('message', onMessage);
          resolve(message as unknown as T);
        }
      };
      worker.on('message', onMessage);
      this.send(worker, make(req));
    });
  }

  private broadcast(message: ToWorker): void {
    for (const w of this.workers) this.send(w, message);
  }

  private send(worker: Worker, message: ToWorker): void {
    if (!worker.isDead() && worker.isConnected()) worker.send(message);
  }
}

/** Worker side: runs one engine and answers the primary. Called by builtin-worker.ts. */
export function runBalancerWorker(): void {
  let engine: Engine | null = null;
  const reply = (message: FromWorker): void => {
    if (process.connected) process.send?.(message);
  };
  let statsTimer: NodeJS.Timeout | null = null;
  process.on('disconnect', () => process.exit(0)); // the primary is gone: do not linger
  process.on('message', (raw: unknown) => {
    const message = raw as ToWorker;
    switch (message.t) {
      case 'lnb:start': {
        engine = createEngine(message.options, message.backends).engine;
        for (const id of message.drained) engine.drain(id, true);
        engine.start().then(
          (addresses) => {
            reply({ t: 'lnb:listening', addresses });
            statsTimer = setInterval(() => engine && reply({ t: 'lnb:stats', req: 0, stats: engine.stats() }), 1_000);
            statsTimer.unref();
          },
          (error: Error) => reply({ t: 'lnb:failed', message: error.message }),
        );
        break;
      }
      case 'lnb:backends':
        engine?.updateBackends(message.backends);
        break;
      case 'lnb:drain':
        engine?.drain(message.id, message.draining);
        break;
      case 'lnb:reload':
        if (!engine) break;
        engine.reload(message.options).then(
          (addresses) => reply({ t: 'lnb:reloaded', req: message.req, addresses }),
          (error: Error) => reply({ t: 'lnb:reloaded', req: message.req, addresses: [], error: error.message }),
        );
        break;
      case 'lnb:stats':
        if (engine) reply({ t: 'lnb:stats', req: message.req, stats: engine.stats() });
        break;
      case 'lnb:close':
        if (statsTimer) clearInterval(statsTimer);
        void (engine?.close(message.graceMs) ?? Promise.resolve()).finally(() => process.exit(0));
        break;
    }
  });
  reply({ t: 'lnb:ready' });
}

/** Fails with LISTEN_FAILED when something already listens on `spec` (binds it exclusively, then lets go). */
function assertPortFree(spec: ListenSpec): Promise<void> {
  return listenWithFallback(
    spec,
    (host) =>
      new Promise<void>((resolve, reject) => {
        const probe = net.createServer();
        probe.once('error', reject);
        probe.listen({ host, port: spec.port, exclusive: true, ipv6Only: false }, () => probe.close(() => resolve()));
      }),
  );
}
