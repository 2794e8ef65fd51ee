import { defaultCrypto, type CryptoProvider } from '../../lightning/crypto/index.js';
import { chainHash, type Network } from '../../lightning/chains.js';
import { verifyChannelAnnouncement, verifyChannelUpdateBy, verifyNodeAnnouncement, type SignatureCheck, type SignatureField } from '../../lightning/gossip/signatures.js';
import {
  decodeChannelAnnouncement,
  decodeChannelUpdate,
  decodeNodeAnnouncement,
  isWireError,
  MESSAGE_TYPES,
  scidToString,
  type ChannelAnnouncement,
  type ChannelUpdate,
  type NodeAnnouncement,
  type ShortChannelId,
} from '../../lightning/wire/index.js';
import type { FundingChecker } from './funding.js';
import { defaultSignatureWorkers, SignaturePool } from './signature-pool.js';
import { VERDICT_OK, type SignatureJob } from './signature-jobs.js';
import {
  ANNOUNCEMENT_SIGNED_AT,
  announcementFields,
  equalFrom,
  hexOf,
  NODE_SIGNED_AT,
  nodeAnnouncementFields,
  ownCopy,
  UPDATE_PARAMS_AT,
  updateDirection,
  updateScid,
  updateTimestamp,
} from './raw.js';
import type { ChannelView, Decision, GossipKind, GossipLog, NodeView, RejectReason, TableChange, TableCounts, TableListener } from './types.js';

/** BOLT 7: "older than two weeks (1209600 seconds)". */
export const TWO_WEEKS = 1_209_600;

export interface RoutingTableOptions {
  /** The chain we run on; messages for other chains are rejected ('wrong-chain'). Default 'bitcoin'. */
  readonly network?: Network;
  /** Seconds since the epoch. Tests over dated data sets set it to the data's date. */
  readonly now?: () => number;
  readonly crypto?: CryptoProvider;
  /**
   * Timestamps further ahead than this are rejected. Default 86,400 (one day): Core Lightning's
   * `timestamp_reasonable()` uses exactly this bound for channel_update and node_announcement; LND and
   * Eclair have no bound at all, which lets a signer pin a channel with a far-future update. A day covers
   * any sane clock skew.
   */
  readonly maxFutureSeconds?: number;
  /** channel_updates older than this are rejected ('too-old'). Default two weeks (BOLT 7 / Core Lightning). */
  readonly maxUpdateAgeSeconds?: number;
  /** node_announcements older than this are rejected; default null (no limit: nodes re-announce rarely). */
  readonly maxNodeAnnouncementAgeSeconds?: number | null;
  /** Pruning horizon (BOLT 7: two weeks). */
  readonly pruneAfterSeconds?: number;
  /**
   * 'both-stale' (default, as the task asks and as LND does by default): prune when neither direction has
   * a fresh update. 'either-stale': prune when the older direction is stale, BOLT 7's recommendation
   * (Core Lightning, Eclair, LND's strict mode). A missing direction counts as the time the channel
   * was announced to us, so an announcement whose updates never come is pruned after the horizon.
   */
  readonly prunePolicy?: 'both-stale' | 'either-stale';
  /** Optional on-chain check of channel_announcements; off by default. */
  readonly fundingChecker?: FundingChecker;
  readonly log?: GossipLog;
  /**
   * Worker threads ingestBatch() verifies signatures in (default: one per core; 0 = always on the calling
   * thread). Only used with the native crypto provider; workers start on the first large batch.
   */
  readonly signatureWorkers?: number;
  /** A batch needing fewer signature checks than this is verified on the calling thread (default 64). */
  readonly parallelThreshold?: number;
  /** Signature jobs per message to a worker (default 256: ~20 ms of work, small next to the transfer cost). */
  readonly jobsPerWorkerBatch?: number;
}

const DEFAULTS = {
  network: 'bitcoin' as Network,
  maxFutureSeconds: 86_400,
  maxUpdateAgeSeconds: TWO_WEEKS,
  maxNodeAnnouncementAgeSeconds: null as number | null,
  pruneAfterSeconds: TWO_WEEKS,
  prunePolicy: 'both-stale' as 'both-stale' | 'either-stale',
  parallelThreshold: 64,
  jobsPerWorkerBatch: 256,
};

/** channel_update signatures cover the message after its type and signature (BOLT 7). */
const UPDATE_SIGNED_AT = 66;

