/**
 * An independent LDK node for tests, run as its own process: LDK's own PeerManager and BOLT 8 over
 * real TCP sockets, driven by JSON lines on stdin (requests) and stdout (replies and events).
 *   request  {"id":1,"cmd":"connect","port":1234,"nodeId":"02.."}
 *   reply    {"id":1,"ok":true,"result":...} | {"id":1,"ok":false,"error":"..."}
 *   event    {"event":"ChannelReady","channelId":"..",...}
 * It follows the test's chain through "block" requests (whole blocks, in order from height 1).
 */
import { randomBytes } from 'node:crypto';
import { connect as tcpConnect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import * as ldk from 'lightningdevkit';
import { loadLdk } from '../../src/back/channels/ldk-wasm.js';
import { fakeFundingTransaction } from './ldk-test-chain.js';
import { isPresent } from '../../src/back/channels/ldk-wire.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const emit = (obj: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(obj, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
};

await loadLdk();

const network = ldk.Network.LDKNetwork_Regtest;
const fee = ldk.FeeEstimator.new_impl({ get_est_sat_per_1000_weight: () => 253 });
const broadcaster = ldk.BroadcasterInterface.new_impl({
  broadcast_transactions(txs: Uint8Array[]) {
    for (const tx of txs) emit({ event: 'broadcast', tx: hex(tx) });
  },
});
const logger = ldk.Logger.new_impl({
  log(record: ldk.Record) {
    if (process.env['LDK_PEER_LOG'] && record.get_level() >= ldk.Level.LDKLevel_Debug) {
      process.stderr.write(`peer ${record.get_module_path()}: ${record.get_args()}\n`);
    }
  },
});
const persister = ldk.Persist.new_impl({
  persist_new_channel: () => ldk.ChannelMonitorUpdateStatus.LDKChannelMonitorUpdateStatus_Completed,
  update_persisted_channel: () => ldk.ChannelMonitorUpdateStatus.LDKChannelMonitorUpdateStatus_Completed,
  archive_persisted_channel: () => undefined,
});
const chainMonitor = ldk.ChainMonitor.constructor_new(ldk.Option_FilterZ.constructor_none(), broadcaster, logger, fee, persister);
const now = Date.now();
const keys = ldk.KeysManager.constructor_new(new Uint8Array(randomBytes(32)), BigInt(Math.floor(now / 1000)), (now % 1000) * 1e6);
const graph = ldk.NetworkGraph.constructor_new(network, logger);
const scorer = ldk.ProbabilisticScorer.constructor_new(ldk.ProbabilisticScoringDecayParameters.constructor_default(), graph, logger);
const score = ldk.MultiThreadedLockableScore.constructor_new(scorer.as_Score());
const router = ldk.DefaultRouter.constructor_new(graph, logger, keys.as_EntropySource(), score.as_LockableScore(), ldk.ProbabilisticScoringFeeParameters.constructor_default());
const messageRouter = ldk.DefaultMessageRouter.constructor_new(graph, keys.as_EntropySource());
const config = ldk.UserConfig.constructor_default();
const chanman = ldk.ChannelManager.constructor_new(
  fee,
  chainMonitor.as_Watch(),
  broadcaster,
  router.as_Router(),
  messageRouter.as_MessageRouter(),
  logger,
  keys.as_EntropySource(),
  keys.as_NodeSigner(),
  keys.as_SignerProvider(),
  config,
  ldk.ChainParameters.constructor_new(network, ldk.BestBlock.constructor_from_network(network)),
  Math.floor(now / 1000),
);
const ignorer = ldk.IgnoringMessageHandler.constructor_new();
const peerManager = ldk.PeerManager.constructor_new(
  chanman.as_ChannelMessageHandler(),
  ignorer.as_RoutingMessageHandler(),
  ignorer.as_OnionMessageHandler(),
  ignorer.as_CustomMessageHandler(),
  Math.floor(now / 1000),
  new Uint8Array(randomBytes(32)),
  logger,
  keys.as_NodeSigner(),
);

