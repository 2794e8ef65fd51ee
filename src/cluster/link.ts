import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { ClusterProtocolError } from './errors.js';
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, FrameDecoder } from './frames.js';
import { decodeMessage, encodeMessagePayload, frameTypeOf, type ClusterMessage, type ErrorMessage, type FrontLoad } from './messages.js';

/**
 * One end of a cluster link: typed messages over a (TLS) socket, with a bounded outgoing queue,
 * pausable reading, and heartbeats that detect a silent peer.
 *
 * Backpressure contract: `send()` queues the message and returns false once the queue is above its
 * high-water mark (bytes or frames); the caller must then stop feeding it (pause its peers, stop
 * reading...) until 'drain'. A caller that keeps sending anyway hits the hard cap and the link closes
 * with 'queue-overflow': memory never grows without bound.
 */

export interface ClusterLinkOptions {
  /** Largest frame accepted or sent (type + payload). Default 1 MiB. */
  maxFrameBytes?: number;
  /** send() returns false above this many queued bytes. Default 1 MiB. */
  highWaterBytes?: number;
  /** send() returns false above this many queued frames. Default 1024. */
  highWaterFrames?: number;
  /** Hard cap in bytes: beyond it the link closes ('queue-overflow'). Default 16 MiB. */
  maxQueuedBytes?: number;
  /** Hard cap in frames. Default 16384. */
  maxQueuedFrames?: number;
  /** A heartbeat is sent this often once started. Default 1000 ms. */
  heartbeatIntervalMs?: number;
  /** Silence (no byte received) for this long means the peer is dead. Default 3000 ms. */
  deadAfterMs?: number;
  /** Load carried by our heartbeats (fronts). */
  loadProvider?: () => FrontLoad | undefined;
  /** After a graceful end or an error frame, the socket is destroyed if the peer has not closed by then. Default 1000 ms. */
  closeGraceMs?: number;
  /** For logs and errors. */
  label?: string;
}

export const DEFAULT_LINK_OPTIONS = {
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  highWaterBytes: 1024 * 1024,
  highWaterFrames: 1024,
  maxQueuedBytes: 16 * 1024 * 1024,
  maxQueuedFrames: 16384,
  heartbeatIntervalMs: 1000,
  deadAfterMs: 3000,
  closeGraceMs: 1000,
} as const;

export type ClusterLinkCloseReason =
  /** close() was called. */
  | 'local'
  /** The server replaced this link with a newer one from the same front. */
  | 'replaced'
  /** The peer ended the connection. */
  | 'remote-closed'
  /** The peer sent an `error` frame. */
  | 'remote-error'
  /** Nothing received for deadAfterMs. */
  | 'heartbeat-timeout'
  /** The peer broke the framing or message rules (the error is a ClusterProtocolError). */
  | 'protocol-error'
  | 'socket-error'
  /** The caller ignored backpressure and the hard queue cap was reached. */
  | 'queue-overflow';

export interface ClusterLinkClosed {
  reason: ClusterLinkCloseReason;
  message: string;
  error?: Error;
}

export interface ClusterLinkEvents {
  message: [ClusterMessage];
  drain: [];
  close: [ClusterLinkClosed];
}

export interface ClusterLinkStats {
  bytesSent: number;
  bytesReceived: number;
  framesSent: number;
  framesReceived: number;
}

export class ClusterLink extends EventEmitter<ClusterLinkEvents> {
  private readonly options: Required<Omit<ClusterLinkOptions, 'loadProvider' | 'label'>> & Pick<ClusterLinkOptions, 'loadProvider'>;
  readonly label: string;
  private readonly decoder: FrameDecoder;
  private queuedBytes = 0;
  private queuedFrames = 0;
  private needDrain = false;
  private paused = false;
  private started = false;
  private closedWith: ClusterLinkClosed | undefined;
  private lastReceivedAt = Date.now();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private deadTimer: NodeJS.Timeout | undefined;
  private socketError: Error | undefined;
  readonly stats: ClusterLinkStats = { bytesSent: 0, bytesReceived: 0, framesSent: 0, framesReceived: 0 };

