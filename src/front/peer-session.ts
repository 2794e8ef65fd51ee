import { EventEmitter } from 'node:events';
import { randomInt } from 'node:crypto';
import type { NoiseConnection, TransportError } from '../lightning/transport/index.js';
import {
  decodeInit,
  decodeMessage,
  encodeError,
  encodeInit,
  encodePing,
  encodePong,
  peekMessageType,
  type InitMessage,
} from '../lightning/wire/messages.js';
import { isChannelMessage, isGossipMessage, MESSAGE_TYPES } from '../lightning/wire/types.js';
import { WireError } from '../lightning/wire/errors.js';
import type { Logger } from '../util/log.js';

/**
 * One peer's BOLT 1 life on a front, after BOLT 8: the init exchange, ping/pong liveness, and the
 * routing of every other message: BOLT 1 is handled here, gossip goes to the gossip handler, and
 * channel messages and unknown odd messages go to the back, in order.
 */
export interface PeerSessionSettings {
  chainHash: Uint8Array;
  /** Our init `features`. */
  initFeatures: Uint8Array;
  pingIntervalMs: number;
  pongTimeoutMs: number;
  initTimeoutMs: number;
}

export interface PeerSessionEvents {
  /** init exchanged and accepted: the peer's init message, raw. */
  ready: [init: Uint8Array];
  /** A message for the back (channel message, unknown odd type, error/warning). */
  forward: [message: Uint8Array];
  /** A gossip message (BOLT 7) for the front's gossip handling. */
  gossip: [message: Uint8Array];
  closed: [reason: string];
  /** Every message in either direction, for metrics (BOLT 1 traffic the session answers itself included). */
  wire: [direction: 'in' | 'out', message: Uint8Array];
}

/** Our own policy on the peer's init; returns a reason to refuse, or undefined. */
export type InitPolicy = (init: InitMessage) => string | undefined;

const MAX_PONG_BYTES = 65531; // BOLT 1: reply only when num_pong_bytes < 65532
const ZERO_CHANNEL_ID = new Uint8Array(32);

export class PeerSession extends EventEmitter<PeerSessionEvents> {
  readonly nodeIdHex: string;
  #ready = false;
  /** The peer's init message once received. */
  remoteInit: Uint8Array | undefined;
  #closed = false;
  #lastReceivedAt = Date.now();
  #pingSentAt: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #initTimer: NodeJS.Timeout | undefined;
  bytesIn = 0;
  bytesOut = 0;