const sockets = new Map<bigint, Socket>();
let nextSocketId = 1n;

function wireSocket(socket: Socket): ldk.SocketDescriptor {
  const id = nextSocketId++;
  sockets.set(id, socket);
  const descriptor = ldk.SocketDescriptor.new_impl({
    send_data(data: Uint8Array, resumeRead: boolean): number {
      if (resumeRead) socket.resume();
      if (!socket.destroyed) socket.write(Buffer.from(data));
      return data.length;
    },
    disconnect_socket(): void {
      socket.destroy();
    },
    eq: (other: ldk.SocketDescriptor) => other.hash() === id,
    hash: () => id,
  });
  socket.on('data', (chunk: Buffer) => {
    const result = peerManager.read_event(descriptor, new Uint8Array(chunk));
    if (!(result instanceof ldk.Result_boolPeerHandleErrorZ_OK)) socket.destroy();
    else if (result.res) socket.pause();
    pump();
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    sockets.delete(id);
    peerManager.socket_disconnected(descriptor);
    emit({ event: 'socket-closed' });
    pump();
  });
  return descriptor;
}

const pendingForwards = { scheduled: false };

function pump(): void {
  const events: ldk.Event[] = [];
  const handler = ldk.EventHandler.new_impl({
    handle_event(e: ldk.Event) {
      events.push(e);
      return ldk.Result_NoneReplayEventZ.constructor_ok();
    },
  });
  chainMonitor.as_EventsProvider().process_pending_events(handler);
  chanman.as_EventsProvider().process_pending_events(handler);
  for (const e of events) onEvent(e);
  peerManager.process_events();
}

function onEvent(e: ldk.Event): void {
  if (e instanceof ldk.Event_FundingGenerationReady) {
    const tx = fakeFundingTransaction(e.output_script, e.channel_value_satoshis);
    chanman.funding_transaction_generated(e.temporary_channel_id, e.counterparty_node_id, tx);
  } else if (e instanceof ldk.Event_ChannelPending) {
    emit({ event: 'ChannelPending', channelId: hex(e.channel_id.get_a()), peer: hex(e.counterparty_node_id) });
  } else if (e instanceof ldk.Event_ChannelReady) {
    emit({ event: 'ChannelReady', channelId: hex(e.channel_id.get_a()), peer: hex(e.counterparty_node_id) });
  } else if (e instanceof ldk.Event_ChannelClosed) {
    emit({ event: 'ChannelClosed', channelId: hex(e.channel_id.get_a()), reason: e.reason.to_str() });
  } else if (e instanceof ldk.Event_PaymentClaimable) {
    const preimage = e.purpose.preimage();
    if (preimage instanceof ldk.Option_ThirtyTwoBytesZ_Some) chanman.claim_funds(preimage.some);
  } else if (e instanceof ldk.Event_PaymentClaimed) {
    emit({ event: 'PaymentClaimed', paymentHash: hex(e.payment_hash), amountMsat: e.amount_msat });
  } else if (e instanceof ldk.Event_PaymentSent) {
    emit({ event: 'PaymentSent', paymentHash: hex(e.payment_hash) });
  } else if (e instanceof ldk.Event_PaymentFailed) {
    emit({ event: 'PaymentFailed', paymentId: hex(e.payment_id) });
  } else if (e instanceof ldk.Event_PendingHTLCsForwardable) {
    if (!pendingForwards.scheduled) {
      pendingForwards.scheduled = true;
      setTimeout(() => {
        pendingForwards.scheduled = false;
        chanman.process_pending_htlc_forwards();
        pump();
      }, 20);
    }
  }
}

type Request = { id: number; cmd: string } & Record<string, unknown>;

