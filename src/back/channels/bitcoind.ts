/**
 * ChainSource over Bitcoin Core's JSON-RPC: blocks by polling, broadcast, fee estimates (cached:
 * LDK asks synchronously), and channel funding from Core's wallet.
 * The wallet must spend segwit outputs only (LDK refuses a funding transaction with a non-witness
 * input): a descriptor wallet with bech32 addresses does.
 */
import type { Network } from '../../lightning/chains.js';
import { moduleLogger, type Logger } from '../../util/log.js';
import { segwitAddress } from './bech32.js';
import type { BlockRef, ChainSource, FeeTarget } from './chain.js';
import { ChannelEngineError } from './errors.js';

export interface BitcoindOptions {
  /** e.g. http://127.0.0.1:8332 (a wallet path like /wallet/ln is added from `wallet`). */
  url: string;
  username: string;
  password: string;
  network: Network;
  wallet?: string;
  pollIntervalMs?: number;
  feeRefreshMs?: number;
  timeoutMs?: number;
  /** Replaces the HTTP call (tests). */
  transport?: RpcTransport;
  log?: Logger;
}

/** One HTTP POST: body in, status and body out. */
export type RpcTransport = (url: string, headers: Record<string, string>, body: string, signal: AbortSignal) => Promise<{ status: number; body: string }>;

const DEFAULTS = { pollIntervalMs: 5_000, feeRefreshMs: 60_000, timeoutMs: 30_000 } as const;

/** Confirmation target and mode per use, and the rate (sat/kw) used until Core has an estimate. */
const FEE_PLAN: Record<FeeTarget, { blocks: number; mode: 'ECONOMICAL' | 'CONSERVATIVE'; fallback: number }> = {
  'maximum-fee-estimate': { blocks: 1, mode: 'CONSERVATIVE', fallback: 50_000 },
  'urgent-on-chain-sweep': { blocks: 6, mode: 'CONSERVATIVE', fallback: 5_000 },
  'minimum-allowed-anchor-channel-remote-fee': { blocks: 1008, mode: 'ECONOMICAL', fallback: 253 },
  'minimum-allowed-non-anchor-channel-remote-fee': { blocks: 144, mode: 'ECONOMICAL', fallback: 253 },
  'anchor-channel-fee': { blocks: 1008, mode: 'ECONOMICAL', fallback: 253 },
  'non-anchor-channel-fee': { blocks: 12, mode: 'ECONOMICAL', fallback: 2_000 },
  'channel-close-minimum': { blocks: 144, mode: 'ECONOMICAL', fallback: 253 },
  'output-spending-fee': { blocks: 12, mode: 'ECONOMICAL', fallback: 2_000 },
};

export class BitcoindRpcError extends ChannelEngineError {
  constructor(
    readonly rpcCode: number | undefined,
    message: string,
  ) {
    super('chain-error', message);
  }
}

/** Bitcoin Core prints hashes reversed (display order); LDK and headers use internal order. */
export const toDisplayHex = (hash: Uint8Array): string => Buffer.from(hash).reverse().toString('hex');
export const fromDisplayHex = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex').reverse());

/** BTC per kvB (estimatesmartfee) -> sat per 1000 weight units. */
export function btcPerKvbToSatPerKw(btcPerKvb: number): number {
  return Math.round((btcPerKvb * 1e8) / 4);
}

const fetchTransport: RpcTransport = async (url, headers, body, signal) => {
  const res = await fetch(url, { method: 'POST', headers, body, signal });
  return { status: res.status, body: await res.text() };
};

export class BitcoindChainSource implements ChainSource {
  readonly network: Network;
  private readonly log: Logger;
  private nextId = 1;
  private readonly fees = new Map<FeeTarget, number>();
  private readonly listeners = new Set<() => void>();
  private pollTimer: NodeJS.Timeout | undefined;
  private feeTimer: NodeJS.Timeout | undefined;
  private lastTip = '';

  constructor(private readonly options: BitcoindOptions) {
    this.network = options.network;
    this.log = options.log ?? moduleLogger('bitcoind');
  }

