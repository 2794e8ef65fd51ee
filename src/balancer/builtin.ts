// The built-in balancer: one public port spread over the healthy fronts. In one process it is an
// Engine (native relay or net.Socket, see data-path.ts); with `workers > 1` it is a pool of
// node:cluster workers, one engine each (see workers.ts for the trade-offs). Either way the API is
// the same.
import type { BackendSpec } from './backend-set.js';
import { createEngine, resolveDataPath } from './data-path.js';
import {
  resolveBalancerOptions,
  type Engine,
  type BalancerOptions,
  type BalancerOptionsInput,
  type BalancerStats,
  type BoundAddress,
} from './engine.js';
import { WorkerPool } from './workers.js';

export { BalancerError, DEFAULT_BALANCER_OPTIONS } from './engine.js';
export type { BalancerOptions, BalancerOptionsInput, BalancerStats, BoundAddress, ListenSpec } from './engine.js';

export class BuiltinBalancer {
  private options: BalancerOptions;
  private readonly plane: Engine | WorkerPool;
  /** Who moves the bytes (see BalancerOptions.dataPath), and why 'auto' chose node if it did. */
  readonly dataPath: 'native' | 'node';
  readonly fallbackReason: string;

  constructor(options: BalancerOptionsInput = {}, backends: readonly BackendSpec[] = []) {
    this.options = resolveBalancerOptions(options);
    if (this.options.workers > 1) {
      ({ dataPath: this.dataPath, fallbackReason: this.fallbackReason } = resolveDataPath(this.options.dataPath));
      // Every worker then takes the same path: 'auto' is settled here, once.
      this.options = { ...this.options, dataPath: this.dataPath };
      this.plane = new WorkerPool(this.options, backends);
    } else {
      const chosen = createEngine(this.options, backends);
      this.plane = chosen.engine;
      this.dataPath = chosen.dataPath;
      this.fallbackReason = chosen.fallbackReason;
    }
  }

  /** Opens the listeners (and forks the workers); resolves with the bound addresses. */
  start(): Promise<BoundAddress[]> {
    return this.plane.start();
  }

  addresses(): BoundAddress[] {
    return this.plane.addresses();
  }

  /** A complete membership snapshot from discovery; counters of backends that stay are kept. */
  updateBackends(snapshot: readonly BackendSpec[]): void {
    this.plane.updateBackends(snapshot);
  }

  /** No new connections to `id` (draining = false undoes it); existing ones stay until they close. */
  drain(id: string, draining = true): boolean {
    return this.plane.drain(id, draining);
  }

  /** New options without dropping connections (see BalancerEngine.reload). `workers` cannot change. */
  async reload(input: BalancerOptionsInput): Promise<BoundAddress[]> {
    this.options = resolveBalancerOptions({ ...input, workers: this.options.workers }, this.options);
    return this.plane instanceof WorkerPool ? this.plane.reload(this.options) : this.plane.reload(this.options);
  }

  /** Counters; with workers, the sum of their latest reports (at most a second old). */
  stats(): BalancerStats {
    return this.plane.stats();
  }

  /** Fresh counters (asks every worker). */
  async refreshStats(): Promise<BalancerStats> {
    return this.plane instanceof WorkerPool ? this.plane.refreshStats() : this.plane.stats();
  }

  /** Stops accepting; open connections get `graceMs`, then are cut; workers exit. */
  close(graceMs = 0): Promise<void> {
    return this.plane.close(graceMs);
  }
}
