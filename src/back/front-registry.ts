/**
 * The back's view of its fronts: who is linked, where peers can reach them, and how loaded they
 * are (from heartbeats). Dispatch of outgoing connections reads it; the embedded discovery
 * publishes it.
 */
import type { FrontLoad } from '../cluster/messages.js';

export type { FrontLoad } from '../cluster/messages.js';

export interface FrontRecord {
  id: string;
  /** host:port where peers (or the balancer) reach this front. */
  listenAddress: string;
  /** Whether the front holds the node key (local) or asks the back (delegated). */
  keyless: boolean;
  connectedAt: number;
  lastHeartbeatAt: number;
  load: FrontLoad;
  /** A draining front takes no new peers or dials. */
  draining: boolean;
}

export const EMPTY_LOAD: FrontLoad = { livePeers: 0, handshakesInProgress: 0, dialsInProgress: 0, bytesInPerSecond: 0, bytesOutPerSecond: 0 };

export class FrontRegistry {
  readonly #fronts = new Map<string, FrontRecord>();
  /** Dials the back has asked for and not yet seen answered, per front: fresher than heartbeats. */
  readonly #pendingDials = new Map<string, number>();
  /**
   * Ids the operator drained. The mark outlives the front's link: a drained front that relinks (a blip,
   * a restart) stays drained, and is told so again, instead of silently coming back into service.
   * Only `setDraining(id, false)` clears it; it holds only ids that were linked when drained.
   */
  readonly #drained = new Set<string>();

  add(record: Omit<FrontRecord, 'connectedAt' | 'lastHeartbeatAt' | 'load' | 'draining'>, now = Date.now()): FrontRecord {
    const full: FrontRecord = { ...record, connectedAt: now, lastHeartbeatAt: now, load: { ...EMPTY_LOAD }, draining: this.#drained.has(record.id) };
    this.#fronts.set(record.id, full);
    return full;
  }

  remove(id: string): boolean {
    this.#pendingDials.delete(id);
    return this.#fronts.delete(id);
  }

  get(id: string): FrontRecord | undefined {
    return this.#fronts.get(id);
  }

  has(id: string): boolean {
    return this.#fronts.has(id);
  }

  list(): FrontRecord[] {
    return [...this.#fronts.values()];
  }

  heartbeat(id: string, load: FrontLoad, now = Date.now()): void {
    const front = this.#fronts.get(id);
    if (!front) return;
    front.load = load;
    front.lastHeartbeatAt = now;
  }

  /** Operator's drain: no new peers or dials for that front; returns false for an unknown front. */
  setDraining(id: string, draining: boolean): boolean {
    const front = this.#fronts.get(id);
    if (!front) return false;
    front.draining = draining;
    if (draining) this.#drained.add(id);
    else this.#drained.delete(id);
    return true;
  }

  /** Whether the operator drained this front id (linked or not). */
  isDrained(id: string): boolean {
    return this.#drained.has(id);
  }

  dialStarted(id: string): void {
    this.#pendingDials.set(id, (this.#pendingDials.get(id) ?? 0) + 1);
  }

  dialEnded(id: string): void {
    const left = (this.#pendingDials.get(id) ?? 1) - 1;
    if (left > 0) this.#pendingDials.set(id, left);
    else this.#pendingDials.delete(id);
  }

  /**
   * Healthy fronts ordered least-loaded first: fewest live peers, then fewest dials in progress
   * (the larger of the front's own count and the back's pending requests, which heartbeats lag).
   */
  leastLoaded(exclude: ReadonlySet<string> = new Set(), livePeersOf?: (id: string) => number): FrontRecord[] {
    const dials = (f: FrontRecord) => Math.max(f.load.dialsInProgress, this.#pendingDials.get(f.id) ?? 0);
    const peers = (f: FrontRecord) => livePeersOf?.(f.id) ?? f.load.livePeers;
    return this.list()
      .filter((f) => !f.draining && !exclude.has(f.id))
      .sort((a, b) => peers(a) - peers(b) || dials(a) - dials(b) || a.id.localeCompare(b.id));
  }
}
