// The built-in balancer over the native data path (native/relay/relay.c): the same policy as
// BalancerEngine (admission, least connections, retry before the first byte, drain, idle timeout,
// PROXY v2) with the sockets and the bytes handled in C on Node's own event loop. This class keeps
// the policy; the relay calls it at most four times per connection (accepted, connected, failed,
// closed), with small integers for connections and backend slots.
import net from 'node:net';
import { AdmissionControl } from './admission.js';
import { BackendSet, type BackendSpec, type BackendTarget } from './backend-set.js';
import { cachingLookup } from './builtin-dns.js';
import {
  BalancerError,
  emptyStats,
  listenWithFallback,
  planListeners,
  resolveBalancerOptions,
  type BalancerOptions,
  type BalancerOptionsInput,
  type BalancerStats,
  type BoundAddress,
  type Engine,
  type ListenSpec,
} from './engine.js';
import { NATIVE_BACKEND_SLOTS, type NativeRelayBinding, type RelayHandle } from './native-relay.js';
import { encodeProxyV2, originTlv, PROXY_V2_FIXED_BYTES } from './proxy-v2.js';

interface NativeListener {
  spec: ListenSpec;
  id: number;
  bound: BoundAddress;
}

/** How often names of fronts given by name are looked up again. */
const NAME_REFRESH_MS = 10_000;

/** What the relay appends to every header: the encoded TLVs (a header without addresses, minus its fixed part). */
function encodedTlvs(origin: string | null): Uint8Array {
  if (!origin) return new Uint8Array(0);
  return encodeProxyV2({ command: 'proxy', address: null, tlvs: [originTlv(origin)] }).subarray(PROXY_V2_FIXED_BYTES);
}

