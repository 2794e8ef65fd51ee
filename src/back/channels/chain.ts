/**
 * What the channel engine needs from the chain. The engine pulls blocks (each LDK object - the
 * ChannelManager and every ChannelMonitor - has its own best block after a restart, and LDK insists
 * that blocks connect in order to each), pushes transactions, and asks for fees and funding.
 */
import type { Network } from '../../lightning/chains.js';

export interface BlockRef {
  /** Block hash in internal byte order. */
  hash: Uint8Array;
  height: number;
}

/** LDK's confirmation targets, named for what they are used for. */
export type FeeTarget =
  | 'maximum-fee-estimate'
  | 'urgent-on-chain-sweep'
  | 'minimum-allowed-anchor-channel-remote-fee'
  | 'minimum-allowed-non-anchor-channel-remote-fee'
  | 'anchor-channel-fee'
  | 'non-anchor-channel-fee'
  | 'channel-close-minimum'
  | 'output-spending-fee';

export interface ChainSource {
  readonly network: Network;
  /** Current best block. */
  tip(): Promise<BlockRef>;
  /** Hash of the block at `height` in the best chain, undefined above the tip. */
  blockHashAt(height: number): Promise<Uint8Array | undefined>;
  /** The whole serialized block. */
  block(hash: Uint8Array): Promise<Uint8Array>;
  /** Sends transactions to the network (errors are the source's to log: LDK rebroadcasts). */
  broadcast(txs: Uint8Array[]): void;
  /**
   * Fee rate in sat per 1000 weight units. Synchronous because LDK asks from inside its calls: a real
   * source answers from a cache it refreshes in the background. Never below 253 (LDK's floor).
   */
  feeRate(target: FeeTarget): number;
  /** A signed transaction paying `sats` to `outputScript` (the channel's funding output), from the wallet. */
  fundingTransaction(outputScript: Uint8Array, sats: bigint): Promise<Uint8Array>;
  /** Called whenever the tip may have moved; returns an unsubscribe function. */
  onTip(listener: () => void): () => void;
}