  /** Raw JSON-RPC call (wallet calls go to the wallet's path). */
  async call<T>(method: string, params: unknown[] = [], wallet = false): Promise<T> {
    const { options } = this;
    const base = options.url.replace(/\/+$/, '');
    const url = wallet && options.wallet ? `${base}/wallet/${encodeURIComponent(options.wallet)}` : base;
    const auth = Buffer.from(`${options.username}:${options.password}`).toString('base64');
    const body = JSON.stringify({ jsonrpc: '1.0', id: this.nextId++, method, params });
    const signal = AbortSignal.timeout(options.timeoutMs ?? DEFAULTS.timeoutMs);
    let res: { status: number; body: string };
    try {
      res = await (options.transport ?? fetchTransport)(url, { 'content-type': 'application/json', authorization: `Basic ${auth}` }, body, signal);
    } catch (error) {
      throw new BitcoindRpcError(undefined, `${method}: ${(error as Error).message}`);
    }
    if (res.status === 401) throw new BitcoindRpcError(undefined, `${method}: bitcoind refused the credentials`);
    let parsed: { result?: T; error?: { code: number; message: string } | null };
    try {
      parsed = JSON.parse(res.body) as typeof parsed;
    } catch {
      throw new BitcoindRpcError(undefined, `${method}: HTTP ${res.status}, not JSON`);
    }
    if (parsed.error) throw new BitcoindRpcError(parsed.error.code, `${method}: ${parsed.error.message}`);
    return parsed.result as T;
  }

  async tip(): Promise<BlockRef> {
    const info = await this.call<{ bestblockhash: string; blocks: number }>('getblockchaininfo');
    return { hash: fromDisplayHex(info.bestblockhash), height: info.blocks };
  }

  async blockHashAt(height: number): Promise<Uint8Array | undefined> {
    try {
      return fromDisplayHex(await this.call<string>('getblockhash', [height]));
    } catch (error) {
      if (error instanceof BitcoindRpcError && error.rpcCode === -8) return undefined; // height out of range
      throw error;
    }
  }

  async block(hash: Uint8Array): Promise<Uint8Array> {
    return new Uint8Array(Buffer.from(await this.call<string>('getblock', [toDisplayHex(hash), 0]), 'hex'));
  }

  broadcast(txs: Uint8Array[]): void {
    for (const tx of txs) {
      this.call<string>('sendrawtransaction', [Buffer.from(tx).toString('hex')]).catch((error: unknown) => {
        // -27: already in the chain; anything else is logged (LDK rebroadcasts what matters).
        if (!(error instanceof BitcoindRpcError && error.rpcCode === -27)) this.log.warn({ err: error }, 'broadcast failed');
      });
    }
  }

  feeRate(target: FeeTarget): number {
    return this.fees.get(target) ?? FEE_PLAN[target].fallback;
  }

  /** Refreshes every fee estimate (errors keep the previous values). */
  async refreshFees(): Promise<void> {
    const floor = await this.call<{ mempoolminfee?: number }>('getmempoolinfo').then(
      (i) => (i.mempoolminfee ? btcPerKvbToSatPerKw(i.mempoolminfee) : 253),
      () => 253,
    );
    for (const [target, plan] of Object.entries(FEE_PLAN) as Array<[FeeTarget, (typeof FEE_PLAN)[FeeTarget]]>) {
      try {
        const r = await this.call<{ feerate?: number }>('estimatesmartfee', [plan.blocks, plan.mode]);
        if (typeof r.feerate === 'number') this.fees.set(target, Math.max(floor, 253, btcPerKvbToSatPerKw(r.feerate)));
      } catch (error) {
        this.log.debug({ err: error, target }, 'no fee estimate');
      }
    }
  }

  async fundingTransaction(outputScript: Uint8Array, sats: bigint): Promise<Uint8Array> {
    const address = segwitAddress(outputScript, this.network);
    const amount = Number(sats) / 1e8;
    const raw = await this.call<string>('createrawtransaction', [[], [{ [address]: amount }]], true);
    const funded = await this.call<{ hex: string }>('fundrawtransaction', [raw, { changePosition: 1 }], true);
    const signed = await this.call<{ hex: string; complete: boolean }>('signrawtransactionwithwallet', [funded.hex], true);
    if (!signed.complete) throw new BitcoindRpcError(undefined, 'the wallet could not sign the funding transaction');
    return new Uint8Array(Buffer.from(signed.hex, 'hex'));
  }

  onTip(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts polling the tip and refreshing fees; resolves once fees were fetched once. */
  async start(): Promise<void> {
    await this.refreshFees();
    const poll = async (): Promise<void> => {
      try {
        const hash = await this.call<string>('getbestblockhash');
        if (hash !== this.lastTip) {
          this.lastTip = hash;
          for (const l of this.listeners) l();
        }
      } catch (error) {
        this.log.warn({ err: error }, 'bitcoind poll failed');
      }
    };
    this.pollTimer = setInterval(() => void poll(), this.options.pollIntervalMs ?? DEFAULTS.pollIntervalMs);
    this.feeTimer = setInterval(() => void this.refreshFees().catch(() => undefined), this.options.feeRefreshMs ?? DEFAULTS.feeRefreshMs);
    this.pollTimer.unref();
    this.feeTimer.unref();
    await poll();
  }

  stop(): void {
    clearInterval(this.pollTimer);
    clearInterval(this.feeTimer);
  }
}
