/**
 * The back's channel engine on LDK's ChannelManager, with no PeerManager: the fronts terminate
 * BOLT 8 and BOLT 1, the engine receives decrypted BOLT 2 messages (node id + bytes), feeds them to
 * LDK's ChannelMessageHandler, and sends whatever LDK queues back through the host, in order.
 *
 * Rules the bindings impose (measured, see issue 8):
 * - absent optional structs are objects with native pointer 0, never null: `isPresent` before `write()`;
 * - a long-lived handler object retains every message given to it: a fresh handler per call;
 * - callbacks run synchronously inside LDK calls: they record, the engine acts after the call returns.
 */
import { randomBytes } from 'node:crypto';
import * as ldk from 'lightningdevkit';
import type { ChannelAdminCommands, ChannelEngine, ChannelEngineHost, ConnectedPeer } from '../channel-engine.js';
import { chainHash } from '../../lightning/chains.js';
import { moduleLogger, type Logger } from '../../util/log.js';
import { blockHash, HEADER_LENGTH, parseBlock } from './block.js';
import type { BlockRef, ChainSource } from './chain.js';
import { ChannelEngineError } from './errors.js';
import { loadLdk } from './ldk-wasm.js';
import { broadcaster, feeEstimator, ldkLogger, ldkNetwork, monitorPersister } from './ldk-setup.js';
import { decodeInbound, encodeOutbound, isPresent, MessageType, warningMessage } from './ldk-wire.js';
import { callUnpinned } from './ldk-handles.js';
import { ldkAdminCommands } from './ldk-admin.js';
import { ldkEcdh } from './ldk-identity.js';
import { ChannelStore } from './store.js';

export interface LdkEngineOptions {
  /** Folder for the seed, the channel manager and the channel monitors. */
  dataDir: string;
  chain: ChainSource;
  host: ChannelEngineHost;
  /** How often `timer_tick_occurred` runs (LDK expects about once a minute). */
  tickIntervalMs?: number;
  /** Delay before forwarding HTLCs LDK announced as forwardable (batching, and some privacy). */
  forwardDelayMs?: number;
  /** fsync every write (default true; tests may turn it off for speed). */
  durable?: boolean;
  /** Adjusts LDK's default UserConfig (channel limits, announcing channels, ...). */
  configure?: (config: ldk.UserConfig) => void;
  /** Gossip LDK wants broadcast (channel_announcement, channel_update, node_announcement), whole wire messages. */
  onGossip?: (messages: Uint8Array[]) => void;
  onEvent?: (event: EngineEvent) => void;
  /** Runs once the engine has closed (stop what the engine used: the chain source's polling). */
  onClosed?: () => void;
  log?: Logger;
}

const DEFAULTS = { tickIntervalMs: 60_000, forwardDelayMs: 100, durable: true } as const;

export type EngineEvent =
  | { type: 'channel-pending'; channelId: string; peer: string; fundingTxo: string }
  | { type: 'channel-ready'; channelId: string; peer: string }
  | { type: 'channel-closed'; channelId: string; peer: string; reason: string }
  | { type: 'payment-received'; paymentHash: string; amountMsat: bigint }
  | { type: 'payment-sent'; paymentId: string; paymentHash: string; feeMsat: bigint | undefined }
  | { type: 'payment-failed'; paymentId: string; reason: string }
  | { type: 'payment-forwarded'; feeMsat: bigint | undefined }
  | { type: 'connection-needed'; peer: string }
  | { type: 'spendable-outputs'; channelId: string; descriptors: Uint8Array[] };

export type ChannelState = 'negotiating' | 'awaiting-confirmation' | 'ready' | 'usable' | 'closing';

export interface ChannelInfo {
  channelId: string;
  peer: string;
  state: ChannelState;
  capacitySats: bigint;
  /** What we could send now (balance minus reserve and in-flight HTLCs). */
  outboundMsat: bigint;
  inboundMsat: bigint;
  shortChannelId: string | undefined;
  fundingTxo: string | undefined;
  confirmations: number | undefined;
  isOutbound: boolean;
  isPublic: boolean;
}

