import Database from 'better-sqlite3';
import type { ShortChannelId } from '../../lightning/wire/index.js';
import type { RoutingTable } from './routing-table.js';
import type { GossipLog, TableChange } from './types.js';

/**
 * SQLite persistence of the routing table (better-sqlite3, WAL, synchronous=NORMAL). Table changes are
 * queued and written in one transaction per flush, so a kill -9 leaves the database at the last committed
 * flush: never half a flush, never a corrupt file. With synchronous=NORMAL a power cut may lose the last
 * flushes (the WAL is fsynced at checkpoints), which gossip tolerates: peers send it again.
 */
export interface GossipStoreOptions {
  /** Flush queued changes this long after the first one (default 200 ms). */
  readonly flushIntervalMs?: number;
  /** Flush at once when this many changes are queued (default 5,000). */
  readonly maxPending?: number;
  readonly log?: GossipLog;
}

export interface LoadProgress {
  readonly channels: number;
  readonly nodes: number;
  readonly totalChannels: number;
  readonly totalNodes: number;
}

export interface LoadOptions {
  /** Called every `progressEvery` rows and once at the end. */
  readonly onProgress?: (progress: LoadProgress) => void;
  readonly progressEvery?: number;
  readonly signal?: AbortSignal;
}

export interface LoadResult {
  readonly channels: number;
  readonly nodes: number;
  /** Rows the table refused (unreadable bytes, a node without channels). */
  readonly skipped: number;
}

export class GossipStoreError extends Error {
  override readonly name = 'GossipStoreError';
  constructor(
    readonly code: 'schema' | 'aborted' | 'closed',
    message: string,
  ) {
    super(message);
  }
}

const SCHEMA_VERSION = '1';

type Op =
  | { readonly op: 'channel'; readonly scid: bigint; readonly announcement: Uint8Array; readonly receivedAt: number; readonly capacitySat: number | null }
  | { op: 'update'; readonly scid: bigint; readonly direction: 0 | 1; message: Uint8Array }
  | { readonly op: 'delete-channel'; readonly scid: bigint }
  | { op: 'node'; readonly nodeId: Uint8Array; announcement: Uint8Array }
  | { readonly op: 'delete-node'; readonly nodeId: Uint8Array };

// SQLite integers are signed 64-bit; short_channel_ids are u64 (block heights below 2^23 stay positive).
const toSql = (scid: ShortChannelId) => BigInt.asIntN(64, scid);

export class GossipStore {
  readonly #db: Database.Database;
  readonly #opts: Required<Omit<GossipStoreOptions, 'log'>> & { log?: GossipLog };
  readonly #statements;
  #pending: Op[] = [];
  /** Coalesces repeated writes of one item: key -> its queued op (replaced in place). */
  readonly #pendingByKey = new Map<string, Extract<Op, { op: 'update' | 'node' }>>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #detach: (() => void) | undefined;
  #flushError: unknown;

