/**
 * A chain made by the test: fake headers (no proof of work: LDK does not check it) building on the
 * regtest genesis, blocks holding whatever was broadcast. The engine reads it as its ChainSource;
 * another node (the LDK peer process) is fed the same blocks.
 */
import { randomBytes } from 'node:crypto';
import { chainHash } from '../../src/lightning/chains.js';
import { blockHash, serializeBlock, sha256d } from '../../src/back/channels/block.js';
import type { BlockRef, ChainSource } from '../../src/back/channels/chain.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export class TestChain implements ChainSource {
  readonly network = 'regtest' as const;
  private readonly hashes: Uint8Array[] = [chainHash('regtest')];
  private readonly blocks = new Map<string, Uint8Array>();
  private readonly listeners = new Set<() => void>();
  private readonly blockListeners = new Set<(block: Uint8Array, height: number) => void>();
  mempool: Uint8Array[] = [];
  broadcasts: Uint8Array[] = [];
  fee = 253;

  async tip(): Promise<BlockRef> {
    return { hash: this.hashes[this.hashes.length - 1]!, height: this.hashes.length - 1 };
  }
  get height(): number {
    return this.hashes.length - 1;
  }
  async blockHashAt(height: number): Promise<Uint8Array | undefined> {
    return this.hashes[height];
  }
  async block(hash: Uint8Array): Promise<Uint8Array> {
    const b = this.blocks.get(hex(hash));
    if (!b) throw new Error(`test chain: no block ${hex(hash)}`);
    return b;
  }
  broadcast(txs: Uint8Array[]): void {
    for (const tx of txs) {
      this.broadcasts.push(tx);
      if (!this.mempool.some((m) => Buffer.from(m).equals(Buffer.from(tx)))) this.mempool.push(tx);
    }
  }
  feeRate(): number {
    return this.fee;
  }
  async fundingTransaction(outputScript: Uint8Array, sats: bigint): Promise<Uint8Array> {
    return fakeFundingTransaction(outputScript, sats);
  }
  onTip(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  /** Every new block, whole (to feed other nodes). */
  onBlock(listener: (block: Uint8Array, height: number) => void): () => void {
    this.blockListeners.add(listener);
    return () => this.blockListeners.delete(listener);
  }

  /** Mines `count` blocks; the first takes the mempool. */
  mine(count = 1): void {
    for (let i = 0; i < count; i++) {
      const txs = this.mempool;
      this.mempool = [];
      const header = new Uint8Array(80);
      const view = new DataView(header.buffer);
      view.setUint32(0, 0x20000000, true);
      header.set(this.hashes[this.hashes.length - 1]!, 4);
      header.set(sha256d(Buffer.concat([Buffer.from(randomBytes(8)), ...txs.map((t) => Buffer.from(t))])), 36);
      view.setUint32(68, Math.floor(Date.now() / 1000) + this.hashes.length, true);
      view.setUint32(72, 0x207fffff, true);
      const block = serializeBlock(header, [coinbase(this.hashes.length), ...txs]);
      const hash = blockHash(header);
      this.hashes.push(hash);
      this.blocks.set(hex(hash), block);
      for (const l of this.blockListeners) l(block, this.hashes.length - 1);
    }
    for (const l of this.listeners) l();
  }
}

function le64(v: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v, true);
  return out;
}

/** A segwit transaction spending a made-up outpoint (LDK wants witness inputs) to the funding script. */
export function fakeFundingTransaction(outputScript: Uint8Array, sats: bigint): Uint8Array {
  return bytes([
    Buffer.from([2, 0, 0, 0, 0, 1, 1]), // version 2, segwit marker+flag, 1 input
    randomBytes(32),
    Buffer.from([0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]), // vout 0, empty scriptSig, sequence
    Buffer.from([1]),
    le64(sats),
    Buffer.from([outputScript.length]),
    Buffer.from(outputScript),
    Buffer.from([1, 1, 0xff]), // one witness item: 0xff
    Buffer.from([0, 0, 0, 0]),
  ]);
}

function bytes(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

function coinbase(height: number): Uint8Array {
  const h = Buffer.alloc(4);
  h.writeUInt32LE(height);
  return bytes([
    Buffer.from([1, 0, 0, 0, 1]),
    Buffer.alloc(32),
    Buffer.from([0xff, 0xff, 0xff, 0xff, 5, 4]),
    h,
    Buffer.from([0xff, 0xff, 0xff, 0xff, 1]),
    le64(0n),
    Buffer.from([1, 0x51]),
    Buffer.from([0, 0, 0, 0]),
  ]);
}