export interface PaymentResult {
  paymentId: string;
  paymentHash: string;
  preimage: string;
  feeMsat: bigint | undefined;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

function someU64(o: ldk.Option_u64Z): bigint | undefined {
  return o instanceof ldk.Option_u64Z_Some ? o.some : undefined;
}

function someU32(o: ldk.Option_u32Z): number | undefined {
  return o instanceof ldk.Option_u32Z_Some ? o.some : undefined;
}

function apiError(err: ldk.APIError): string {
  const e = err as { err?: unknown };
  return typeof e.err === 'string' ? e.err : err.constructor.name.replace(/^APIError_/, '');
}

function outpointText(o: ldk.OutPoint): string {
  return `${hex(Uint8Array.from(o.get_txid()).reverse())}:${o.get_index()}`;
}

function scidText(scid: bigint): string {
  return `${scid >> 40n}x${(scid >> 16n) & 0xffffffn}x${scid & 0xffffn}`;
}

interface PendingPayment {
  resolve(result: PaymentResult): void;
  reject(error: ChannelEngineError): void;
}

export class LdkChannelEngine implements ChannelEngine {
  private readonly log: Logger;
  private readonly connected = new Set<string>();
  private readonly payments = new Map<string, PendingPayment>();
  private flushing = false;
  private flushAgain = false;
  private forwardTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private unsubscribeTip: (() => void) | undefined;
  private chainQueue: Promise<void> = Promise.resolve();
  private best: BlockRef;
  private closed = false;
  /** One of each for the engine's life; see ldk-handles.ts for why and how they stay small. */
  private readonly messageHandler: ldk.ChannelMessageHandler;
  private readonly msgEventsProvider: ldk.MessageSendEventsProvider;
  private readonly managerEvents: ldk.EventsProvider;
  private readonly monitorEvents: ldk.EventsProvider;
  private readonly eventHandler: ldk.EventHandler;
  private readonly collected: ldk.Event[] = [];

  private constructor(
    private readonly options: LdkEngineOptions,
    private readonly store: ChannelStore,
    private readonly keys: ldk.KeysManager,
    private readonly chanman: ldk.ChannelManager,
    private readonly chainMonitor: ldk.ChainMonitor,
    private readonly ldkParts: { fee: ldk.FeeEstimator; broadcaster: ldk.BroadcasterInterface; logger: ldk.Logger },
    log: Logger,
  ) {
    this.log = log;
    this.messageHandler = chanman.as_ChannelMessageHandler();
    this.msgEventsProvider = chanman.as_MessageSendEventsProvider();
    this.managerEvents = chanman.as_EventsProvider();
    this.monitorEvents = chainMonitor.as_EventsProvider();
    const collected = this.collected;
    this.eventHandler = ldk.EventHandler.new_impl({
      handle_event(event: ldk.Event): ldk.Result_NoneReplayEventZ {
        collected.push(event);
        return ldk.Result_NoneReplayEventZ.constructor_ok();
      },
    });
    const best = chanman.current_best_block();
    this.best = { hash: best.get_block_hash(), height: best.get_height() };
  }

