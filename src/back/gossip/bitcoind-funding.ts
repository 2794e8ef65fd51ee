import { readFile } from 'node:fs/promises';
import { scidToParts } from '../../lightning/wire/index.js';
import { fundingScriptPubKey, type FundingChecker, type FundingQuery, type FundingResult } from './funding.js';

export interface BitcoindFundingOptions {
  /** JSON-RPC endpoint, e.g. "http://127.0.0.1:8332". */
  readonly url: string;
  /** rpcuser/rpcpassword, or a cookie file (`<datadir>/.cookie`, read at each new connection attempt). */
  readonly auth: { readonly user: string; readonly password: string } | { readonly cookieFile: string };
  /** BOLT 7: at least 6 confirmations (MAY accept close to 6). */
  readonly minConfirmations?: number;
  /** Per-request timeout. */
  readonly timeoutMs?: number;
  /** Blocks whose txid lists are kept (many channels share a block). */
  readonly blockCacheSize?: number;
}

const DEFAULTS = { minConfirmations: 6, timeoutMs: 10_000, blockCacheSize: 64 };

export class BitcoindRpcError extends Error {
  override readonly name = 'BitcoindRpcError';
  constructor(
    readonly code: 'http' | 'rpc' | 'timeout' | 'bad-response',
    message: string,
    readonly rpcCode?: number,
  ) {
    super(message);
  }
}

interface TxOut {
  readonly confirmations: number;
  readonly value: number;
  readonly scriptPubKey: { readonly hex: string };
}

/**
 * Funding-output check through Bitcoin Core's JSON-RPC: getblockhash(height) -> getblock(hash, 1) for the
 * txid at the scid's tx index -> gettxout(txid, vout, false) (unspent outputs only; no -txindex needed).
 */
export class BitcoindFundingChecker implements FundingChecker {
  readonly description: string;
  readonly #options: BitcoindFundingOptions & typeof DEFAULTS;
  /** height -> txids of that block (insertion-ordered map as a small LRU). */
  readonly #blocks = new Map<number, readonly string[]>();
  #nextId = 1;

  constructor(options: BitcoindFundingOptions) {
    this.#options = { ...DEFAULTS, ...options };
    this.description = `bitcoind ${new URL(options.url).origin}`;
  }

  async check(query: FundingQuery, signal?: AbortSignal): Promise<FundingResult> {
    const { block, txIndex, outputIndex } = scidToParts(query.scid);
    try {
      const txids = await this.#blockTxids(block, signal);
      if (!txids) return { ok: false, reason: 'funding-mismatch', detail: `no block at height ${block}` };
      const txid = txids[txIndex];
      if (!txid) return { ok: false, reason: 'funding-mismatch', detail: `block ${block} has ${txids.length} transactions, no index ${txIndex}` };
      const out = (await this.call('gettxout', [txid, outputIndex, false], signal)) as TxOut | null;
      if (out === null) return { ok: false, reason: 'funding-spent', detail: `${txid}:${outputIndex} is spent or does not exist` };
      if (typeof out?.scriptPubKey?.hex !== 'string' || typeof out.value !== 'number' || typeof out.confirmations !== 'number') {
        throw new BitcoindRpcError('bad-response', 'gettxout returned an unexpected shape');
      }
      const expected = Buffer.from(fundingScriptPubKey(query.bitcoinKey1, query.bitcoinKey2)).toString('hex');
      if (out.scriptPubKey.hex.toLowerCase() !== expected) {
        return { ok: false, reason: 'funding-mismatch', detail: `${txid}:${outputIndex} is not the 2-of-2 P2WSH of the announced bitcoin keys` };
      }
      if (out.confirmations < this.#options.minConfirmations) {
        return { ok: false, reason: 'funding-unconfirmed', detail: `${out.confirmations} confirmations, ${this.#options.minConfirmations} needed` };
      }
      // Bitcoin Core prints BTC with 8 decimals: round to avoid float noise.
      return { ok: true, capacitySat: Math.round(out.value * 1e8), confirmations: out.confirmations };
    } catch (err) {
      return { ok: false, reason: 'funding-check-failed', detail: err instanceof Error ? err.message : String(err) };
    }
  }

  async #blockTxids(height: number, signal?: AbortSignal): Promise<readonly string[] | undefined> {
    const cached = this.#blocks.get(height);
    if (cached) {
      this.#blocks.delete(height);
      this.#blocks.set(height, cached);
      return cached;
    }
    let hash: unknown;
    try {
      hash = await this.call('getblockhash', [height], signal);
    } catch (err) {
      // -8: "Block height out of range".
      if (err instanceof BitcoindRpcError && err.rpcCode === -8) return undefined;
      throw err;
    }
    const block = (await this.call('getblock', [hash, 1], signal)) as { tx?: unknown } | null;
    if (!block || !Array.isArray(block.tx) || !block.tx.every((t) => typeof t === 'string')) {
      throw new BitcoindRpcError('bad-response', 'getblock returned no txid list');
    }
    const txids = block.tx as string[];
    this.#blocks.set(height, txids);
    if (this.#blocks.size > this.#options.blockCacheSize) this.#blocks.delete(this.#blocks.keys().next().value!);
    return txids;
  }

  /** One JSON-RPC 1.0 call (what Bitcoin Core speaks); throws BitcoindRpcError. */
  async call(method: string, params: readonly unknown[], signal?: AbortSignal): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.#options.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let response: Response;
    try {
      response = await fetch(this.#options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: await this.#authorization() },
        body: JSON.stringify({ jsonrpc: '1.0', id: this.#nextId++, method, params }),
        signal: combined,
      });
    } catch (err) {
      if (timeout.aborted) throw new BitcoindRpcError('timeout', `${method}: no answer within ${this.#options.timeoutMs} ms`);
      throw new BitcoindRpcError('http', `${method}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const text = await response.text();
    let body: { result?: unknown; error?: { code?: number; message?: string } | null };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new BitcoindRpcError('http', `${method}: HTTP ${response.status}, not JSON`);
    }
    if (body.error) throw new BitcoindRpcError('rpc', `${method}: ${body.error.message ?? 'error'}`, body.error.code);
    if (!response.ok) throw new BitcoindRpcError('http', `${method}: HTTP ${response.status}`);
    return body.result ?? null;
  }

  async #authorization(): Promise<string> {
    const auth = this.#options.auth;
    const pair = 'cookieFile' in auth ? (await readFile(auth.cookieFile, 'utf8')).trim() : `${auth.user}:${auth.password}`;
    return `Basic ${Buffer.from(pair).toString('base64')}`;
  }
}