async function run(req: Request): Promise<unknown> {
  switch (req.cmd) {
    case 'nodeId':
      return hex(chanman.get_our_node_id());
    case 'connect': {
      const socket = tcpConnect({ host: '127.0.0.1', port: req['port'] as number });
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      const descriptor = wireSocket(socket);
      const act1 = peerManager.new_outbound_connection(unhex(req['nodeId'] as string), descriptor, ldk.Option_SocketAddressZ.constructor_none());
      if (!(act1 instanceof ldk.Result_CVec_u8ZPeerHandleErrorZ_OK)) throw new Error('new_outbound_connection failed');
      socket.write(Buffer.from(act1.res));
      return true;
    }
    case 'disconnectAll':
      for (const s of sockets.values()) s.destroy();
      return true;
    case 'peers':
      return peerManager.list_peers().map((p) => hex(p.get_counterparty_node_id()));
    case 'open': {
      const r = chanman.create_channel(unhex(req['nodeId'] as string), BigInt(req['sats'] as number), BigInt((req['pushMsat'] as number) ?? 0), 1n, null, null);
      if (!(r instanceof ldk.Result_ChannelIdAPIErrorZ_OK)) throw new Error('create_channel failed');
      return hex(r.res.get_a());
    }
    case 'block': {
      const block = unhex(req['hex'] as string);
      chainMonitor.as_Listen().block_connected(block, req['height'] as number);
      chanman.as_Listen().block_connected(block, req['height'] as number);
      return true;
    }
    case 'channels':
      return chanman.list_channels().map((c) => ({
        channelId: hex(c.get_channel_id().get_a()),
        peer: hex(c.get_counterparty().get_node_id()),
        usable: c.get_is_usable(),
        ready: c.get_is_channel_ready(),
        outboundMsat: c.get_outbound_capacity_msat(),
        // The counterparty's channel_update for its direction arrived: our invoices can hint at it.
        forwardingInfo: isPresent(c.get_counterparty().get_forwarding_info()),
      }));
    case 'invoice': {
      const r = ldk.UtilMethods.constructor_create_invoice_from_channelmanager(
        chanman,
        ldk.Option_u64Z.constructor_some(BigInt(req['msat'] as number)),
        'test',
        3600,
        ldk.Option_u16Z.constructor_none(),
      );
      if (!(r instanceof ldk.Result_Bolt11InvoiceSignOrCreationErrorZ_OK)) throw new Error('invoice failed');
      return r.res.to_str();
    }
    case 'pay': {
      const inv = ldk.Bolt11Invoice.constructor_from_str(req['invoice'] as string);
      if (!(inv instanceof ldk.Result_Bolt11InvoiceParseOrSemanticErrorZ_OK)) throw new Error('bad invoice');
      const p = ldk.UtilMethods.constructor_payment_parameters_from_invoice(inv.res);
      if (!(p instanceof ldk.Result_C3Tuple_ThirtyTwoBytesRecipientOnionFieldsRouteParametersZNoneZ_OK)) throw new Error('bad invoice params');
      const r = chanman.send_payment(p.res.get_a(), p.res.get_b(), new Uint8Array(randomBytes(32)), p.res.get_c(), ldk.Retry.constructor_attempts(3));
      if (!r.is_ok()) {
        const reason = r instanceof ldk.Result_NoneRetryableSendFailureZ_Err ? ldk.RetryableSendFailure[r.err] : 'unknown';
        throw new Error(`send_payment failed: ${reason}`);
      }
      return true;
    }
    case 'exit':
      setImmediate(() => process.exit(0));
      return true;
    default:
      throw new Error(`unknown command ${req.cmd}`);
  }
}

const timer = setInterval(pump, 50);
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  let req: Request;
  try {
    req = JSON.parse(line) as Request;
  } catch {
    return;
  }
  run(req)
    .then((result) => {
      pump();
      emit({ id: req.id, ok: true, result });
    })
    .catch((error: unknown) => emit({ id: req.id, ok: false, error: String(error) }));
});
lines.on('close', () => {
  clearInterval(timer);
  process.exit(0);
});
emit({ event: 'ready', nodeId: hex(chanman.get_our_node_id()) });