  /** Loads (or creates) the node from `dataDir`, syncs it to the chain tip and starts its timer. */
  static async start(options: LdkEngineOptions): Promise<LdkChannelEngine> {
    await loadLdk();
    const log = options.log ?? moduleLogger('channels');
    const durable = options.durable ?? DEFAULTS.durable;
    const store = new ChannelStore(options.dataDir, durable);
    const seed = store.loadOrCreateSeed();
    const now = Date.now();
    // KeysManager wants a start time unique per run: it salts ephemeral key derivation with it.
    const keys = ldk.KeysManager.constructor_new(seed, BigInt(Math.floor(now / 1000)), (now % 1000) * 1_000_000);
    const { chain } = options;
    const network = ldkNetwork(chain.network);
    const fee = feeEstimator(chain);
    const bcast = broadcaster(chain, log);
    const logger = ldkLogger(log);
    const persister = monitorPersister(store, log);
    const chainMonitor = ldk.ChainMonitor.constructor_new(ldk.Option_FilterZ.constructor_none(), bcast, logger, fee, persister);
    const graph = ldk.NetworkGraph.constructor_new(network, logger);
    const scorer = ldk.ProbabilisticScorer.constructor_new(ldk.ProbabilisticScoringDecayParameters.constructor_default(), graph, logger);
    const score = ldk.MultiThreadedLockableScore.constructor_new(scorer.as_Score());
    const entropy = keys.as_EntropySource();
    const router = ldk.DefaultRouter.constructor_new(
      graph,
      logger,
      entropy,
      score.as_LockableScore(),
      ldk.ProbabilisticScoringFeeParameters.constructor_default(),
    );
    const messageRouter = ldk.DefaultMessageRouter.constructor_new(graph, entropy);
    const config = ldk.UserConfig.constructor_default();
    options.configure?.(config);

    const monitors = store.readMonitors().map(({ key, bytes }) => {
      const read = ldk.UtilMethods.constructor_C2Tuple_ThirtyTwoBytesChannelMonitorZ_read(bytes, entropy, keys.as_SignerProvider());
      if (!(read instanceof ldk.Result_C2Tuple_ThirtyTwoBytesChannelMonitorZDecodeErrorZ_OK)) {
        throw new ChannelEngineError('corrupt-state', `channel monitor ${key} does not decode`);
      }
      return read.res.get_b();
    });

    let chanman: ldk.ChannelManager;
    const managerBytes = store.readManager();
    if (managerBytes) {
      const read = ldk.UtilMethods.constructor_C2Tuple_ThirtyTwoBytesChannelManagerZ_read(
        managerBytes,
        entropy,
        keys.as_NodeSigner(),
        keys.as_SignerProvider(),
        fee,
        chainMonitor.as_Watch(),
        bcast,
        router.as_Router(),
        messageRouter.as_MessageRouter(),
        logger,
        config,
        monitors,
      );
      if (!(read instanceof ldk.Result_C2Tuple_ThirtyTwoBytesChannelManagerZDecodeErrorZ_OK)) {
        throw new ChannelEngineError('corrupt-state', 'channel manager does not decode (or does not match the monitors)');
      }
      chanman = read.res.get_b();
    } else {
      if (monitors.length > 0) {
        // Cannot happen through this engine (the manager is written before any channel exists).
        throw new ChannelEngineError('corrupt-state', 'channel monitors without a channel manager: refusing to start');
      }
      const tip = await chain.tip();
      const params = ldk.ChainParameters.constructor_new(network, ldk.BestBlock.constructor_new(tip.hash, tip.height));
      chanman = ldk.ChannelManager.constructor_new(
        fee,
        chainMonitor.as_Watch(),
        bcast,
        router.as_Router(),
        messageRouter.as_MessageRouter(),
        logger,
        entropy,
        keys.as_NodeSigner(),
        keys.as_SignerProvider(),
        config,
        params,
        Math.floor(now / 1000),
      );
      store.writeManager(chanman.write());
    }

    const engine = new LdkChannelEngine(options, store, keys, chanman, chainMonitor, { fee, broadcaster: bcast, logger }, log);
    engine.checkIdentity();
    await engine.initialSync(monitors);
    for (const monitor of monitors) {
      const outpoint = monitor.get_funding_txo().get_a();
      const watched = chainMonitor.as_Watch().watch_channel(outpoint, monitor);
      if (!watched.is_ok()) throw new ChannelEngineError('corrupt-state', `could not watch channel ${outpointText(outpoint)}`);
    }
    engine.unsubscribeTip = chain.onTip(() => engine.syncChain());
    const tick = options.tickIntervalMs ?? DEFAULTS.tickIntervalMs;
    engine.tickTimer = setInterval(() => engine.tick(), tick);
    engine.tickTimer.unref();
    engine.flush();
    return engine;
  }

  // ---- identity -------------------------------------------------------------------------

  nodeId(): Uint8Array {
    return this.chanman.get_our_node_id();
  }

  /** The node secret key (BOLT 8 static key) for fronts that hold it. */
  nodeSecret(): Uint8Array {
    return this.keys.get_node_secret_key();
  }

  /** BOLT 8 static-key ECDH (SHA-256 of the shared point) for keyless fronts. */
  ecdh(point: Uint8Array): Uint8Array {
    return ldkEcdh(this.keys, point);
  }

  private checkIdentity(): void {
    const fromSigner = this.keys.as_NodeSigner().get_node_id(ldk.Recipient.LDKRecipient_Node);
    if (!(fromSigner instanceof ldk.Result_PublicKeyNoneZ_OK) || !sameBytes(fromSigner.res, this.nodeId())) {
      throw new ChannelEngineError('identity-mismatch', 'the channel manager and the key manager disagree on the node id');
    }
  }

  // ---- ChannelEngine ----------------------------------------------------------------------