export class NativeBalancerEngine implements Engine {
  readonly backends: BackendSet;
  private options: BalancerOptions;
  private readonly admission: AdmissionControl;
  private readonly relay: RelayHandle;
  private listeners: NativeListener[] = [];
  private readonly counters = emptyStats();
  private closed = false;
  // Per connection, indexed by the relay's connection id (small, reused integers).
  private readonly sourceKeys: Array<string | undefined> = [];
  private readonly backendIds: Array<string | undefined> = [];
  /** Fronts that failed this connection; its attempts so far are their number plus one. */
  private readonly failedFronts: Array<Set<string> | null> = [];
  // Backend slots in the relay: one per front id, its address kept current.
  private readonly slotOfId = new Map<string, number>();
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;
  /** Fronts given by a name that has no address yet: not chosen until it has one. */
  private readonly unresolved = new Set<string>();
  private readonly lookup = cachingLookup();
  private nameTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly binding: NativeRelayBinding,
    options: BalancerOptionsInput = {},
    snapshot: readonly BackendSpec[] = [],
  ) {
    this.options = resolveBalancerOptions(options);
    this.admission = new AdmissionControl(this.options.limits);
    this.backends = new BackendSet(this.options.backends, []);
    this.relay = binding.create(this.accepted, this.connected, this.failed, this.closedConnection);
    this.configure();
    this.updateBackends(snapshot);
  }

  async start(): Promise<BoundAddress[]> {
    if (this.closed) throw new BalancerError('CLOSED', 'balancer is closed');
    const opened: NativeListener[] = [];
    try {
      for (const spec of this.options.listen) opened.push(await this.listen(spec));
    } catch (error) {
      for (const l of opened) this.binding.closeListener(this.relay, l.id);
      throw error;
    }
    this.listeners = opened;
    this.backends.startHealthChecks();
    return this.addresses();
  }

  addresses(): BoundAddress[] {
    return this.listeners.map((l) => l.bound);
  }

  updateBackends(snapshot: readonly BackendSpec[]): void {
    this.backends.update(snapshot);
    this.syncSlots();
  }

  drain(id: string, draining = true): boolean {
    return this.backends.drain(id, draining);
  }

  /** As BalancerEngine.reload: open connections are untouched, new listeners open before old ones close. */
  async reload(input: BalancerOptionsInput): Promise<BoundAddress[]> {
    const next = resolveBalancerOptions(input, this.options);
    const plan = planListeners(
      this.listeners.map((l) => l.spec),
      next.listen,
    );
    const added: NativeListener[] = [];
    for (const spec of plan.added) added.push(await this.listen(spec));
    for (const i of plan.dropped) this.binding.closeListener(this.relay, this.listeners[i]!.id);
    this.listeners = [...plan.kept.map((i) => this.listeners[i]!), ...added];
    this.options = next;
    this.admission.setLimits(next.limits);
    this.configure();
    return this.addresses();
  }

  stats(): BalancerStats {
    const [bytesFromClients, bytesToClients, idleTimeouts] = this.binding.counters(this.relay);
    return {
      ...this.counters,
      refused: { ...this.counters.refused },
      idleTimeouts,
      bytesFromClients,
      bytesToClients,
      activeConnections: this.admission.activeConnections,
      backends: this.backends.list(),
    };
  }

  /** Stops accepting; open connections get `graceMs` to finish, then are cut. */
  async close(graceMs = 0): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.backends.stopHealthChecks();
    if (this.nameTimer) clearInterval(this.nameTimer);
    for (const l of this.listeners) this.binding.closeListener(this.relay, l.id);
    this.listeners = [];
    const deadline = Date.now() + graceMs;
    while (this.binding.counters(this.relay)[3] > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    this.binding.dispose(this.relay);
    this.admission.close();
  }

  private configure(): void {
    const o = this.options;
    this.binding.configure(this.relay, o.proxyProtocol, encodedTlvs(o.origin), o.idleTimeoutMs, o.connectTimeoutMs);
  }

  private listen(spec: ListenSpec): Promise<NativeListener> {
    return listenWithFallback(spec, async (host) => {
      const numeric = net.isIP(host) ? host : (await this.resolve(host))[0];
      if (!numeric) throw Object.assign(new Error(`no address for ${host}`), { code: 'ENOTFOUND' });
      const [id, boundHost, port, family] = this.binding.listen(this.relay, numeric, spec.port, 4096, this.options.reusePort);
      return { spec, id, bound: { host: boundHost, port, family } };
    });
  }

  private resolve(host: string): Promise<string[]> {
    return new Promise((resolve) => {
      this.lookup(host, { all: true }, (error, addresses) => resolve(error || !Array.isArray(addresses) ? [] : addresses.map((a) => a.address)));
    });
  }

  /** Gives every front a slot with its current address; fronts that left free theirs. */
  private syncSlots(): void {
    const present = new Set<string>();
    let names = false;
    for (const view of this.backends.list()) {
      present.add(view.id);
      let slot = this.slotOfId.get(view.id);
      if (slot === undefined) {
        slot = this.freeSlots.pop() ?? this.nextSlot++;
        if (slot >= NATIVE_BACKEND_SLOTS) {
          this.unresolved.add(view.id); // past the relay's table: never chosen
          continue;
        }
        this.slotOfId.set(view.id, slot);
      }
      if (net.isIP(view.host)) {
        this.binding.setBackend(this.relay, slot, view.host, view.port);
        this.unresolved.delete(view.id);
      } else {
        names = true;
        void this.resolveFront(view.id, slot, view.host, view.port);
      }
    }
    for (const [id, slot] of this.slotOfId) {
      if (present.has(id)) continue;
      // Connections in flight keep their own copy of the address, and their front id is in
      // backendIds: the slot can serve another front at once.
      this.binding.setBackend(this.relay, slot, '', 0);
      this.slotOfId.delete(id);
      this.unresolved.delete(id);
      this.freeSlots.push(slot);
    }
    if (names && !this.nameTimer && !this.closed) {
      this.nameTimer = setInterval(() => this.syncSlots(), NAME_REFRESH_MS);
      this.nameTimer.unref();
    } else if (!names && this.nameTimer) {
      clearInterval(this.nameTimer);
      this.nameTimer = null;
    }
  }

  private async resolveFront(id: string, slot: number, host: string, port: number): Promise<void> {
    if (!this.slotOfId.has(id)) this.unresolved.add(id);
    const [address] = await this.resolve(host);
    if (this.closed || this.slotOfId.get(id) !== slot) return;
    if (address && this.binding.setBackend(this.relay, slot, address, port)) this.unresolved.delete(id);
    else this.unresolved.add(id);
  }

  /** The ready front with the fewest connections, leaving out `failed` and fronts without an address. */
  private choose(failed: ReadonlySet<string> | null): BackendTarget | null {
    if (this.unresolved.size === 0) return this.backends.pick(failed);
    const exclude = new Set(this.unresolved);
    if (failed) for (const id of failed) exclude.add(id);
    return this.backends.pick(exclude);
  }

  private readonly accepted = (id: number, address: string, _port: number): number => {
    const counters = this.counters;
    counters.acceptedTotal++;
    const key = this.admission.keyOf(address);
    const verdict = this.admission.admitKey(key);
    if (verdict !== 'admitted') {
      if (verdict === 'global-cap') counters.refused.globalCap++;
      else if (verdict === 'source-connections') counters.refused.sourceConnections++;
      else counters.refused.sourceRate++;
      return -1;
    }
    const backend = this.choose(null);
    if (!backend) {
      counters.refused.noBackend++;
      this.admission.release(key);
      return -1;
    }
    this.sourceKeys[id] = key;
    this.backendIds[id] = backend.id;
    this.failedFronts[id] = null;
    return this.slotOfId.get(backend.id)!;
  };

  private readonly connected = (id: number): void => {
    const backendId = this.backendIds[id]!;
    this.backends.reportSuccess(backendId);
    this.backends.acquire(backendId);
    this.counters.forwardedTotal++;
  };

  private readonly failed = (id: number): number => {
    const counters = this.counters;
    const backendId = this.backendIds[id]!;
    counters.connectFailures++;
    this.backends.reportFailure(backendId);
    const failed = (this.failedFronts[id] ??= new Set());
    failed.add(backendId);
    const next = failed.size < this.options.maxConnectAttempts ? this.choose(failed) : null;
    if (!next) {
      counters.refused.noBackend++;
      return -1;
    }
    counters.retries++;
    this.backendIds[id] = next.id;
    return this.slotOfId.get(next.id)!;
  };

  private readonly closedConnection = (id: number, slot: number): void => {
    this.admission.release(this.sourceKeys[id]!);
    if (slot >= 0) this.backends.release(this.backendIds[id]!);
    this.sourceKeys[id] = undefined;
    this.backendIds[id] = undefined;
    this.failedFronts[id] = null;
  };
}
