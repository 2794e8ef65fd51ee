/**
 * Tor control protocol replies (control-spec section 2.3 / 2.4), parsed incrementally from bytes.
 *
 *   Reply          = SyncReply / AsyncReply
 *   SyncReply      = *(MidReplyLine / DataReplyLine) EndReplyLine
 *   AsyncReply     = *(MidReplyLine / DataReplyLine) EndReplyLine      (status code 6xx)
 *   MidReplyLine   = StatusCode "-" ReplyLine
 *   DataReplyLine  = StatusCode "+" ReplyLine CmdData
 *   EndReplyLine   = StatusCode SP ReplyLine
 *   CmdData        = *DataLine "." CRLF   (lines starting with "." get one more "." prepended)
 *
 * Tor guarantees every line of one reply carries the same status code; a reply never interleaves with
 * another, but an asynchronous (650) reply may arrive between two synchronous ones.
 */

export interface ControlReplyLine {
  readonly status: number;
  /** '-' mid line, '+' line followed by data, ' ' end line. */
  readonly separator: '-' | '+' | ' ';
  readonly text: string;
  /** Dot-unstuffed data block of a '+' line, lines joined with "\n" (no trailing newline). */
  readonly data?: string;
}

export interface ControlReply {
  /** Status code shared by every line (2xx success, 4xx/5xx refusal, 6xx asynchronous event). */
  readonly status: number;
  readonly lines: readonly ControlReplyLine[];
}

export type ControlProtocolErrorCode = 'line-too-long' | 'reply-too-large' | 'malformed-line' | 'mixed-status';

export class ControlProtocolError extends Error {
  override readonly name = 'ControlProtocolError';
  constructor(readonly code: ControlProtocolErrorCode, message: string) {
    super(message);
  }
}

export interface ControlReplyParserOptions {
  /** Longest accepted line (bytes, without CRLF). Tor's own lines are far shorter. */
  maxLineBytes: number;
  /** Largest accepted reply (bytes, all lines and data); bounds memory on a misbehaving peer. */
  maxReplyBytes: number;
}

export const DEFAULT_REPLY_PARSER_OPTIONS: ControlReplyParserOptions = {
  maxLineBytes: 64 * 1024,
  maxReplyBytes: 16 * 1024 * 1024,
};

const LINE_RE = /^(\d{3})([- +])(.*)$/s;

/**
 * Feed bytes in any chunking; complete replies come back in order. Throws ControlProtocolError on
 * input that breaks the grammar or the size bounds (the caller should then close the connection).
 */
export class ControlReplyParser {
  private readonly options: ControlReplyParserOptions;
  private pending: Buffer = Buffer.alloc(0);
  private lines: ControlReplyLine[] = [];
  private replyBytes = 0;
  /** Set while reading the data block of a '+' line. */
  private dataHeader: { status: number; text: string } | undefined;
  private dataLines: string[] = [];

  constructor(options: Partial<ControlReplyParserOptions> = {}) {
    this.options = { ...DEFAULT_REPLY_PARSER_OPTIONS, ...options };
  }