  /** LDK's init features as a plain BOLT 9 bitfield (big-endian, no length prefix). */
  initFeatures(): Uint8Array {
    const written = this.withHandler((h) => h.provided_init_features(this.nodeId()).write());
    return written.slice(2); // Features serialize as u16 length + bytes
  }

  async peerConnected(peer: ConnectedPeer): Promise<void> {
    this.assertOpen();
    const id = hex(peer.nodeId);
    if (this.connected.has(id)) this.disconnectInternally(peer.nodeId); // never two peer_connected in a row
    if (peer.init.length < 2 || ((peer.init[0]! << 8) | peer.init[1]!) !== MessageType.init) {
      throw new ChannelEngineError('peer-rejected', 'peer init is not an init message');
    }
    const init = ldk.Init.constructor_read(peer.init.subarray(2));
    if (!(init instanceof ldk.Result_InitDecodeErrorZ_OK)) throw new ChannelEngineError('peer-rejected', 'peer init does not decode');
    const networks = init.res.get_networks();
    if (networks instanceof ldk.Option_CVec_ThirtyTwoBytesZZ_Some) {
      const ours = chainHash(this.options.chain.network);
      if (!networks.some.some((h) => sameBytes(h, ours))) throw new ChannelEngineError('peer-rejected', 'peer is on another chain');
    }
    const accepted = this.withHandler((h) => h.peer_connected(peer.nodeId, init.res, peer.inbound));
    if (!accepted.is_ok()) throw new ChannelEngineError('peer-rejected', 'LDK refused the peer (missing required features)');
    this.connected.add(id);
    this.flush();
  }

  peerDisconnected(nodeId: Uint8Array): void {
    if (this.closed) return;
    if (this.connected.has(hex(nodeId))) this.disconnectInternally(nodeId);
    this.flush();
  }

  handleMessage(nodeId: Uint8Array, message: Uint8Array): void {
    if (this.closed || !this.connected.has(hex(nodeId))) return;
    const inbound = decodeInbound(message);
    switch (inbound.kind) {
      case 'channel': {
        this.withHandler((h) => {
          h.message_received();
          inbound.deliver(h, nodeId);
        });
        break;
      }
      case 'error': {
        this.withHandler((h) => h.handle_error(nodeId, inbound.message));
        // As LDK's PeerManager: an error for channel 0 (all channels) ends the connection.
        if (inbound.message.get_channel_id().is_zero()) this.requestDisconnect(nodeId, `peer error: ${inbound.message.get_data()}`);
        break;
      }
      case 'warning':
        this.log.info({ peer: hex(nodeId), warning: inbound.message.get_data() }, 'peer warning');
        break;
      case 'malformed':
        // As LDK's PeerManager: a warning, then the connection goes.
        this.send(nodeId, [warningMessage(`Unreadable ${inbound.name}: ${inbound.reason}`)]);
        this.requestDisconnect(nodeId, `malformed ${inbound.name} (${inbound.reason})`);
        break;
      case 'unknown-even':
        this.requestDisconnect(nodeId, `unknown even message type ${(message[0]! << 8) | message[1]!}`);
        break;
      case 'ignored':
        break;
    }
    this.flush();
  }

  hasChannelWith(nodeId: Uint8Array): boolean {
    return this.chanman.list_channels_with_counterparty(nodeId).length > 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.tickTimer);
    clearTimeout(this.forwardTimer);
    this.unsubscribeTip?.();
    await this.chainQueue.catch(() => undefined);
    for (const p of this.payments.values()) p.reject(new ChannelEngineError('closed', 'engine closed'));
    this.payments.clear();
    this.store.writeManager(this.chanman.write());
    this.options.onClosed?.();
  }

  /** channels, open, close, invoice, pay (see ldk-admin.ts). */
  adminCommands(): ChannelAdminCommands {
    return ldkAdminCommands(this);
  }

  info(): Record<string, unknown> {
    const channels = this.closed ? [] : this.chanman.list_channels();
    return {
      channelEngine: 'ldk',
      channels: channels.length,
      usableChannels: channels.filter((c) => c.get_is_usable()).length,
      blockHeight: this.best.height,
    };
  }

  // ---- admin ------------------------------------------------------------------------------