const ANNOUNCEMENT_FIELDS: readonly SignatureField[] = ['node_signature_1', 'node_signature_2', 'bitcoin_signature_1', 'bitcoin_signature_2'];

/** A signature verdict computed ahead of the sequential pass of ingestBatch(), for one message. */
interface Presigned {
  readonly job: SignatureJob;
  verdict: number | undefined;
}

interface ChannelEntry extends ChannelView {
  updates: [Uint8Array | undefined, Uint8Array | undefined];
  timestamps: [number, number];
  capacitySat?: number;
}

interface NodeEntry extends NodeView {
  announcement: Uint8Array | undefined;
  timestamp: number;
  channelCount: number;
}

export interface PruneResult {
  readonly channels: number;
  readonly nodes: number;
}

export interface SnapshotOptions {
  /** Messages per batch (default 1,000). */
  readonly maxMessages?: number;
  /** Bytes per batch, message bytes only (default 512 KiB). A single message always fits. */
  readonly maxBytes?: number;
}

export interface RestoredChannel {
  readonly announcement: Uint8Array;
  readonly updates: readonly [Uint8Array | undefined, Uint8Array | undefined];
  readonly receivedAt: number;
  readonly capacitySat?: number;
}

const reject = (reason: RejectReason, detail: string, kind?: GossipKind, key?: string): Decision =>
  kind === undefined ? { accepted: false, reason, detail } : key === undefined ? { accepted: false, reason, detail, kind } : { accepted: false, reason, detail, kind, key };

const compareBigint = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The back's authoritative routing table: validates gossip (BOLT 7) and keeps the raw bytes of every
 * accepted channel_announcement, the latest channel_update per direction and the latest
 * node_announcement per node, plus the few parsed fields validation and queries need.
 *
 * Check order is cheapest first, signatures last, so a flood of stale or unknown gossip costs no ECDSA.
 */
export class RoutingTable {
  readonly #opts: typeof DEFAULTS & { now: () => number; crypto: CryptoProvider; fundingChecker?: FundingChecker; log?: GossipLog; signatureWorkers?: number };
  readonly #chainHash: Uint8Array;
  readonly #channels = new Map<ShortChannelId, ChannelEntry>();
  readonly #nodes = new Map<string, NodeEntry>();
  readonly #listeners = new Set<TableListener>();
  #sortedScids: ShortChannelId[] | undefined;
  #updateCount = 0;
  #nodeAnnouncementCount = 0;
  #pool: SignaturePool | undefined;
  /** Set only for the synchronous span of one item's ingest inside ingestBatch(). */
  #presigned: Presigned | undefined;