  constructor(
    readonly connection: NoiseConnection,
    readonly sessionId: number,
    readonly direction: 'inbound' | 'outbound',
    readonly remoteAddress: string,
    private readonly settings: PeerSessionSettings,
    private readonly initPolicy: InitPolicy,
    private readonly log: Logger,
  ) {
    super();
    this.nodeIdHex = Buffer.from(connection.remoteNodeId).toString('hex');
    connection.on('message', (message) => this.#onMessage(message));
    connection.on('close', (error) => this.#onClose(error));
  }

  get ready(): boolean {
    return this.#ready;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends our init and waits for theirs. */
  start(remoteAddrDescriptor?: Uint8Array): void {
    this.#send(
      encodeInit({
        type: 'init',
        globalFeatures: new Uint8Array(0),
        features: this.settings.initFeatures,
        networks: [this.settings.chainHash],
        ...(remoteAddrDescriptor ? { remoteAddr: remoteAddrDescriptor } : {}),
      }),
    );
    this.#initTimer = setTimeout(() => this.close(`no init within ${this.settings.initTimeoutMs} ms`), this.settings.initTimeoutMs);
  }

  /** Sends one whole message (type included). Returns false when the socket is congested. */
  send(message: Uint8Array): boolean {
    return this.#send(message);
  }

  /** Sends a BOLT 1 error (channel id zero: the whole connection) and closes. */
  fail(text: string, kind: 'error' | 'warning' = 'error'): void {
    this.#send(encodeError({ type: kind, channelId: ZERO_CHANNEL_ID, data: new TextEncoder().encode(text) }));
    this.close(text);
  }

  close(reason: string): void {
    if (this.#closed) return;
    this.#finish(reason);
    this.connection.close();
  }

  pause(): void {
    this.connection.pause();
  }

  resume(): void {
    this.connection.resume();
  }

  #send(message: Uint8Array): boolean {
    if (this.#closed || this.connection.isClosed) return true;
    try {
      this.bytesOut += message.length;
      this.emit('wire', 'out', message);
      return this.connection.send(message);
    } catch (error) {
      this.log.warn({ err: error, peer: this.nodeIdHex }, 'could not send to peer');
      return true;
    }
  }

  #onMessage(message: Uint8Array): void {
    if (this.#closed) return;
    this.#lastReceivedAt = Date.now();
    this.bytesIn += message.length;
    this.emit('wire', 'in', message);
    let type: number;
    try {
      type = peekMessageType(message);
    } catch {
      this.fail('message without a type');
      return;
    }
    if (!this.#ready) {
      this.#onInit(type, message);
      return;
    }
    switch (type) {
      case MESSAGE_TYPES.ping:
        this.#onPing(message);
        return;
      case MESSAGE_TYPES.pong:
        this.#pingSentAt = undefined;
        return;
      case MESSAGE_TYPES.init:
        this.log.debug({ peer: this.nodeIdHex }, 'ignoring a second init');
        return;
      case MESSAGE_TYPES.error:
      case MESSAGE_TYPES.warning:
        this.#onErrorOrWarning(type, message);
        return;
    }
    if (isGossipMessage(type)) {
      this.emit('gossip', message);
      return;
    }
    if ((type & 1) === 0 && !isChannelMessage(type)) {
      this.fail(`unknown even message type ${type}`);
      return;
    }
    this.emit('forward', message);
  }

  #onInit(type: number, message: Uint8Array): void {
    if (type !== MESSAGE_TYPES.init) {
      this.fail(`expected init first, got type ${type}`);
      return;
    }
    let init: InitMessage;
    try {
      init = decodeInit(message);
    } catch (error) {
      this.fail(`malformed init: ${(error as Error).message}`);
      return;
    }
    if (init.networks && !init.networks.some((hash) => Buffer.from(hash).equals(Buffer.from(this.settings.chainHash)))) {
      this.fail('no common chain: our chain is not in your init networks');
      return;
    }
    const refusal = this.initPolicy(init);
    if (refusal) {
      this.fail(refusal);
      return;
    }
    clearTimeout(this.#initTimer);
    this.#ready = true;
    this.remoteInit = message;
    this.#timer = setInterval(() => this.#checkLiveness(), Math.min(this.settings.pingIntervalMs, this.settings.pongTimeoutMs) / 2);
    this.#timer.unref();
    this.emit('ready', message);
  }

  #onPing(message: Uint8Array): void {
    const decoded = decodeMessage(message);
    if (decoded.type !== 'ping') return;
    if (decoded.numPongBytes <= MAX_PONG_BYTES) {
      this.#send(encodePong({ type: 'pong', ignored: new Uint8Array(decoded.numPongBytes) }));
    }
  }

  #onErrorOrWarning(type: number, message: Uint8Array): void {
    let text = '';
    let channelId: Uint8Array = ZERO_CHANNEL_ID;
    try {
      const decoded = decodeMessage(message);
      if (decoded.type === 'error' || decoded.type === 'warning') {
        text = Buffer.from(decoded.data).toString('utf8').replace(/[^\x20-\x7e]/g, '?').slice(0, 300);
        channelId = decoded.channelId;
      }
    } catch (error) {
      if (error instanceof WireError) {
        this.close('malformed error message');
        return;
      }
      throw error;
    }
    const kind = type === MESSAGE_TYPES.error ? 'error' : 'warning';
    this.log.info({ peer: this.nodeIdHex, kind, channelId: Buffer.from(channelId).toString('hex'), text }, `peer sent ${kind}`);
    // The channel engine needs errors about its channels; an error for all channels also ends the session.
    this.emit('forward', message);
    if (kind === 'error' && Buffer.from(channelId).equals(Buffer.from(ZERO_CHANNEL_ID))) this.close(`peer error: ${text}`);
  }

  #checkLiveness(): void {
    const now = Date.now();
    if (this.#pingSentAt !== undefined) {
      if (now - this.#pingSentAt >= this.settings.pongTimeoutMs && this.#lastReceivedAt <= this.#pingSentAt) {
        this.close(`no pong within ${this.settings.pongTimeoutMs} ms`);
      }
      return;
    }
    if (now - this.#lastReceivedAt >= this.settings.pingIntervalMs) {
      this.#pingSentAt = now;
      this.#send(encodePing({ type: 'ping', numPongBytes: randomInt(1, 64), ignored: new Uint8Array(0) }));
    }
  }

  #onClose(error: TransportError | undefined): void {
    this.#finish(error ? `transport: ${error.code}` : 'connection closed');
  }

  #finish(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#initTimer);
    clearInterval(this.#timer);
    this.emit('closed', reason);
  }
}