  listChannels(): ChannelInfo[] {
    return this.chanman.list_channels().map((c) => {
      const scid = someU64(c.get_short_channel_id());
      const funding = c.get_funding_txo();
      const shutdown = c.get_channel_shutdown_state();
      const shuttingDown =
        shutdown instanceof ldk.Option_ChannelShutdownStateZ_Some &&
        shutdown.some !== ldk.ChannelShutdownState.LDKChannelShutdownState_NotShuttingDown;
      const state: ChannelState = shuttingDown
        ? 'closing'
        : c.get_is_usable()
          ? 'usable'
          : c.get_is_channel_ready()
            ? 'ready'
            : isPresent(funding)
              ? 'awaiting-confirmation'
              : 'negotiating';
      return {
        channelId: hex(c.get_channel_id().get_a()),
        peer: hex(c.get_counterparty().get_node_id()),
        state,
        capacitySats: c.get_channel_value_satoshis(),
        outboundMsat: c.get_outbound_capacity_msat(),
        inboundMsat: c.get_inbound_capacity_msat(),
        shortChannelId: scid === undefined ? undefined : scidText(scid),
        fundingTxo: isPresent(funding) ? outpointText(funding) : undefined,
        confirmations: someU32(c.get_confirmations()),
        // The bindings hand booleans over as 0/1 numbers.
        isOutbound: Boolean(c.get_is_outbound()),
        isPublic: Boolean(c.get_is_announced()),
      };
    });
  }

  /** Opens a channel to a connected peer; funding comes from the chain source's wallet. Returns the temporary channel id. */
  openChannel(nodeId: Uint8Array, sats: bigint | number, options: { pushMsat?: bigint; announce?: boolean } = {}): string {
    this.assertOpen();
    if (!(nodeId instanceof Uint8Array) || nodeId.length !== 33) throw new ChannelEngineError('bad-input', 'node id must be 33 bytes');
    let override: ldk.UserConfig | null = null;
    if (options.announce !== undefined) {
      override = this.chanman.get_current_default_configuration();
      override.get_channel_handshake_config().set_announce_for_forwarding(options.announce);
    }
    // The bindings reject u128 values >= 2^124 (their bound check is off by 4 bits): use 120 random bits.
    const userChannelId = BigInt(`0x${randomBytes(15).toString('hex')}`);
    const result = this.chanman.create_channel(nodeId, BigInt(sats), options.pushMsat ?? 0n, userChannelId, null, override);
    if (!(result instanceof ldk.Result_ChannelIdAPIErrorZ_OK)) {
      throw new ChannelEngineError('api-error', `open: ${apiError((result as ldk.Result_ChannelIdAPIErrorZ_Err).err)}`);
    }
    this.flush();
    return hex(result.res.get_a());
  }

  /** Cooperative close (or force close: broadcasts our latest commitment). */
  closeChannel(channelId: string, options: { force?: boolean } = {}): void {
    this.assertOpen();
    const details = this.chanman.list_channels().find((c) => hex(c.get_channel_id().get_a()) === channelId.toLowerCase());
    if (!details) throw new ChannelEngineError('unknown-channel', `no channel ${channelId}`);
    const id = details.get_channel_id();
    const peer = details.get_counterparty().get_node_id();
    const result = options.force
      ? this.chanman.force_close_broadcasting_latest_txn(id, peer, 'closed by the operator')
      : this.chanman.close_channel(id, peer);
    if (!(result instanceof ldk.Result_NoneAPIErrorZ_OK)) {
      throw new ChannelEngineError('api-error', `close: ${apiError((result as ldk.Result_NoneAPIErrorZ_Err).err)}`);
    }
    this.flush();
  }

  /** A BOLT 11 invoice for `msat` (undefined: any amount). */
  createInvoice(msat: bigint | number | undefined, description = '', expirySecs = 3600): string {
    this.assertOpen();
    const amount = msat === undefined ? ldk.Option_u64Z.constructor_none() : ldk.Option_u64Z.constructor_some(BigInt(msat));
    const result = ldk.UtilMethods.constructor_create_invoice_from_channelmanager(
      this.chanman,
      amount,
      description,
      expirySecs,
      ldk.Option_u16Z.constructor_none(),
    );
    if (!(result instanceof ldk.Result_Bolt11InvoiceSignOrCreationErrorZ_OK)) throw new ChannelEngineError('api-error', 'invoice creation failed');
    return result.res.to_str();
  }

