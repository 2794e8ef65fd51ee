/**
 * Which peer sessions are live and on which front. One session per node id: a second session
 * replaces the first (the caller closes the old one). Sessions are identified by (front id,
 * session id) so a late message from a replaced session is recognised and dropped.
 */
export interface PeerRecord {
  nodeId: string;
  frontId: string;
  /** The front's session id: unique per front link, so (frontId, sessionId) names a session. */
  sessionId: number;
  remoteAddress: string;
  inbound: boolean;
  connectedAt: number;
  /** The peer's init message (type included). */
  init: Uint8Array;
}

export class PeerRegistry {
  readonly #byNode = new Map<string, PeerRecord>();

  /** Registers a session; returns the session it replaced, if any. */
  add(record: PeerRecord): PeerRecord | undefined {
    const previous = this.#byNode.get(record.nodeId);
    this.#byNode.set(record.nodeId, record);
    return previous;
  }

  get(nodeId: string): PeerRecord | undefined {
    return this.#byNode.get(nodeId);
  }

  /** True when (front, session) is the node's current session. */
  isCurrent(nodeId: string, frontId: string, sessionId: number): boolean {
    const record = this.#byNode.get(nodeId);
    return record !== undefined && record.frontId === frontId && record.sessionId === sessionId;
  }

  /** Removes the session if it is still current; returns it when removed. */
  remove(nodeId: string, frontId: string, sessionId: number): PeerRecord | undefined {
    const record = this.#byNode.get(nodeId);
    if (!record || record.frontId !== frontId || record.sessionId !== sessionId) return undefined;
    this.#byNode.delete(nodeId);
    return record;
  }

  /** Removes every session of a front (it died); returns them. */
  removeFront(frontId: string): PeerRecord[] {
    const removed: PeerRecord[] = [];
    for (const [nodeId, record] of this.#byNode) {
      if (record.frontId === frontId) {
        this.#byNode.delete(nodeId);
        removed.push(record);
      }
    }
    return removed;
  }

  list(): PeerRecord[] {
    return [...this.#byNode.values()];
  }

  countOnFront(frontId: string): number {
    let count = 0;
    for (const record of this.#byNode.values()) if (record.frontId === frontId) count++;
    return count;
  }

  get size(): number {
    return this.#byNode.size;
  }
}