  constructor(options: RoutingTableOptions = {}) {
    const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as RoutingTableOptions;
    this.#opts = {
      ...DEFAULTS,
      now: () => Math.floor(Date.now() / 1000),
      crypto: defaultCrypto(),
      ...defined,
    };
    this.#chainHash = chainHash(this.#opts.network);
    const checker = this.#opts.fundingChecker;
    this.#opts.log?.info(
      { fundingCheck: checker ? checker.description : 'off', network: this.#opts.network, crypto: this.#opts.crypto.name },
      checker ? `gossip: channel funding outputs checked through ${checker.description}` : 'gossip: funding-output check is off (channel_announcements are trusted on their signatures alone)',
    );
  }

  get network(): Network {
    return this.#opts.network;
  }

  /** Seconds on the table's clock. */
  now(): number {
    return this.#opts.now();
  }

  /** Subscribes to changes (accepted messages, removals); returns the unsubscribe function. */
  onChange(listener: TableListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // ---- ingest ---------------------------------------------------------------------------------------

  /**
   * Validates one gossip message (type included) and applies it. Never throws on bad input. With a
   * FundingChecker configured, channel_announcements need ingestAsync() (they are rejected here with
   * 'funding-unchecked').
   */
  ingest(message: Uint8Array, origins: readonly string[] = []): Decision {
    if (!(message instanceof Uint8Array) || message.length < 2) return reject('malformed', 'shorter than a message type');
    const type = (message[0]! << 8) | message[1]!;
    switch (type) {
      case MESSAGE_TYPES.channel_announcement: {
        const pre = this.#precheckChannelAnnouncement(message);
        if ('decision' in pre) return pre.decision;
        if (this.#opts.fundingChecker) return reject('funding-unchecked', 'a funding checker is configured: use ingestAsync()', 'channel_announcement', pre.key);
        return this.#insertChannel(message, pre.decoded, pre.key, origins, undefined);
      }
      case MESSAGE_TYPES.channel_update:
        return this.#ingestChannelUpdate(message, origins);
      case MESSAGE_TYPES.node_announcement:
        return this.#ingestNodeAnnouncement(message, origins);
      default:
        return reject('malformed', `type ${type} is not a channel_announcement, node_announcement or channel_update`);
    }
  }

  /** Like ingest(), plus the on-chain funding check of channel_announcements when a FundingChecker is set. */
  async ingestAsync(message: Uint8Array, origins: readonly string[] = [], signal?: AbortSignal): Promise<Decision> {
    const checker = this.#opts.fundingChecker;
    if (!checker || !(message instanceof Uint8Array) || message.length < 2 || ((message[0]! << 8) | message[1]!) !== MESSAGE_TYPES.channel_announcement) {
      return this.ingest(message, origins);
    }
    const pre = this.#precheckChannelAnnouncement(message);
    if ('decision' in pre) return pre.decision;
    const result = await checker.check({ scid: pre.decoded.shortChannelId, bitcoinKey1: pre.decoded.bitcoinKey1, bitcoinKey2: pre.decoded.bitcoinKey2 }, signal);
    if (!result.ok) return reject(result.reason, result.detail, 'channel_announcement', pre.key);
    // Another copy may have been inserted while we waited.
    const again = this.#precheckKnown(message, pre.decoded.shortChannelId, pre.key);
    if (again) return again;
    return this.#insertChannel(message, pre.decoded, pre.key, origins, result.capacitySat);
  }

  /**
   * Ingests a batch with the same decisions, in the same order, as calling ingestAsync() on each item in
   * turn (a channel_update sees a channel_announcement accepted earlier in the same batch), but with the
   * signatures verified ahead in worker threads: one pass decodes every item and plans its signature checks
   * (skipping items cheap checks already reject), the workers verify while the items are applied in order,
   * each using its precomputed verdict when it checked the same message against the same key (otherwise,
   * e.g. after a worker failure, it verifies on this thread). Small batches stay on this thread.
   * `origins[i]` are the peers item i came from.
   */
  async ingestBatch(messages: readonly Uint8Array[], origins: readonly (readonly string[])[] = [], signal?: AbortSignal): Promise<Decision[]> {
    const planned = this.#planSignatures(messages);
    const waits = this.#dispatch(planned);
    const decisions: Decision[] = [];
    for (let i = 0; i < messages.length; i++) {
      const presigned = planned.presigned[i];
      const wait = presigned ? waits[planned.chunkOf[i]!] : undefined;
      if (wait) await wait;
      const message = messages[i]!;
      const from = origins[i] ?? [];
      // The hook is set only around the synchronous part of one call (an async function runs synchronously
      // up to its first await, and ingestAsync verifies before awaiting the funding check), so no other
      // caller of ingest() can ever see it.
      this.#presigned = presigned;
      let pending: Promise<Decision> | Decision;
      try {
        pending = this.#opts.fundingChecker ? this.ingestAsync(message, from, signal) : this.ingest(message, from);
      } finally {
        this.#presigned = undefined;
      }
      decisions.push(pending instanceof Promise ? await pending : pending);
    }
    return decisions;
  }

  /** Stops the signature workers (they do not keep the process alive when idle; this frees them now). */
  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.close();
  }

  /** The signature checks each item would need, judged against the table plus earlier items of the batch. */
  #planSignatures(messages: readonly Uint8Array[]): { presigned: (Presigned | undefined)[]; chunkOf: number[]; jobs: number } {
    const batchChannels = new Map<ShortChannelId, ChannelAnnouncement>();
    const batchNodes = new Set<string>();
    const presigned: (Presigned | undefined)[] = new Array(messages.length);
    const chunkOf: number[] = new Array(messages.length);
    let jobs = 0;
    for (let i = 0; i < messages.length; i++) {
      const job = this.#planOne(messages[i]!, batchChannels, batchNodes);
      if (job) {
        presigned[i] = { job, verdict: undefined };
        jobs++;
      }
    }
    return { presigned, chunkOf, jobs };
  }

  #planOne(message: Uint8Array, batchChannels: Map<ShortChannelId, ChannelAnnouncement>, batchNodes: Set<string>): SignatureJob | undefined {
    if (!(message instanceof Uint8Array) || message.length < 2) return undefined;
    const type = (message[0]! << 8) | message[1]!;
    try {
      if (type === MESSAGE_TYPES.channel_announcement) {
        const d = decodeChannelAnnouncement(message);
        if (!equalBytes(d.chainHash, this.#chainHash) || this.#channels.has(d.shortChannelId) || batchChannels.has(d.shortChannelId)) return undefined;
        batchChannels.set(d.shortChannelId, d);
        batchNodes.add(hexOf(d.nodeId1)).add(hexOf(d.nodeId2));
        const keys = [d.nodeId1, d.nodeId2, d.bitcoinKey1, d.bitcoinKey2];
        return { message, signedFrom: ANNOUNCEMENT_SIGNED_AT, checks: keys.map((publicKey, k) => ({ signatureAt: 2 + 64 * k, publicKey })) };
      }
      if (type === MESSAGE_TYPES.channel_update) {
        const d = decodeChannelUpdate(message);
        if (!equalBytes(d.chainHash, this.#chainHash) || this.#timeCheck(d.timestamp, this.#opts.maxUpdateAgeSeconds, 'channel_update', '')) return undefined;
        const direction = (d.channelFlags & 1) as 0 | 1;
        const channel = this.#channels.get(d.shortChannelId);
        let signer: Uint8Array | undefined;
        if (channel) {
          const current = channel.updates[direction];
          const have = channel.timestamps[direction];
          if (current && (d.timestamp < have || (d.timestamp === have && equalFrom(current, message, UPDATE_PARAMS_AT)))) return undefined;
          signer = this.#nodes.get(direction === 0 ? channel.nodeId1Hex : channel.nodeId2Hex)?.nodeId;
        } else {
          const announced = batchChannels.get(d.shortChannelId);
          signer = announced && (direction === 0 ? announced.nodeId1 : announced.nodeId2);
        }
        return signer ? { message, signedFrom: UPDATE_SIGNED_AT, checks: [{ signatureAt: 2, publicKey: signer }] } : undefined;
      }
      if (type === MESSAGE_TYPES.node_announcement) {
        const d = decodeNodeAnnouncement(message);
        if (this.#timeCheck(d.timestamp, this.#opts.maxNodeAnnouncementAgeSeconds, 'node_announcement', '')) return undefined;
        const hex = hexOf(d.nodeId);
        const node = this.#nodes.get(hex);
        if ((!node || node.channelCount === 0) && !batchNodes.has(hex)) return undefined;
        if (node?.announcement && d.timestamp <= node.timestamp) return undefined;
        return { message, signedFrom: NODE_SIGNED_AT, checks: [{ signatureAt: 2, publicKey: d.nodeId }] };
      }
    } catch {
      // Undecodable: the sequential pass rejects it with its reason.
    }
    return undefined;
  }

  /** Sends the planned jobs to the workers in chunks; returns one promise per chunk (settled, never rejected). */
  #dispatch(plan: { presigned: (Presigned | undefined)[]; chunkOf: number[]; jobs: number }): Promise<void>[] {
    const pool = this.#signaturePool(plan.jobs);
    if (!pool) return [];
    const waits: Promise<void>[] = [];
    let chunk: Presigned[] = [];
    const send = () => {
      const items = chunk;
      chunk = [];
      // A failed batch leaves its verdicts undefined: those items are verified on this thread.
      waits.push(
        pool.verify(items.map((p) => p.job)).then(
          (verdicts) => items.forEach((p, k) => (p.verdict = verdicts[k])),
          () => undefined,
        ),
      );
    };
    plan.presigned.forEach((p, i) => {
      if (!p) return;
      plan.chunkOf[i] = waits.length;
      chunk.push(p);
      if (chunk.length >= this.#opts.jobsPerWorkerBatch) send();
    });
    if (chunk.length > 0) send();
    return waits;
  }

  #signaturePool(jobs: number): SignaturePool | undefined {
    if (jobs < this.#opts.parallelThreshold || this.#opts.crypto.name !== 'native') return undefined;
    if (this.#pool && !this.#pool.usable) return undefined;
    const size = this.#opts.signatureWorkers ?? defaultSignatureWorkers();
    if (size <= 0) return undefined;
    this.#pool ??= new SignaturePool(size);
    return this.#pool;
  }

  /** The precomputed verdict for this message against exactly these keys, if ingestBatch() has one. */
  #presignedVerdict(message: Uint8Array, keys: readonly Uint8Array[]): number | undefined {
    const p = this.#presigned;
    if (!p || p.job.message !== message || p.verdict === undefined || p.verdict > p.job.checks.length || p.job.checks.length !== keys.length) return undefined;
    for (let k = 0; k < keys.length; k++) if (!equalBytes(p.job.checks[k]!.publicKey, keys[k]!)) return undefined;
    return p.verdict;
  }

  #verifyAnnouncement(message: Uint8Array, d: ChannelAnnouncement): SignatureCheck {
    const verdict = this.#presignedVerdict(message, [d.nodeId1, d.nodeId2, d.bitcoinKey1, d.bitcoinKey2]);
    if (verdict === undefined) return verifyChannelAnnouncement(this.#opts.crypto, message, d);
    return verdict === VERDICT_OK ? { ok: true } : { ok: false, field: ANNOUNCEMENT_FIELDS[verdict - 1]! };
  }

  #verifyUpdate(message: Uint8Array, signer: Uint8Array, d: ChannelUpdate): SignatureCheck {
    const verdict = this.#presignedVerdict(message, [signer]);
    if (verdict === undefined) return verifyChannelUpdateBy(this.#opts.crypto, message, signer, d);
    return verdict === VERDICT_OK ? { ok: true } : { ok: false, field: 'signature' };
  }

  #verifyNode(message: Uint8Array, d: NodeAnnouncement): SignatureCheck {
    const verdict = this.#presignedVerdict(message, [d.nodeId]);
    if (verdict === undefined) return verifyNodeAnnouncement(this.#opts.crypto, message, d);
    return verdict === VERDICT_OK ? { ok: true } : { ok: false, field: 'signature' };
  }

  #precheckChannelAnnouncement(message: Uint8Array): { decision: Decision } | { decoded: ChannelAnnouncement; key: string } {
    let decoded: ChannelAnnouncement;
    try {
      decoded = decodeChannelAnnouncement(message);
    } catch (err) {
      return { decision: reject('malformed', describe(err), 'channel_announcement') };
    }
    const key = scidToString(decoded.shortChannelId);
    if (!equalBytes(decoded.chainHash, this.#chainHash)) return { decision: reject('wrong-chain', `chain_hash ${hexOf(decoded.chainHash)}`, 'channel_announcement', key) };
    const known = this.#precheckKnown(message, decoded.shortChannelId, key);
    if (known) return { decision: known };
    const sig = this.#verifyAnnouncement(message, decoded);
    if (!sig.ok) return { decision: reject('bad-signature', `${sig.field} does not verify`, 'channel_announcement', key) };
    return { decoded, key };
  }

  #precheckKnown(message: Uint8Array, scid: ShortChannelId, key: string): Decision | undefined {
    const existing = this.#channels.get(scid);
    if (!existing) return undefined;
    if (equalFrom(existing.announcement, message, ANNOUNCEMENT_SIGNED_AT)) return reject('duplicate', 'channel already known', 'channel_announcement', key);
    // BOLT 7 would blacklist both node pairs; we keep the first announcement and report the conflict.
    return reject('conflict', 'another channel_announcement for this short_channel_id is known', 'channel_announcement', key);
  }

  #insertChannel(message: Uint8Array, decoded: ChannelAnnouncement, key: string, origins: readonly string[], capacitySat: number | undefined): Decision {
    const announcement = ownCopy(message);
    const n1 = this.#nodeFor(decoded.nodeId1);
    const n2 = this.#nodeFor(decoded.nodeId2);
    const entry: ChannelEntry = {
      scid: decoded.shortChannelId,
      announcement,
      updates: [undefined, undefined],
      timestamps: [0, 0],
      nodeId1Hex: n1.nodeIdHex,
      nodeId2Hex: n2.nodeIdHex,
      receivedAt: this.#opts.now(),
      ...(capacitySat !== undefined ? { capacitySat } : {}),
    };
    this.#addChannel(entry, n1, n2);
    this.#emit({ type: 'accepted', kind: 'channel_announcement', key, message: announcement, replaced: false, origins, scid: entry.scid });
    return { accepted: true, kind: 'channel_announcement', key, replaced: false };
  }

  #addChannel(entry: ChannelEntry, n1: NodeEntry, n2: NodeEntry): void {
    this.#channels.set(entry.scid, entry);
    n1.channelCount++;
    n2.channelCount++;
    if (this.#sortedScids) {
      const last = this.#sortedScids[this.#sortedScids.length - 1];
      // Appending in order (a table fed in scid order, a reload) keeps the cache valid.
      if (last === undefined || last < entry.scid) this.#sortedScids.push(entry.scid);
      else this.#sortedScids = undefined;
    }
  }

  #nodeFor(nodeId: Uint8Array): NodeEntry {
    const hex = hexOf(nodeId);
    let node = this.#nodes.get(hex);
    if (!node) {
      node = { nodeIdHex: hex, nodeId: nodeId.slice(), announcement: undefined, timestamp: 0, channelCount: 0 };
      this.#nodes.set(hex, node);
    }
    return node;
  }

  #ingestChannelUpdate(message: Uint8Array, origins: readonly string[]): Decision {
    let decoded;
    try {
      decoded = decodeChannelUpdate(message);
    } catch (err) {
      return reject('malformed', describe(err), 'channel_update');
    }
    const direction = (decoded.channelFlags & 1) as 0 | 1;
    const key = `${scidToString(decoded.shortChannelId)}/${direction}`;
    if (!equalBytes(decoded.chainHash, this.#chainHash)) return reject('wrong-chain', `chain_hash ${hexOf(decoded.chainHash)}`, 'channel_update', key);
    const channel = this.#channels.get(decoded.shortChannelId);
    if (!channel) return reject('unknown-channel', 'no channel_announcement for this short_channel_id', 'channel_update', key);
    const time = this.#timeCheck(decoded.timestamp, this.#opts.maxUpdateAgeSeconds, 'channel_update', key);
    if (time) return time;
    const current = channel.updates[direction];
    if (current) {
      const have = channel.timestamps[direction];
      if (decoded.timestamp < have) return reject('stale', `timestamp ${decoded.timestamp} < ${have} we have`, 'channel_update', key);
      // Same timestamp and same fields after it: the same update, perhaps re-signed or s-flipped.
      if (decoded.timestamp === have && equalFrom(current, message, UPDATE_PARAMS_AT)) return reject('duplicate', `same update at ${have}`, 'channel_update', key);
    }
    const signer = this.#nodes.get(direction === 0 ? channel.nodeId1Hex : channel.nodeId2Hex)!.nodeId;
    const sig = this.#verifyUpdate(message, signer, decoded);
    if (!sig.ok) return reject('bad-signature', `signature of node_id_${direction + 1} does not verify`, 'channel_update', key);
    if (current && decoded.timestamp === channel.timestamps[direction]) {
      return reject('conflict', `same timestamp ${decoded.timestamp}, different parameters (BOLT 7 MAY blacklist the signer; we keep the first)`, 'channel_update', key);
    }
    const update = ownCopy(message);
    channel.updates[direction] = update;
    channel.timestamps[direction] = decoded.timestamp;
    if (!current) this.#updateCount++;
    this.#emit({ type: 'accepted', kind: 'channel_update', key, message: update, replaced: current !== undefined, origins, scid: channel.scid });
    return { accepted: true, kind: 'channel_update', key, replaced: current !== undefined, timestamp: decoded.timestamp };
  }

  #ingestNodeAnnouncement(message: Uint8Array, origins: readonly string[]): Decision {
    let decoded;
    try {
      decoded = decodeNodeAnnouncement(message);
    } catch (err) {
      return reject('malformed', describe(err), 'node_announcement');
    }
    const key = hexOf(decoded.nodeId);
    const node = this.#nodes.get(key);
    if (!node || node.channelCount === 0) return reject('no-channel-for-node', 'no known channel has this node', 'node_announcement', key);
    const time = this.#timeCheck(decoded.timestamp, this.#opts.maxNodeAnnouncementAgeSeconds, 'node_announcement', key);
    if (time) return time;
    const current = node.announcement;
    if (current) {
      if (decoded.timestamp === node.timestamp && equalFrom(current, message, NODE_SIGNED_AT)) return reject('duplicate', `same announcement at ${node.timestamp}`, 'node_announcement', key);
      // BOLT 7: ignore unless strictly newer.
      if (decoded.timestamp <= node.timestamp) return reject('stale', `timestamp ${decoded.timestamp} <= ${node.timestamp} we have`, 'node_announcement', key);
    }
    const sig = this.#verifyNode(message, decoded);
    if (!sig.ok) return reject('bad-signature', 'signature does not verify', 'node_announcement', key);
    const announcement = ownCopy(message);
    node.announcement = announcement;
    node.timestamp = decoded.timestamp;
    if (!current) this.#nodeAnnouncementCount++;
    this.#emit({ type: 'accepted', kind: 'node_announcement', key, message: announcement, replaced: current !== undefined, origins });
    return { accepted: true, kind: 'node_announcement', key, replaced: current !== undefined, timestamp: decoded.timestamp };
  }

  #timeCheck(timestamp: number, maxAge: number | null, kind: GossipKind, key: string): Decision | undefined {
    const now = this.#opts.now();
    if (timestamp > now + this.#opts.maxFutureSeconds) {
      return reject('too-far-in-future', `timestamp ${timestamp} is ${timestamp - now} s ahead (limit ${this.#opts.maxFutureSeconds} s)`, kind, key);
    }
    if (maxAge !== null && timestamp < now - maxAge) return reject('too-old', `timestamp ${timestamp} is ${now - timestamp} s old (limit ${maxAge} s)`, kind, key);
    return undefined;
  }

  #emit(change: TableChange): void {
    for (const listener of this.#listeners) listener(change);
  }

  // ---- removal --------------------------------------------------------------------------------------

  /**
   * Removes channels whose updates are older than the pruning horizon (see `prunePolicy`), then the nodes
   * no channel mentions any more (BOLT 7: MAY prune them). `now` defaults to the table clock.
   */
  prune(now: number = this.#opts.now()): PruneResult {
    const cutoff = now - this.#opts.pruneAfterSeconds;
    const either = this.#opts.prunePolicy === 'either-stale';
    const stale: ShortChannelId[] = [];
    for (const c of this.#channels.values()) {
      const t0 = c.timestamps[0] || c.receivedAt;
      const t1 = c.timestamps[1] || c.receivedAt;
      if ((either ? Math.min(t0, t1) : Math.max(t0, t1)) < cutoff) stale.push(c.scid);
    }
    let nodes = 0;
    for (const scid of stale) nodes += this.#removeChannel(scid, 'pruned');
    if (stale.length > 0) this.#opts.log?.info({ channels: stale.length, nodes, cutoff }, 'gossip: pruned stale channels');
    return { channels: stale.length, nodes };
  }

  /** Forgets a channel (its funding output was spent, BOLT 7). Returns false when unknown. */
  removeChannel(scid: ShortChannelId): boolean {
    if (!this.#channels.has(scid)) return false;
    this.#removeChannel(scid, 'closed');
    return true;
  }

  /** Returns how many nodes went with it. */
  #removeChannel(scid: ShortChannelId, why: 'pruned' | 'closed'): number {
    const c = this.#channels.get(scid)!;
    this.#channels.delete(scid);
    this.#sortedScids = undefined;
    this.#updateCount -= (c.updates[0] ? 1 : 0) + (c.updates[1] ? 1 : 0);
    this.#emit({ type: 'channel-removed', scid, key: scidToString(scid), why });
    let removedNodes = 0;
    for (const hex of [c.nodeId1Hex, c.nodeId2Hex]) {
      const node = this.#nodes.get(hex);
      if (!node) continue;
      node.channelCount--;
      if (node.channelCount <= 0) {
        this.#nodes.delete(hex);
        if (node.announcement) this.#nodeAnnouncementCount--;
        removedNodes++;
        this.#emit({ type: 'node-removed', nodeId: node.nodeId, key: hex });
      }
    }
    return removedNodes;
  }

  /**
   * Calls prune() every `intervalSeconds` (default one hour) until the signal aborts or the returned
   * function is called. The timer does not keep the process alive.
   */
  startPruning(intervalSeconds = 3600, signal?: AbortSignal): () => void {
    const timer = setInterval(() => this.prune(), intervalSeconds * 1000);
    timer.unref();
    const stop = () => clearInterval(timer);
    signal?.addEventListener('abort', stop, { once: true });
    return stop;
  }

  // ---- restore (from our own store: trusted, not re-verified, no change events) ---------------------

  /** Puts back a channel from persistence. Returns false (and skips it) for unreadable bytes. */
  restoreChannel(row: RestoredChannel): boolean {
    const f = announcementFields(row.announcement);
    if (!f || this.#channels.has(f.scid)) return false;
    const n1 = this.#nodeFor(f.nodeId1);
    const n2 = this.#nodeFor(f.nodeId2);
    const entry: ChannelEntry = {
      scid: f.scid,
      announcement: ownCopy(row.announcement),
      updates: [undefined, undefined],
      timestamps: [0, 0],
      nodeId1Hex: n1.nodeIdHex,
      nodeId2Hex: n2.nodeIdHex,
      receivedAt: row.receivedAt,
      ...(row.capacitySat !== undefined ? { capacitySat: row.capacitySat } : {}),
    };
    for (const u of row.updates) {
      if (!u || u.length < UPDATE_PARAMS_AT + 20 || updateScid(u) !== f.scid) continue;
      const d = updateDirection(u);
      if (!entry.updates[d]) this.#updateCount++;
      entry.updates[d] = ownCopy(u);
      entry.timestamps[d] = updateTimestamp(u);
    }
    this.#addChannel(entry, n1, n2);
    return true;
  }

  /** Puts back a node_announcement from persistence (after its channels). */
  restoreNodeAnnouncement(announcement: Uint8Array): boolean {
    const f = nodeAnnouncementFields(announcement);
    if (!f) return false;
    const node = this.#nodes.get(hexOf(f.nodeId));
    if (!node || node.channelCount === 0) return false;
    if (!node.announcement) this.#nodeAnnouncementCount++;
    node.announcement = ownCopy(announcement);
    node.timestamp = f.timestamp;
    return true;
  }

  // ---- reading --------------------------------------------------------------------------------------

  counts(): TableCounts {
    return { channels: this.#channels.size, channelUpdates: this.#updateCount, nodes: this.#nodes.size, nodeAnnouncements: this.#nodeAnnouncementCount };
  }

  getChannel(scid: ShortChannelId): ChannelView | undefined {
    return this.#channels.get(scid);
  }

  /** By node id bytes or hex. */
  getNode(nodeId: Uint8Array | string): NodeView | undefined {
    return this.#nodes.get(typeof nodeId === 'string' ? nodeId.toLowerCase() : hexOf(nodeId));
  }

  /** Short channel ids in ascending order (cached until the set changes). */
  scids(): readonly ShortChannelId[] {
    if (!this.#sortedScids) this.#sortedScids = [...this.#channels.keys()].sort(compareBigint);
    return this.#sortedScids;
  }

  /** Channels in short_channel_id order. Safe against changes during iteration (removed ones are skipped). */
  *channels(): Generator<ChannelView, void, undefined> {
    for (const scid of this.scids().slice()) {
      const c = this.#channels.get(scid);
      if (c) yield c;
    }
  }

  /** Every node some channel mentions (announced or not), in insertion order. */
  *nodes(): Generator<NodeView, void, undefined> {
    for (const n of this.#nodes.values()) yield n;
  }

  /**
   * Every stored message in an order a receiver can apply one by one: each channel_announcement, then its
   * updates, and each node_announcement right after the first channel (in scid order) that mentions it.
   */
  *snapshot(): Generator<Uint8Array, void, undefined> {
    const sent = new Set<string>();
    for (const c of this.channels()) {
      yield c.announcement;
      if (c.updates[0]) yield c.updates[0];
      if (c.updates[1]) yield c.updates[1];
      for (const hex of [c.nodeId1Hex, c.nodeId2Hex]) {
        if (sent.has(hex)) continue;
        sent.add(hex);
        const ann = this.#nodes.get(hex)?.announcement;
        if (ann) yield ann;
      }
    }
  }

  /** snapshot() cut into batches (for the cluster link). */
  *snapshotBatches(options: SnapshotOptions = {}): Generator<Uint8Array[], void, undefined> {
    const maxMessages = options.maxMessages ?? 1000;
    const maxBytes = options.maxBytes ?? 512 * 1024;
    let batch: Uint8Array[] = [];
    let bytes = 0;
    for (const m of this.snapshot()) {
      if (batch.length > 0 && (batch.length >= maxMessages || bytes + m.length > maxBytes)) {
        yield batch;
        batch = [];
        bytes = 0;
      }
      batch.push(m);
      bytes += m.length;
    }
    if (batch.length > 0) yield batch;
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && equalFrom(a, b, 0);
}

function describe(err: unknown): string {
  if (isWireError(err)) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
