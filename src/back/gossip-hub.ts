import { Counter, Gauge } from 'prom-client';
import type { ClusterLink } from '../cluster/link.js';
import { decodeGossipFrame, encodeGossipFrame, type GossipRecord, type GossipVerdict } from '../cluster/gossip-frames.js';
import type { GossipFrameMessage } from '../cluster/messages.js';
import { PEER_FAULT_REASONS, RoutingTable, type GossipStore, type TableChange } from './gossip/index.js';
import { getOrCreate } from '../util/metrics.js';
import { MESSAGE_TYPES } from '../lightning/wire/types.js';
import type { Logger } from '../util/log.js';

/**
 * The back's end of gossip: the authoritative routing table fed by every front. At link-up a front
 * gets the whole table in batches (paced by the link's backpressure); afterwards every accepted item
 * goes to every front's replica, with the peers it came from (so no front sends it back to them),
 * and each front hears the verdict on what it forwarded.
 */
export interface GossipHubOptions {
  table: RoutingTable;
  store?: GossipStore;
  log: Logger;
  /** How long accepted items are collected before going out to the fronts. */
  flushIntervalMs?: number;
  /** Every channel_update a front forwarded, with its origins, whatever the table decided. */
  onChannelUpdate?: (message: Uint8Array, origins: readonly string[]) => void;
}

const MAX_BATCH_BYTES = 512 * 1024;

export class GossipHub {
  readonly #links = new Map<string, ClusterLink>();
  #pending: GossipRecord[] = [];
  #pendingBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #unsubscribe: () => void;
  readonly #metrics = {
    decisions: getOrCreate(
      'lncluster_gossip_decisions_total',
      (r) => new Counter({ name: 'lncluster_gossip_decisions_total', help: 'gossip items judged by the back', labelNames: ['kind', 'result'], registers: [r] }),
    ),
    table: getOrCreate('lncluster_gossip_table', (r) => new Gauge({ name: 'lncluster_gossip_table', help: 'routing table size', labelNames: ['what'], registers: [r] })),
  };

  constructor(private readonly options: GossipHubOptions) {
    this.#unsubscribe = options.table.onChange((change) => this.#onChange(change));
    this.#updateGauges();
  }

  get table(): RoutingTable {
    return this.options.table;
  }

  /** A front linked: stream it the table, then live updates. */
  addFront(frontId: string, link: ClusterLink): void {
    this.#links.set(frontId, link);
    void this.#sendSnapshot(frontId, link);
  }

  removeFront(frontId: string): void {
    this.#links.delete(frontId);
  }

  async onFrame(frontId: string, link: ClusterLink, frame: GossipFrameMessage): Promise<void> {
    const message = decodeGossipFrame(frame);
    if (message.kind !== 'gossip-in') {
      this.options.log.warn({ front: frontId, kind: message.kind }, 'unexpected gossip frame from a front');
      return;
    }
    const verdicts: GossipVerdict[] = [];
    for (const record of message.records) {
      if (record.message.length >= 2 && ((record.message[0]! << 8) | record.message[1]!) === MESSAGE_TYPES.channel_update) {
        this.options.onChannelUpdate?.(record.message, record.origins);
      }
    }
    // One batch: signatures are checked in worker threads when there are enough of them.
    const decisions = await this.options.table.ingestBatch(
      message.records.map((r) => r.message),
      message.records.map((r) => r.origins),
    );
    decisions.forEach((decision, i) => {
      const record = message.records[i]!;
      const kind = decision.accepted ? decision.kind : (decision.kind ?? 'unknown');
      this.#metrics.decisions.inc({ kind, result: decision.accepted ? 'accepted' : decision.reason });
      // Accepted items reach every front (this one included) through the table's change events.
      if (!decision.accepted) verdicts.push({ key: record.key, accepted: false, reason: decision.reason });
      if (!decision.accepted && PEER_FAULT_REASONS.has(decision.reason)) {
        this.options.log.info({ front: frontId, origins: record.origins, reason: decision.reason, detail: decision.detail }, 'invalid gossip from a peer');
      }
    });
    if (verdicts.length > 0 && !link.closed) link.send(encodeGossipFrame({ kind: 'decisions', verdicts }));
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#unsubscribe();
  }

  async #sendSnapshot(frontId: string, link: ClusterLink): Promise<void> {
    let total = 0;
    for (const batch of this.options.table.snapshotBatches({ maxBytes: MAX_BATCH_BYTES })) {
      if (link.closed || this.#links.get(frontId) !== link) return;
      total += batch.length;
      if (!link.send(encodeGossipFrame({ kind: 'snapshot-batch', messages: batch }))) {
        await new Promise<void>((resolve) => {
          const done = () => (link.off('drain', done), link.off('close', done), resolve());
          link.on('drain', done);
          link.on('close', done);
        });
      }
    }
    if (!link.closed) link.send(encodeGossipFrame({ kind: 'snapshot-end', total }));
    this.options.log.info({ front: frontId, messages: total }, 'routing table sent to front');
  }

  #onChange(change: TableChange): void {
    this.#updateGauges();
    if (change.type !== 'accepted') return;
    this.#pending.push({ message: change.message, origins: [...change.origins] });
    this.#pendingBytes += change.message.length + 40 * change.origins.length;
    if (this.#pendingBytes >= MAX_BATCH_BYTES) this.#flush();
    else this.#timer ??= setTimeout(() => this.#flush(), this.options.flushIntervalMs ?? 100);
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const frame = encodeGossipFrame({ kind: 'accepted', records: this.#pending });
    this.#pending = [];
    this.#pendingBytes = 0;
    for (const link of this.#links.values()) if (!link.closed) link.send(frame);
  }

  #updateGauges(): void {
    const counts = this.options.table.counts();
    this.#metrics.table.set({ what: 'channels' }, counts.channels);
    this.#metrics.table.set({ what: 'channel_updates' }, counts.channelUpdates);
    this.#metrics.table.set({ what: 'nodes' }, counts.nodes);
  }
}
