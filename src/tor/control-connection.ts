/**
 * A Tor control protocol client (control-spec v1) over TCP or a unix socket.
 *
 * Commands are pipelined: each one is written at once and queued; Tor answers in order, so the first
 * synchronous reply belongs to the oldest queued command. Asynchronous replies (status 6xx) are never
 * matched to commands: they become 'event' events. A command that times out or is aborted keeps its
 * place in the queue (its late reply is read and dropped) so later replies stay matched.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import {
  ControlProtocolError,
  ControlReplyParser,
  replyText,
  type ControlReply,
  type ControlReplyParserOptions,
} from './control-reply.js';

export type ControlTarget = { host: string; port: number } | { path: string };

export interface TorControlConnectionOptions {
  /** Time allowed for the TCP/unix connect. */
  connectTimeoutMs: number;
  /** Default time allowed for each command's reply (per-command override in `command`). */
  commandTimeoutMs: number;
  parser: Partial<ControlReplyParserOptions>;
}

export const DEFAULT_CONTROL_CONNECTION_OPTIONS: TorControlConnectionOptions = {
  connectTimeoutMs: 10_000,
  commandTimeoutMs: 30_000,
  parser: {},
};

export type TorControlErrorCode =
  /** Tor answered with a 4xx/5xx status: see `status` and `replyText`. */
  | 'tor-reply'
  | 'connect-failed'
  | 'closed'
  | 'timeout'
  | 'aborted'
  /** Tor's bytes broke the reply grammar or the size bounds; the connection is closed. */
  | 'protocol'
  /** The command itself was unsafe to send (CR/LF would inject a second command). */
  | 'bad-command';

export class TorControlError extends Error {
  override readonly name = 'TorControlError';
  constructor(
    readonly code: TorControlErrorCode,
    message: string,
    /** Tor's status code for 'tor-reply' (e.g. 515 Authentication failed, 550 Onion address collision). */
    readonly status?: number,
    /** Tor's text of the end line for 'tor-reply'. */
    readonly replyText?: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }

  static fromReply(command: string, reply: ControlReply): TorControlError {
    const text = replyText(reply);
    return new TorControlError('tor-reply', `${command}: ${reply.status} ${text}`, reply.status, text);
  }
}

export interface TorControlEvent {
  /** The event keyword: first word of the first line (e.g. "CIRC", "SIGNAL", "HS_DESC"). */
  readonly keyword: string;
  readonly reply: ControlReply;
}

export interface CommandOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Resolve with 4xx/5xx replies instead of rejecting (the caller inspects `status`). */
  acceptErrorReplies?: boolean;
}

interface PendingCommand {
  readonly verb: string;
  settled: boolean;
  resolve(reply: ControlReply): void;
  reject(error: TorControlError): void;
}

type ControlEvents = {
  event: [TorControlEvent];
  /** Emitted once; the error is undefined after a close we asked for (close() or quit()). */
  close: [TorControlError | undefined];
};

export class TorControlConnection extends EventEmitter<ControlEvents> {
  private readonly parser: ControlReplyParser;
  private readonly queue: PendingCommand[] = [];
  private closeReason: TorControlError | undefined;
  private isClosed = false;
  private closedLocally = false;