  /** Pays a BOLT 11 invoice; resolves when LDK reports the payment sent, rejects when it failed. */
  pay(invoice: string, amountMsat?: bigint): Promise<PaymentResult> {
    this.assertOpen();
    const parsed = ldk.Bolt11Invoice.constructor_from_str(invoice.trim());
    if (!(parsed instanceof ldk.Result_Bolt11InvoiceParseOrSemanticErrorZ_OK)) throw new ChannelEngineError('bad-input', 'invoice does not parse');
    const params =
      amountMsat === undefined
        ? ldk.UtilMethods.constructor_payment_parameters_from_invoice(parsed.res)
        : ldk.UtilMethods.constructor_payment_parameters_from_variable_amount_invoice(parsed.res, amountMsat);
    if (!(params instanceof ldk.Result_C3Tuple_ThirtyTwoBytesRecipientOnionFieldsRouteParametersZNoneZ_OK)) {
      throw new ChannelEngineError('bad-input', amountMsat === undefined ? 'invoice has no amount: give one' : 'invoice already has an amount');
    }
    const paymentId = new Uint8Array(randomBytes(32));
    const key = hex(paymentId);
    const done = new Promise<PaymentResult>((resolve, reject) => this.payments.set(key, { resolve, reject }));
    const sent = this.chanman.send_payment(params.res.get_a(), params.res.get_b(), paymentId, params.res.get_c(), ldk.Retry.constructor_attempts(3));
    if (!sent.is_ok()) {
      this.payments.delete(key);
      const reason = sent instanceof ldk.Result_NoneRetryableSendFailureZ_Err ? ldk.RetryableSendFailure[sent.err] : 'unknown';
      throw new ChannelEngineError('payment-failed', `payment not sent: ${reason}`);
    }
    this.flush();
    return done;
  }

  // ---- internals --------------------------------------------------------------------------

  /** The engine's one ChannelMessageHandler, unpinning the call's arguments afterwards. */
  private withHandler<R>(fn: (h: ldk.ChannelMessageHandler) => R): R {
    return callUnpinned(this.messageHandler, fn);
  }

  private assertOpen(): void {
    if (this.closed) throw new ChannelEngineError('closed', 'engine closed');
  }

  private disconnectInternally(nodeId: Uint8Array): void {
    this.connected.delete(hex(nodeId));
    this.withHandler((h) => h.peer_disconnected(nodeId));
  }

  /** Asks the host to drop the session; LDK learns of it now, so nothing more goes to that session. */
  private requestDisconnect(nodeId: Uint8Array, reason: string): void {
    if (!this.connected.has(hex(nodeId))) return;
    this.disconnectInternally(nodeId);
    this.options.host.disconnectPeer(nodeId, reason);
  }

  private send(nodeId: Uint8Array, messages: Uint8Array[]): void {
    if (!this.connected.has(hex(nodeId))) return; // LDK resends what matters at channel_reestablish
    for (const m of messages) this.options.host.sendToPeer(nodeId, m);
  }

  private tick(): void {
    if (this.closed) return;
    this.chanman.timer_tick_occurred();
    this.chainMonitor.rebroadcast_pending_claims();
    this.flush();
  }

  /**
   * Drains LDK until it has nothing more to say: events first (acting on them may queue messages),
   * then the queued messages, in order. Re-entrant calls just ask the running loop for another round.
   */
  flush(): void {
    if (this.closed) return;
    if (this.flushing) {
      this.flushAgain = true;
      return;
    }
    this.flushing = true;
    try {
      do {
        this.flushAgain = false;
        const events = this.takeEvents();
        for (const event of events) this.onLdkEvent(event);
        const msgEvents = callUnpinned(this.msgEventsProvider, (p) => p.get_and_clear_pending_msg_events());
        for (const e of msgEvents) this.deliverOutbound(e);
        if (events.length > 0 || msgEvents.length > 0) this.flushAgain = true;
      } while (this.flushAgain);
      if (this.chanman.get_and_clear_needs_persistence()) this.store.writeManager(this.chanman.write());
    } finally {
      this.flushing = false;
    }
  }

  private takeEvents(): ldk.Event[] {
    callUnpinned(this.monitorEvents, (p) => p.process_pending_events(this.eventHandler));
    callUnpinned(this.managerEvents, (p) => p.process_pending_events(this.eventHandler));
    return this.collected.splice(0);
  }