  private constructor(db: Database.Database, options: GossipStoreOptions) {
    this.#db = db;
    this.#opts = { flushIntervalMs: 200, maxPending: 5000, ...options };
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS channels (
        scid INTEGER PRIMARY KEY,
        announcement BLOB NOT NULL,
        update0 BLOB,
        update1 BLOB,
        received_at INTEGER NOT NULL,
        capacity_sat INTEGER
      );
      CREATE TABLE IF NOT EXISTS nodes (node_id BLOB PRIMARY KEY, announcement BLOB NOT NULL);
    `);
    const version = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?').get('schema');
    if (!version) db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('schema', SCHEMA_VERSION);
    else if (version.value !== SCHEMA_VERSION) throw new GossipStoreError('schema', `gossip store schema ${version.value}, this build reads ${SCHEMA_VERSION}`);
    this.#statements = {
      insertChannel: db.prepare('INSERT OR REPLACE INTO channels (scid, announcement, update0, update1, received_at, capacity_sat) VALUES (?, ?, NULL, NULL, ?, ?)'),
      update0: db.prepare('UPDATE channels SET update0 = ? WHERE scid = ?'),
      update1: db.prepare('UPDATE channels SET update1 = ? WHERE scid = ?'),
      deleteChannel: db.prepare('DELETE FROM channels WHERE scid = ?'),
      upsertNode: db.prepare('INSERT OR REPLACE INTO nodes (node_id, announcement) VALUES (?, ?)'),
      deleteNode: db.prepare('DELETE FROM nodes WHERE node_id = ?'),
    };
  }

  /** Opens (creating if needed) the database at `path` (":memory:" for tests). */
  static open(path: string, options: GossipStoreOptions = {}): GossipStore {
    return new GossipStore(new Database(path), options);
  }

  /** Rows on disk (committed). */
  counts(): { channels: number; updates: number; nodes: number } {
    const c = this.#db.prepare<[], { n: number; u: number }>('SELECT count(*) AS n, count(update0) + count(update1) AS u FROM channels').get()!;
    const n = this.#db.prepare<[], { n: number }>('SELECT count(*) AS n FROM nodes').get()!;
    return { channels: c.n, updates: c.u, nodes: n.n };
  }

  /** "ok" when SQLite finds the file sound (PRAGMA integrity_check). */
  integrityCheck(): string {
    return (this.#db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
  }

  /**
   * Fills `table` (normally empty) from disk: channels in scid order, then node announcements. Trusted
   * rows: no signature checks. Call table.prune() afterwards to drop what went stale while we were down.
   */
  load(table: RoutingTable, options: LoadOptions = {}): LoadResult {
    const every = options.progressEvery ?? 10_000;
    const totalChannels = (this.#db.prepare('SELECT count(*) AS n FROM channels').get() as { n: number }).n;
    const totalNodes = (this.#db.prepare('SELECT count(*) AS n FROM nodes').get() as { n: number }).n;
    let channels = 0;
    let nodes = 0;
    let skipped = 0;
    const progress = () => options.onProgress?.({ channels, nodes, totalChannels, totalNodes });
    const rows = this.#db.prepare('SELECT announcement, update0, update1, received_at, capacity_sat FROM channels ORDER BY scid').raw(true);
    for (const row of rows.iterate() as IterableIterator<[Uint8Array, Uint8Array | null, Uint8Array | null, number, number | null]>) {
      if (options.signal?.aborted) throw new GossipStoreError('aborted', 'gossip store load aborted');
      const [announcement, u0, u1, receivedAt, capacitySat] = row;
      const ok = table.restoreChannel({
        announcement,
        updates: [u0 ?? undefined, u1 ?? undefined],
        receivedAt,
        ...(capacitySat !== null ? { capacitySat } : {}),
      });
      if (ok) channels++;
      else skipped++;
      if ((channels + skipped) % every === 0) progress();
    }
    for (const [announcement] of this.#db.prepare('SELECT announcement FROM nodes').raw(true).iterate() as IterableIterator<[Uint8Array]>) {
      if (options.signal?.aborted) throw new GossipStoreError('aborted', 'gossip store load aborted');
      if (table.restoreNodeAnnouncement(announcement)) nodes++;
      else skipped++;
      if ((channels + nodes + skipped) % every === 0) progress();
    }
    progress();
    this.#opts.log?.info({ channels, nodes, skipped }, 'gossip: routing table loaded from SQLite');
    return { channels, nodes, skipped };
  }

  /** Persists every change of `table` from now on. Returns the function that stops it. */
  attach(table: RoutingTable): () => void {
    this.#detach?.();
    const off = table.onChange((change) => this.#queue(table, change));
    this.#detach = () => {
      off();
      this.#detach = undefined;
    };
    return this.#detach;
  }

  /** Writes `table` entirely (e.g. after a bulk import without attach()), in one transaction. */
  writeAll(table: RoutingTable): void {
    this.flush();
    this.#db.transaction(() => {
      this.#db.exec('DELETE FROM channels; DELETE FROM nodes;');
      for (const c of table.channels()) {
        this.#statements.insertChannel.run(toSql(c.scid), c.announcement, c.receivedAt, c.capacitySat ?? null);
        if (c.updates[0]) this.#statements.update0.run(c.updates[0], toSql(c.scid));
        if (c.updates[1]) this.#statements.update1.run(c.updates[1], toSql(c.scid));
      }
      for (const n of table.nodes()) if (n.announcement) this.#statements.upsertNode.run(n.nodeId, n.announcement);
    })();
  }

  #queue(table: RoutingTable, change: TableChange): void {
    if (this.#closed) return;
    switch (change.type) {
      case 'accepted':
        if (change.kind === 'channel_announcement') {
          const c = table.getChannel(change.scid!);
          this.#pending.push({ op: 'channel', scid: change.scid!, announcement: change.message, receivedAt: c?.receivedAt ?? table.now(), capacitySat: c?.capacitySat ?? null });
        } else if (change.kind === 'channel_update') {
          const key = `u:${change.key}`;
          const queued = this.#pendingByKey.get(key);
          if (queued && queued.op === 'update') queued.message = change.message;
          else {
            const op: Op = { op: 'update', scid: change.scid!, direction: change.key.endsWith('/1') ? 1 : 0, message: change.message };
            this.#pending.push(op);
            this.#pendingByKey.set(key, op);
          }
        } else {
          const key = `n:${change.key}`;
          const queued = this.#pendingByKey.get(key);
          if (queued && queued.op === 'node') queued.announcement = change.message;
          else {
            const op: Op = { op: 'node', nodeId: Uint8Array.from(Buffer.from(change.key, 'hex')), announcement: change.message };
            this.#pending.push(op);
            this.#pendingByKey.set(key, op);
          }
        }
        break;
      case 'channel-removed':
        // Later writes for this channel must not merge into ops queued before the delete.
        this.#pendingByKey.delete(`u:${change.key}/0`);
        this.#pendingByKey.delete(`u:${change.key}/1`);
        this.#pending.push({ op: 'delete-channel', scid: change.scid });
        break;
      case 'node-removed':
        this.#pendingByKey.delete(`n:${change.key}`);
        this.#pending.push({ op: 'delete-node', nodeId: change.nodeId });
        break;
    }
    if (this.#pending.length >= this.#opts.maxPending) this.flush();
    else if (!this.#timer) {
      this.#timer = setTimeout(() => this.#flushFromTimer(), this.#opts.flushIntervalMs);
      this.#timer.unref();
    }
  }

  #flushFromTimer(): void {
    try {
      this.flush();
    } catch (err) {
      // A failed write (disk full, ...) must not crash the back from a timer: keep the ops, log, retry.
      this.#flushError = err;
      this.#opts.log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'gossip: store flush failed, retrying');
      this.#timer = setTimeout(() => this.#flushFromTimer(), this.#opts.flushIntervalMs * 5);
      this.#timer.unref();
    }
  }

  /** The last flush error from the background timer, if any. */
  get lastFlushError(): unknown {
    return this.#flushError;
  }

  /** Number of queued, not yet written changes. */
  get pending(): number {
    return this.#pending.length;
  }

  /** Writes queued changes now, in one transaction. */
  flush(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#pending.length === 0) return;
    const ops = this.#pending;
    const s = this.#statements;
    this.#db.transaction(() => {
      for (const o of ops) {
        switch (o.op) {
          case 'channel':
            s.insertChannel.run(toSql(o.scid), o.announcement, o.receivedAt, o.capacitySat);
            break;
          case 'update':
            (o.direction === 0 ? s.update0 : s.update1).run(o.message, toSql(o.scid));
            break;
          case 'delete-channel':
            s.deleteChannel.run(toSql(o.scid));
            break;
          case 'node':
            s.upsertNode.run(o.nodeId, o.announcement);
            break;
          case 'delete-node':
            s.deleteNode.run(o.nodeId);
            break;
        }
      }
    })();
    // Only once committed: a failed transaction keeps the ops for the retry.
    this.#pending = [];
    this.#pendingByKey.clear();
    this.#flushError = undefined;
  }

  /** Flushes, detaches and closes the database. */
  close(): void {
    if (this.#closed) return;
    this.#detach?.();
    this.flush();
    this.#closed = true;
    this.#db.close();
  }
}