  constructor(
    readonly socket: Socket,
    options: ClusterLinkOptions = {},
  ) {
    super();
    this.options = { ...DEFAULT_LINK_OPTIONS, ...stripUndefined(options) };
    this.label = options.label ?? `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.decoder = new FrameDecoder(this.options.maxFrameBytes);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (error) => {
      this.socketError ??= error;
    });
    socket.on('close', () => this.onSocketClose());
    if (socket.destroyed) queueMicrotask(() => this.onSocketClose());
  }

  /** True once the queue is above its high-water mark, until 'drain'. */
  get writableNeedDrain(): boolean {
    return this.needDrain;
  }

  get queued(): { bytes: number; frames: number } {
    return { bytes: this.queuedBytes, frames: this.queuedFrames };
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  get closeInfo(): ClusterLinkClosed | undefined {
    return this.closedWith;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Changes heartbeat timing (the front adopts the back's values from welcome). */
  configureHeartbeat(heartbeatIntervalMs: number, deadAfterMs: number): void {
    if (!(heartbeatIntervalMs > 0) || !(deadAfterMs > heartbeatIntervalMs)) {
      throw new RangeError(`heartbeat ${heartbeatIntervalMs} ms must be positive and below deadAfter ${deadAfterMs} ms`);
    }
    this.options.heartbeatIntervalMs = heartbeatIntervalMs;
    this.options.deadAfterMs = deadAfterMs;
    if (this.started && !this.closed) {
      this.stopTimers();
      this.startTimers();
    }
  }

  /** Starts heartbeats and death detection (after the hello/welcome exchange). */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.lastReceivedAt = Date.now();
    this.startTimers();
  }

  /**
   * Queues a message. Returns false when the caller should wait for 'drain' (the message is queued),
   * or when the link is closed (the message is dropped; 'close' says why).
   * Throws ClusterProtocolError('frame-too-large') or RangeError for a message that cannot be encoded.
   */
  send(message: ClusterMessage): boolean {
    if (this.closed) return false;
    const frame = encodeFrame(frameTypeOf(message.type), encodeMessagePayload(message), this.options.maxFrameBytes);
    return this.write(frame);
  }

  /** Stops delivering messages (and reading the socket) until resume(). Death detection is suspended meanwhile. */
  pause(): void {
    if (this.paused || this.closed) return;
    this.paused = true;
    this.socket.pause();
    this.clearDeadTimer();
  }

  resume(): void {
    if (!this.paused || this.closed) return;
    this.paused = false;
    this.lastReceivedAt = Date.now();
    if (this.started) this.armDeadTimer();
    this.deliverFrames();
    if (!this.paused && !this.closed) this.socket.resume();
  }

  /** Closes the link. With a reason other than 'local', the peer is told by an `error` frame first. */
  close(reason: 'local' | 'replaced' = 'local', detail?: string): void {
    if (this.closed) return;
    const message = detail ?? (reason === 'local' ? 'closed' : 'replaced by a newer link from the same front');
    if (reason === 'local') this.finish({ reason, message }, 'graceful');
    else this.failWith({ reason, message }, { type: 'error', code: reason, text: message });
  }

  /** Closes because the peer broke the protocol: tells it why, then closes. */
  protocolError(error: ClusterProtocolError): void {
    this.failWith({ reason: 'protocol-error', message: error.message, error }, { type: 'error', code: error.code, text: error.message });
  }

  private write(frame: Uint8Array): boolean {
    const o = this.options;
    if (this.queuedBytes + frame.length > o.maxQueuedBytes || this.queuedFrames + 1 > o.maxQueuedFrames) {
      this.finish(
        { reason: 'queue-overflow', message: `outgoing queue full (${this.queuedBytes} bytes, ${this.queuedFrames} frames): backpressure ignored` },
        'destroy',
      );
      return false;
    }
    this.queuedBytes += frame.length;
    this.queuedFrames += 1;
    this.socket.write(frame, () => this.onWritten(frame.length));
    if (this.queuedBytes > o.highWaterBytes || this.queuedFrames > o.highWaterFrames) this.needDrain = true;
    return !this.needDrain;
  }

  private onWritten(length: number): void {
    this.queuedBytes -= length;
    this.queuedFrames -= 1;
    this.stats.bytesSent += length;
    this.stats.framesSent += 1;
    // Hysteresis: wait for half the high-water mark so 'drain' does not flap on every frame.
    if (
      this.needDrain &&
      !this.closed &&
      this.queuedBytes <= this.options.highWaterBytes / 2 &&
      this.queuedFrames <= this.options.highWaterFrames / 2
    ) {
      this.needDrain = false;
      this.emit('drain');
    }
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastReceivedAt = Date.now();
    this.stats.bytesReceived += chunk.length;
    try {
      this.decoder.push(chunk);
    } catch (error) {
      this.protocolError(error as ClusterProtocolError);
      return;
    }
    this.deliverFrames();
  }

  private deliverFrames(): void {
    while (!this.paused && !this.closed) {
      let message: ClusterMessage;
      try {
        const frame = this.decoder.next();
        if (!frame) return;
        message = decodeMessage(frame.type, frame.payload);
      } catch (error) {
        this.protocolError(error instanceof ClusterProtocolError ? error : new ClusterProtocolError('malformed', String(error)));
        return;
      }
      this.stats.framesReceived += 1;
      this.emit('message', message);
      if (message.type === 'error') this.onRemoteError(message);
    }
  }

  private onRemoteError(message: ErrorMessage): void {
    this.finish({ reason: 'remote-error', message: `peer error ${message.code}: ${message.text}` }, 'graceful');
  }

  private onEnd(): void {
    if (this.closed) return;
    try {
      this.decoder.finish();
    } catch (error) {
      this.finish({ reason: 'protocol-error', message: (error as Error).message, error: error as Error }, 'destroy');
      return;
    }
    this.finish({ reason: 'remote-closed', message: 'peer closed the link' }, 'destroy');
  }

  private onSocketClose(): void {
    if (this.closed) return;
    const error = this.socketError;
    this.finish(
      error ? { reason: 'socket-error', message: error.message, error } : { reason: 'remote-closed', message: 'connection closed' },
      'destroy',
    );
  }

  private failWith(closed: ClusterLinkClosed, notice: ErrorMessage): void {
    if (this.closed) return;
    try {
      // Best effort, bypassing the queue caps: the link is closing anyway.
      this.socket.write(encodeFrame(frameTypeOf('error'), encodeMessagePayload(notice)));
    } catch {
      // The socket may already be gone; closing is what matters.
    }
    this.finish(closed, 'graceful');
  }

  private finish(closed: ClusterLinkClosed, mode: 'graceful' | 'destroy'): void {
    if (this.closed) return;
    this.closedWith = closed;
    this.stopTimers();
    if (mode === 'destroy' || this.socket.destroyed) {
      this.socket.destroy();
    } else {
      this.socket.end();
      // Keep reading so the peer's FIN (or RST) can arrive; then the socket closes by itself.
      this.socket.resume();
      setTimeout(() => this.socket.destroy(), this.options.closeGraceMs).unref();
    }
    this.emit('close', closed);
  }

  private startTimers(): void {
    this.heartbeatTimer = setInterval(() => this.sendHeartbeat(), this.options.heartbeatIntervalMs);
    this.heartbeatTimer.unref();
    if (!this.paused) this.armDeadTimer();
  }

  private stopTimers(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    this.clearDeadTimer();
  }

  private sendHeartbeat(): void {
    if (this.closed) return;
    const load = this.options.loadProvider?.();
    const message: ClusterMessage = load ? { type: 'heartbeat', load } : { type: 'heartbeat' };
    // Heartbeats ignore the high-water mark (they are tiny), not the hard cap.
    this.write(encodeFrame(frameTypeOf('heartbeat'), encodeMessagePayload(message)));
  }

  /** One timer re-armed lazily: received bytes only update a timestamp, so busy links cost no timer churn. */
  private armDeadTimer(): void {
    this.clearDeadTimer();
    const wait = Math.max(0, this.lastReceivedAt + this.options.deadAfterMs - Date.now());
    this.deadTimer = setTimeout(() => this.checkDead(), wait);
    this.deadTimer.unref();
  }

  private clearDeadTimer(): void {
    if (this.deadTimer) clearTimeout(this.deadTimer);
    this.deadTimer = undefined;
  }

  private checkDead(): void {
    this.deadTimer = undefined;
    if (this.closed || this.paused) return;
    const silentFor = Date.now() - this.lastReceivedAt;
    if (silentFor >= this.options.deadAfterMs) {
      this.finish({ reason: 'heartbeat-timeout', message: `nothing received for ${silentFor} ms` }, 'destroy');
    } else {
      this.armDeadTimer();
    }
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