  private deliverOutbound(e: ldk.MessageSendEvent): void {
    const out = encodeOutbound(e);
    if (out.kind === 'send') {
      this.send(out.nodeId, out.messages);
      if (out.disconnect) this.requestDisconnect(out.nodeId, 'LDK asked to disconnect');
    } else if (out.kind === 'broadcast') {
      this.options.onGossip?.(out.messages);
    }
  }

  private emit(event: EngineEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch (error) {
      this.log.warn({ err: error }, 'engine event listener threw');
    }
  }

  private onLdkEvent(e: ldk.Event): void {
    if (e instanceof ldk.Event_FundingGenerationReady) {
      void this.fund(e.temporary_channel_id, e.counterparty_node_id, e.output_script, e.channel_value_satoshis);
    } else if (e instanceof ldk.Event_PaymentClaimable) {
      const preimage = e.purpose.preimage();
      if (preimage instanceof ldk.Option_ThirtyTwoBytesZ_Some) this.chanman.claim_funds(preimage.some);
      else this.chanman.fail_htlc_backwards(e.payment_hash);
    } else if (e instanceof ldk.Event_PaymentClaimed) {
      this.emit({ type: 'payment-received', paymentHash: hex(e.payment_hash), amountMsat: e.amount_msat });
    } else if (e instanceof ldk.Event_PaymentSent) {
      const id = e.payment_id instanceof ldk.Option_ThirtyTwoBytesZ_Some ? hex(e.payment_id.some) : '';
      const feeMsat = someU64(e.fee_paid_msat);
      this.payments.get(id)?.resolve({ paymentId: id, paymentHash: hex(e.payment_hash), preimage: hex(e.payment_preimage), feeMsat });
      this.payments.delete(id);
      this.emit({ type: 'payment-sent', paymentId: id, paymentHash: hex(e.payment_hash), feeMsat });
    } else if (e instanceof ldk.Event_PaymentFailed) {
      const id = hex(e.payment_id);
      const reason =
        e.reason instanceof ldk.Option_PaymentFailureReasonZ_Some ? (ldk.PaymentFailureReason[e.reason.some] ?? 'unknown') : 'unknown';
      this.payments.get(id)?.reject(new ChannelEngineError('payment-failed', `payment failed: ${reason}`));
      this.payments.delete(id);
      this.emit({ type: 'payment-failed', paymentId: id, reason });
    } else if (e instanceof ldk.Event_PendingHTLCsForwardable) {
      this.scheduleForwards();
    } else if (e instanceof ldk.Event_PaymentForwarded) {
      this.emit({ type: 'payment-forwarded', feeMsat: someU64(e.total_fee_earned_msat) });
    } else if (e instanceof ldk.Event_ChannelPending) {
      this.emit({ type: 'channel-pending', channelId: hex(e.channel_id.get_a()), peer: hex(e.counterparty_node_id), fundingTxo: outpointText(e.funding_txo) });
    } else if (e instanceof ldk.Event_ChannelReady) {
      this.emit({ type: 'channel-ready', channelId: hex(e.channel_id.get_a()), peer: hex(e.counterparty_node_id) });
    } else if (e instanceof ldk.Event_ChannelClosed) {
      this.emit({ type: 'channel-closed', channelId: hex(e.channel_id.get_a()), peer: hex(e.counterparty_node_id), reason: e.reason.to_str() });
    } else if (e instanceof ldk.Event_ConnectionNeeded) {
      this.emit({ type: 'connection-needed', peer: hex(e.node_id) });
    } else if (e instanceof ldk.Event_SpendableOutputs) {
      // Sweeping is the wallet's job (not built yet): keep the descriptors for it.
      this.log.warn({ channel: hex(e.channel_id.get_a()), outputs: e.outputs.length }, 'spendable outputs to sweep');
      this.emit({ type: 'spendable-outputs', channelId: hex(e.channel_id.get_a()), descriptors: e.outputs.map((o) => o.write()) });
    } else {
      this.log.debug({ event: e.constructor.name }, 'LDK event not acted upon');
    }
  }

  private scheduleForwards(): void {
    if (this.forwardTimer) return;
    this.forwardTimer = setTimeout(() => {
      this.forwardTimer = undefined;
      if (this.closed) return;
      this.chanman.process_pending_htlc_forwards();
      this.flush();
    }, this.options.forwardDelayMs ?? DEFAULTS.forwardDelayMs);
    this.forwardTimer.unref();
  }