  push(chunk: Uint8Array): ControlReply[] {
    const replies: ControlReply[] = [];
    this.pending = this.pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.pending, chunk]);
    let start = 0;
    for (;;) {
      const lf = this.pending.indexOf(0x0a, start);
      if (lf < 0) break;
      // The spec says CRLF; a bare LF is tolerated the way Tor itself tolerates it from controllers.
      const end = lf > start && this.pending[lf - 1] === 0x0d ? lf - 1 : lf;
      if (end - start > this.options.maxLineBytes) {
        throw new ControlProtocolError('line-too-long', `reply line of ${end - start} bytes`);
      }
      const line = this.pending.toString('utf8', start, end);
      this.replyBytes += lf + 1 - start;
      start = lf + 1;
      if (this.replyBytes > this.options.maxReplyBytes) {
        throw new ControlProtocolError('reply-too-large', `reply over ${this.options.maxReplyBytes} bytes`);
      }
      const reply = this.acceptLine(line);
      if (reply) replies.push(reply);
    }
    this.pending = this.pending.subarray(start);
    if (this.pending.length > this.options.maxLineBytes) {
      throw new ControlProtocolError('line-too-long', `unterminated line over ${this.options.maxLineBytes} bytes`);
    }
    return replies;
  }

  private acceptLine(line: string): ControlReply | undefined {
    if (this.dataHeader) {
      if (line === '.') {
        this.lines.push({ ...this.dataHeader, separator: '+', data: this.dataLines.join('\n') });
        this.dataHeader = undefined;
        this.dataLines = [];
        return undefined;
      }
      this.dataLines.push(line.startsWith('.') ? line.slice(1) : line);
      return undefined;
    }
    const match = LINE_RE.exec(line);
    if (!match) throw new ControlProtocolError('malformed-line', `malformed reply line: ${JSON.stringify(line.slice(0, 80))}`);
    const status = Number(match[1]);
    const separator = match[2] as '-' | '+' | ' ';
    const text = match[3] ?? '';
    if (this.lines.length > 0 && this.lines[0]!.status !== status) {
      throw new ControlProtocolError('mixed-status', `status ${status} inside a ${this.lines[0]!.status} reply`);
    }
    if (separator === '+') {
      this.dataHeader = { status, text };
      return undefined;
    }
    this.lines.push({ status, separator, text });
    if (separator === '-') return undefined;
    const reply: ControlReply = { status, lines: this.lines };
    this.lines = [];
    this.replyBytes = 0;
    return reply;
  }
}

/** The end line's text, e.g. "OK" or "Authentication failed: ...". */
export function replyText(reply: ControlReply): string {
  return reply.lines[reply.lines.length - 1]?.text ?? '';
}

/**
 * Key=value pairs of reply lines of the form `Key=Value` (as ADD_ONION and GETINFO answer). For '+' lines
 * the value is the data block. Later keys repeat into the array.
 */
export function replyKeyValues(reply: ControlReply): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of reply.lines) {
    const eq = line.text.indexOf('=');
    if (eq <= 0) continue;
    const key = line.text.slice(0, eq);
    const value = line.separator === '+' ? (line.data ?? '') : line.text.slice(eq + 1);
    const list = out.get(key);
    if (list) list.push(value);
    else out.set(key, [value]);
  }
  return out;
}

/**
 * Parses the `Key=Value Key="Quoted \"value\""` arguments of one reply line (PROTOCOLINFO, AUTHCHALLENGE).
 * Positional words (no '=') are returned under `positional`.
 */
export function parseKeywordArguments(text: string): { positional: string[]; keywords: Map<string, string> } {
  const positional: string[] = [];
  const keywords = new Map<string, string>();
  let i = 0;
  while (i < text.length) {
    while (text[i] === ' ') i++;
    if (i >= text.length) break;
    let key = '';
    while (i < text.length && text[i] !== ' ' && text[i] !== '=') key += text[i++];
    if (text[i] !== '=') {
      positional.push(key);
      continue;
    }
    i++; // '='
    let value = '';
    if (text[i] === '"') {
      i++;
      let closed = false;
      while (i < text.length) {
        const c = text[i++]!;
        if (c === '\\' && i < text.length) {
          value += unescapeChar(text[i++]!);
        } else if (c === '"') {
          closed = true;
          break;
        } else {
          value += c;
        }
      }
      if (!closed) throw new ControlProtocolError('malformed-line', `unterminated quoted value for ${key}`);
    } else {
      while (i < text.length && text[i] !== ' ') value += text[i++];
    }
    keywords.set(key, value);
  }
  return { positional, keywords };
}

function unescapeChar(c: string): string {
  switch (c) {
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    default:
      return c;
  }
}

/** QuotedString of the control spec: backslash-escapes '\' and '"'; CR/LF are not allowed in commands. */
export function quoteString(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
