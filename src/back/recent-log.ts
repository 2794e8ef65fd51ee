import { symbols, type Logger } from 'pino';

/**
 * The last warnings and errors a process logged, for the status page. Lines are taken from the
 * logger's own output (after pino's redaction, so secrets are already censored), parsed, trimmed
 * and kept in a fixed-size ring: memory stays bounded whatever the log volume.
 */
export type RecentLogLevel = 'warn' | 'error' | 'fatal';

export interface RecentLogEntry {
  time: string;
  level: RecentLogLevel;
  msg: string;
  module?: string;
  /** A few identifying fields when present (front, peer, reason...), each cut to MAX_FIELD_LENGTH. */
  fields: Record<string, string>;
}

export interface RecentLogOptions {
  /** Entries kept; the oldest is dropped first. */
  capacity?: number;
}

const DEFAULTS = { capacity: 50 } as const;
const MAX_MESSAGE_LENGTH = 500;
const MAX_FIELD_LENGTH = 200;
/** Fields worth showing next to the message; everything else stays in the real log. */
const SHOWN_FIELDS = ['front', 'peer', 'session', 'remote', 'reason', 'detail', 'type', 'err'] as const;
const LEVELS: Record<number, RecentLogLevel> = { 40: 'warn', 50: 'error', 60: 'fatal' };

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function fieldText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  // pino serialises errors as { type, message, stack }: the message is what an operator needs here.
  if (typeof value === 'object' && typeof (value as { message?: unknown }).message === 'string') return (value as { message: string }).message;
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

export class RecentLog {
  readonly capacity: number;
  readonly #ring: RecentLogEntry[] = [];
  #next = 0;
  #total = 0;

  constructor(options: RecentLogOptions = {}) {
    const capacity = options.capacity ?? DEFAULTS.capacity;
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
  }

  /** Warnings and errors seen since the start, including those the ring no longer holds. */
  get total(): number {
    return this.#total;
  }

  add(entry: RecentLogEntry): void {
    this.#total++;
    if (this.#ring.length < this.capacity) this.#ring.push(entry);
    else this.#ring[this.#next] = entry;
    this.#next = (this.#next + 1) % this.capacity;
  }

  /**
   * Takes one serialised pino line; keeps it when it is a warning or worse. Cheap for the lines it
   * ignores: the level is read from the line's prefix before anything is parsed.
   */
  addLine(line: string): void {
    if (!line.startsWith('{"level":')) return;
    const level = LEVELS[Number(line.slice(9, 11))];
    if (!level) return;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const fields: Record<string, string> = {};
    for (const name of SHOWN_FIELDS) {
      const text = fieldText(parsed[name]);
      if (text !== undefined) fields[name] = cut(text, MAX_FIELD_LENGTH);
    }
    const time = parsed['time'];
    this.add({
      time: typeof time === 'string' ? time : typeof time === 'number' ? new Date(time).toISOString() : new Date().toISOString(),
      level,
      msg: cut(typeof parsed['msg'] === 'string' ? parsed['msg'] : '', MAX_MESSAGE_LENGTH),
      ...(typeof parsed['module'] === 'string' ? { module: parsed['module'] } : {}),
      fields,
    });
  }

  /** Oldest first. */
  entries(): RecentLogEntry[] {
    return this.#ring.length < this.capacity ? [...this.#ring] : [...this.#ring.slice(this.#next), ...this.#ring.slice(0, this.#next)];
  }
}

interface WritableLike {
  write(chunk: string): unknown;
}

const attached = new WeakMap<object, RecentLog>();

/**
 * Copies every line the logger (and all its children: they share one destination) writes into
 * `recent`, then writes it on as before. Attaching twice to one destination keeps the first ring.
 * Returns the ring in use and a function that restores the destination.
 */
export function teeRecentLog(logger: Logger, recent: RecentLog = new RecentLog()): { recent: RecentLog; detach: () => void } {
  const stream = (logger as unknown as Record<symbol, WritableLike | undefined>)[symbols.streamSym];
  if (!stream || typeof stream.write !== 'function') return { recent, detach: () => undefined };
  const existing = attached.get(stream);
  if (existing) return { recent: existing, detach: () => undefined };
  const original = stream.write;
  const own = Object.prototype.hasOwnProperty.call(stream, 'write');
  stream.write = function (this: WritableLike, chunk: string) {
    try {
      if (typeof chunk === 'string') recent.addLine(chunk);
    } catch {
      // never let the status page break logging
    }
    return original.call(this, chunk);
  };
  attached.set(stream, recent);
  return {
    recent,
    detach: () => {
      if (own) stream.write = original;
      else delete (stream as Partial<WritableLike>).write;
      attached.delete(stream);
    },
  };
}