  private constructor(
    private readonly socket: Duplex,
    private readonly options: TorControlConnectionOptions,
  ) {
    super();
    this.parser = new ControlReplyParser(options.parser);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: Error) => {
      this.closeReason ??= new TorControlError('closed', `control connection error: ${err.message}`, undefined, undefined, err);
    });
    socket.on('close', () => this.onClose());
  }

  /** Connects to a control port or socket. Rejects with TorControlError('connect-failed' | 'timeout' | 'aborted'). */
  static async connect(
    target: ControlTarget,
    options: Partial<TorControlConnectionOptions> = {},
    signal?: AbortSignal,
  ): Promise<TorControlConnection> {
    const opts = { ...DEFAULT_CONTROL_CONNECTION_OPTIONS, ...options };
    if (signal?.aborted) throw new TorControlError('aborted', 'connect aborted');
    const socket = 'path' in target ? net.connect({ path: target.path }) : net.connect({ host: target.host, port: target.port });
    const where = 'path' in target ? target.path : `${target.host}:${target.port}`;
    await new Promise<void>((resolve, reject) => {
      const finish = (error?: TorControlError): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.off('connect', onConnect);
        socket.off('error', onError);
        if (error) {
          socket.destroy();
          reject(error);
        } else resolve();
      };
      const onConnect = (): void => finish();
      const onError = (err: Error): void =>
        finish(new TorControlError('connect-failed', `cannot reach Tor control at ${where}: ${err.message}`, undefined, undefined, err));
      const onAbort = (): void => finish(new TorControlError('aborted', 'connect aborted'));
      const timer = setTimeout(
        () => finish(new TorControlError('timeout', `connect to Tor control at ${where} timed out after ${opts.connectTimeoutMs} ms`)),
        opts.connectTimeoutMs,
      );
      socket.once('connect', onConnect);
      socket.once('error', onError);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    socket.setNoDelay(true);
    return new TorControlConnection(socket, opts);
  }

  /** Wraps an already connected stream (tests, or a socket obtained elsewhere). */
  static fromStream(stream: Duplex, options: Partial<TorControlConnectionOptions> = {}): TorControlConnection {
    return new TorControlConnection(stream, { ...DEFAULT_CONTROL_CONNECTION_OPTIONS, ...options });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Sends one command line (without CRLF) and resolves with its reply. Rejects with
   * TorControlError('tor-reply') when Tor answers 4xx/5xx (unless acceptErrorReplies), or with
   * 'closed' / 'timeout' / 'aborted' / 'bad-command'.
   */
  command(line: string, options: CommandOptions = {}): Promise<ControlReply> {
    const verb = line.split(' ', 1)[0] ?? '';
    if (/[\r\n]/.test(line)) {
      return Promise.reject(new TorControlError('bad-command', `${verb}: command contains CR or LF`));
    }
    if (this.isClosed || this.closedLocally) {
      return Promise.reject(this.closeReason ?? new TorControlError('closed', `${verb}: control connection is closed`));
    }
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(new TorControlError('aborted', `${verb} aborted`));
    const timeoutMs = options.timeoutMs ?? this.options.commandTimeoutMs;
    return new Promise<ControlReply>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const cleanup = (): void => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const pending: PendingCommand = {
        verb,
        settled: false,
        resolve: (reply) => {
          cleanup();
          if (reply.status >= 400 && !options.acceptErrorReplies) reject(TorControlError.fromReply(verb, reply));
          else resolve(reply);
        },
        reject: (error) => {
          cleanup();
          reject(error);
        },
      };
      const settleEarly = (error: TorControlError): void => {
        if (pending.settled) return;
        pending.settled = true; // keeps its queue slot: its reply will still come and be dropped
        pending.reject(error);
      };
      const onAbort = (): void => settleEarly(new TorControlError('aborted', `${verb} aborted`));
      timer = setTimeout(() => settleEarly(new TorControlError('timeout', `${verb}: no reply within ${timeoutMs} ms`)), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(pending);
      this.socket.write(`${line}\r\n`);
    });
  }

  /** SETEVENTS: replaces the set of asynchronous events Tor sends on this connection. */
  async setEvents(keywords: readonly string[], options: CommandOptions = {}): Promise<void> {
    for (const k of keywords) {
      if (!/^[A-Z_]+$/.test(k)) throw new TorControlError('bad-command', `SETEVENTS: bad event keyword ${JSON.stringify(k)}`);
    }
    await this.command(['SETEVENTS', ...keywords].join(' '), options);
  }

  /** Sends QUIT and waits for Tor to close (bounded), then destroys the socket. Never rejects. */
  async quit(): Promise<void> {
    if (this.isClosed) return;
    const closed = new Promise<void>((resolve) => this.once('close', () => resolve()));
    const reply = this.closedLocally ? Promise.resolve() : this.command('QUIT', { timeoutMs: Math.min(this.options.commandTimeoutMs, 5_000) });
    this.closedLocally = true; // from here on a close is expected, not a failure
    try {
      await reply;
    } catch {
      // Closing anyway.
    }
    if (!this.isClosed) this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), 2_000);
    await closed;
    clearTimeout(timer);
  }

  /** Closes the connection at once; pending commands reject with 'closed'. */
  close(): void {
    if (this.isClosed) return;
    this.closedLocally = true;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    let replies: ControlReply[];
    try {
      replies = this.parser.push(chunk);
    } catch (err) {
      const message = err instanceof ControlProtocolError ? err.message : String(err);
      this.closeReason = new TorControlError('protocol', `bad reply from Tor: ${message}`, undefined, undefined, err);
      this.socket.destroy();
      return;
    }
    for (const reply of replies) {
      if (reply.status >= 600 && reply.status < 700) {
        const keyword = reply.lines[0]?.text.split(' ', 1)[0] ?? '';
        this.emit('event', { keyword, reply });
        continue;
      }
      const pending = this.queue.shift();
      if (!pending) {
        // Tor writes unsolicited synchronous replies only before closing (e.g. "514 Authentication required").
        continue;
      }
      if (pending.settled) continue;
      pending.settled = true;
      pending.resolve(reply);
    }
  }

  private onClose(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    const reason =
      this.closedLocally && !this.closeReason
        ? undefined
        : (this.closeReason ?? new TorControlError('closed', 'Tor closed the control connection'));
    for (const pending of this.queue.splice(0)) {
      if (pending.settled) continue;
      pending.settled = true;
      pending.reject(
        new TorControlError('closed', `${pending.verb}: control connection closed before the reply`, undefined, undefined, reason),
      );
    }
    this.emit('close', reason);
  }
}