  private async fund(tempId: ldk.ChannelId, peer: Uint8Array, script: Uint8Array, sats: bigint): Promise<void> {
    const scriptCopy = Uint8Array.from(script);
    try {
      const tx = await this.options.chain.fundingTransaction(scriptCopy, sats);
      if (this.closed) return;
      const result = this.chanman.funding_transaction_generated(tempId, peer, tx);
      if (!result.is_ok()) this.log.warn({ err: apiError((result as ldk.Result_NoneAPIErrorZ_Err).err) }, 'funding refused by LDK');
    } catch (error) {
      if (this.closed) return;
      this.log.error({ err: error }, 'could not fund channel: abandoning it');
      this.chanman.force_close_without_broadcasting_txn(tempId, peer, 'funding failed');
    }
    this.flush();
  }

  // ---- chain ------------------------------------------------------------------------------

  /**
   * After a restart the manager and each monitor may stand at different blocks (a crash between
   * their writes): each is brought to the tip alone, before the monitors join the ChainMonitor.
   */
  private async initialSync(monitors: ldk.ChannelMonitor[]): Promise<void> {
    const { fee, broadcaster: bcast, logger } = this.ldkParts;
    for (const monitor of monitors) {
      const best = monitor.current_best_block();
      await this.walk(
        { hash: best.get_block_hash(), height: best.get_height() },
        (block, height) => {
          const parsed = parseBlock(block);
          const txdata = parsed.txs.map(({ index, tx }) => ldk.TwoTuple_usizeTransactionZ.constructor_new(index, tx));
          monitor.block_connected(parsed.header, txdata, height, bcast, fee, logger);
        },
        (header, height) => monitor.block_disconnected(header, height, bcast, fee, logger),
      );
    }
    const listen = this.chanman.as_Listen();
    this.best = await this.walk(
      this.best,
      (block, height) => listen.block_connected(block, height),
      (header, height) => listen.block_disconnected(header, height),
    );
  }

  /** Follows the tip with the manager and the ChainMonitor together, one block at a time. */
  private syncChain(): void {
    this.chainQueue = this.chainQueue
      .then(async () => {
        if (this.closed) return;
        const monitor = this.chainMonitor.as_Listen();
        const manager = this.chanman.as_Listen();
        this.best = await this.walk(
          this.best,
          (block, height) => {
            monitor.block_connected(block, height);
            manager.block_connected(block, height);
            this.flush();
          },
          (header, height) => {
            monitor.block_disconnected(header, height);
            manager.block_disconnected(header, height);
            this.flush();
          },
        );
      })
      .catch((error: unknown) => this.log.error({ err: error }, 'chain sync failed'));
  }

  /** Resolves when every block seen so far has been given to LDK (tests, and orderly shutdown). */
  whenChainSynced(): Promise<void> {
    return this.chainQueue;
  }

  /** Disconnects blocks no longer in the best chain, then connects up to the tip. */
  private async walk(
    from: BlockRef,
    connect: (block: Uint8Array, height: number) => void,
    disconnect: (header: Uint8Array, height: number) => void,
  ): Promise<BlockRef> {
    const { chain } = this.options;
    let at = from;
    for (;;) {
      const hashThere = await chain.blockHashAt(at.height);
      if (hashThere && sameBytes(hashThere, at.hash)) break;
      if (at.height === 0) throw new ChannelEngineError('chain-error', 'chain source disagrees on the genesis block');
      const stale = await chain.block(at.hash); // a reorged-out block: the source must still know it
      const header = stale.subarray(0, HEADER_LENGTH);
      disconnect(header, at.height);
      at = { hash: header.slice(4, 36), height: at.height - 1 };
    }
    for (;;) {
      if (this.closed) return at;
      const next = await chain.blockHashAt(at.height + 1);
      if (!next) return at;
      const block = await chain.block(next);
      const header = block.subarray(0, HEADER_LENGTH);
      if (!sameBytes(header.subarray(4, 36), at.hash) || !sameBytes(blockHash(header), next)) {
        return at; // the tip moved under us: the next notification starts again from here
      }
      connect(block, at.height + 1);
      at = { hash: next, height: at.height + 1 };
    }
  }
}

/** Starts the LDK engine; see LdkEngineOptions. */
export function startLdkEngine(options: LdkEngineOptions): Promise<LdkChannelEngine> {
  return LdkChannelEngine.start(options);
}
