/**
 * The LDK trait implementations the engine plugs into ChannelManager and ChainMonitor: fees and
 * broadcast from the ChainSource, LDK's log lines into pino, monitor persistence into the store.
 * Each callback runs synchronously inside an LDK call: none of them calls back into LDK.
 */
import * as ldk from 'lightningdevkit';
import type { Logger } from '../../util/log.js';
import type { ChainSource, FeeTarget } from './chain.js';
import { ChannelStore, monitorKey } from './store.js';
import type { Network } from '../../lightning/chains.js';

const FEE_TARGETS: Record<number, FeeTarget> = {
  [ldk.ConfirmationTarget.LDKConfirmationTarget_MaximumFeeEstimate]: 'maximum-fee-estimate',
  [ldk.ConfirmationTarget.LDKConfirmationTarget_UrgentOnChainSweep]: 'urgent-on-chain-sweep',
  [ldk.ConfirmationTarget.LDKConfirmationTarget_MinAllowedAnchorChannelRemoteFee]: 'minimum-allowed-anchor-channel-remote-fee',
  [ldk.ConfirmationTarget.LDKConfirmationTarget_MinAllowedNonAnchorChannelRemoteFee]: 'minimum-allowed-non-anchor-channel-remote-fee',
  [ldk.ConfirmationTarget.LDKConfirmationTarget_AnchorChannelFee]: 'anchor-channel-fee',
  [ldk.ConfirmationTarget.LDKConfirmationTarget_NonAnchorChannelFee]: 'non-anchor-channel-fee',
  [ldk.ConfirmationTarget.LDKConfirmationTarget_ChannelCloseMinimum]: 'channel-close-minimum',
  [ldk.ConfirmationTarget.LDKConfirmationTarget_OutputSpendingFee]: 'output-spending-fee',
};

/** LDK refuses fee rates under 253 sat/kw (1 sat/vbyte rounded up). */
const FEE_FLOOR = 253;

export function ldkNetwork(network: Network): ldk.Network {
  switch (network) {
    case 'bitcoin':
      return ldk.Network.LDKNetwork_Bitcoin;
    case 'testnet':
      return ldk.Network.LDKNetwork_Testnet;
    case 'signet':
      return ldk.Network.LDKNetwork_Signet;
    case 'regtest':
      return ldk.Network.LDKNetwork_Regtest;
  }
}

export function feeEstimator(chain: ChainSource): ldk.FeeEstimator {
  return ldk.FeeEstimator.new_impl({
    get_est_sat_per_1000_weight(target: ldk.ConfirmationTarget): number {
      const rate = chain.feeRate(FEE_TARGETS[target] ?? 'non-anchor-channel-fee');
      return Math.max(FEE_FLOOR, Math.ceil(rate));
    },
  });
}

export function broadcaster(chain: ChainSource, log: Logger): ldk.BroadcasterInterface {
  return ldk.BroadcasterInterface.new_impl({
    broadcast_transactions(txs: Uint8Array[]): void {
      // Copy: the arrays may be views into WASM memory that the next LDK call reuses.
      const copies = txs.map((tx) => Uint8Array.from(tx));
      queueMicrotask(() => {
        try {
          chain.broadcast(copies);
        } catch (error) {
          log.warn({ err: error }, 'broadcast failed');
        }
      });
    },
  });
}

export function ldkLogger(log: Logger): ldk.Logger {
  return ldk.Logger.new_impl({
    log(record: ldk.Record): void {
      const level = record.get_level();
      const pinoLevel =
        level === ldk.Level.LDKLevel_Error ? 'error' : level === ldk.Level.LDKLevel_Warn ? 'warn' : level === ldk.Level.LDKLevel_Info ? 'info' : 'trace';
      // Reading a record's strings copies them out of WASM: only for lines that will be written.
      if (!log.isLevelEnabled(pinoLevel)) return;
      log[pinoLevel]({ ldk: record.get_module_path() }, record.get_args());
    },
  });
}

/**
 * Monitors are written in full on every update, synchronously, before LDK goes on (status
 * Completed): the monitor on disk is never behind what the peer has been told.
 */
export function monitorPersister(store: ChannelStore, log: Logger): ldk.Persist {
  const write = (outpoint: ldk.OutPoint, monitor: ldk.ChannelMonitor): ldk.ChannelMonitorUpdateStatus => {
    try {
      store.writeMonitor(monitorKey(outpoint.get_txid(), outpoint.get_index()), monitor.write());
      return ldk.ChannelMonitorUpdateStatus.LDKChannelMonitorUpdateStatus_Completed;
    } catch (error) {
      // UnrecoverableError makes LDK stop the channel rather than run ahead of its backup.
      log.fatal({ err: error }, 'could not persist a channel monitor');
      return ldk.ChannelMonitorUpdateStatus.LDKChannelMonitorUpdateStatus_UnrecoverableError;
    }
  };
  return ldk.Persist.new_impl({
    persist_new_channel: (outpoint, monitor) => write(outpoint, monitor),
    update_persisted_channel: (outpoint, _update, monitor) => write(outpoint, monitor),
    archive_persisted_channel(outpoint: ldk.OutPoint): void {
      store.archiveMonitor(monitorKey(outpoint.get_txid(), outpoint.get_index()));
    },
  });
}
