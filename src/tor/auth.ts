/**
 * Control port authentication (control-spec 3.5, 3.21, 3.24): PROTOCOLINFO tells which methods Tor
 * accepts; SAFECOOKIE is preferred because it proves Tor knows the cookie before we reveal anything
 * (a process impersonating the control port learns nothing), then COOKIE, then HASHEDPASSWORD.
 *
 * Tor accepts PROTOCOLINFO only once before authentication and closes the connection on a failed
 * AUTHENTICATE, so the method is chosen up front and there is no fallback on the same connection.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { defaultCrypto } from '../lightning/crypto/index.js';
import type { CryptoProvider } from '../lightning/crypto/provider.js';
import type { CommandOptions, TorControlConnection } from './control-connection.js';
import { parseKeywordArguments, type ControlReply } from './control-reply.js';

export type TorAuthMethod = 'NULL' | 'HASHEDPASSWORD' | 'COOKIE' | 'SAFECOOKIE';

export interface ProtocolInfo {
  /** PIVERSION, 1 for every Tor so far. */
  readonly protocolVersion: number;
  readonly methods: readonly TorAuthMethod[];
  /** Methods this client does not know (future Tor versions). */
  readonly unknownMethods: readonly string[];
  readonly cookieFile?: string;
  readonly torVersion?: string;
}

export type TorAuthErrorCode =
  | 'bad-protocolinfo'
  /** None of the offered methods can be used with what we have (no password, no readable cookie). */
  | 'no-usable-method'
  | 'cookie-file'
  | 'password-file'
  /** SAFECOOKIE: the server's hash does not prove knowledge of the cookie: not our Tor. */
  | 'server-hash-mismatch'
  | 'bad-challenge-reply';

export class TorAuthError extends Error {
  override readonly name = 'TorAuthError';
  constructor(
    readonly code: TorAuthErrorCode,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

const KNOWN_METHODS: readonly TorAuthMethod[] = ['NULL', 'HASHEDPASSWORD', 'COOKIE', 'SAFECOOKIE'];
const COOKIE_BYTES = 32;
const NONCE_BYTES = 32;
const SERVER_HASH_KEY = new TextEncoder().encode('Tor safe cookie authentication server-to-controller hash');
const CLIENT_HASH_KEY = new TextEncoder().encode('Tor safe cookie authentication controller-to-server hash');

/** Parses the reply to `PROTOCOLINFO 1`. */
export function parseProtocolInfo(reply: ControlReply): ProtocolInfo {
  let protocolVersion: number | undefined;
  const methods: TorAuthMethod[] = [];
  const unknownMethods: string[] = [];
  let cookieFile: string | undefined;
  let torVersion: string | undefined;
  try {
    for (const line of reply.lines) {
      const space = line.text.indexOf(' ');
      const keyword = space < 0 ? line.text : line.text.slice(0, space);
      const rest = space < 0 ? '' : line.text.slice(space + 1);
      if (keyword === 'PROTOCOLINFO') {
        protocolVersion = Number(rest.split(' ', 1)[0]);
      } else if (keyword === 'AUTH') {
        const { keywords } = parseKeywordArguments(rest);
        for (const m of (keywords.get('METHODS') ?? '').split(',').filter(Boolean)) {
          if ((KNOWN_METHODS as readonly string[]).includes(m)) methods.push(m as TorAuthMethod);
          else unknownMethods.push(m);
        }
        cookieFile = keywords.get('COOKIEFILE');
      } else if (keyword === 'VERSION') {
        torVersion = parseKeywordArguments(rest).keywords.get('Tor');
      }
    }
  } catch (err) {
    throw new TorAuthError('bad-protocolinfo', `unparsable PROTOCOLINFO reply: ${(err as Error).message}`, err);
  }
  if (protocolVersion === undefined || !Number.isInteger(protocolVersion)) {
    throw new TorAuthError('bad-protocolinfo', 'PROTOCOLINFO reply without a PROTOCOLINFO line');
  }
  return { protocolVersion, methods, unknownMethods, cookieFile, torVersion };
}

export async function readProtocolInfo(conn: TorControlConnection, options: CommandOptions = {}): Promise<ProtocolInfo> {
  return parseProtocolInfo(await conn.command('PROTOCOLINFO 1', options));
}

export interface TorAuthOptions {
  /** Password for HASHEDPASSWORD (takes precedence over passwordFile). */
  password?: string;
  /** File holding the password (one trailing newline is ignored). */
  passwordFile?: string;
  /** Cookie file to use instead of the COOKIEFILE Tor announces (Tor in a container, other mount path). */
  cookieFile?: string;
  /** Use exactly this method (fail if Tor does not offer it) instead of choosing the best one. */
  method?: TorAuthMethod;
  commandTimeoutMs?: number;
  signal?: AbortSignal;
  crypto?: CryptoProvider;
}

export interface TorAuthResult {
  readonly method: TorAuthMethod;
  readonly protocolInfo: ProtocolInfo;
}

/**
 * Runs PROTOCOLINFO and authenticates with the best usable method: NULL, SAFECOOKIE, COOKIE, then
 * HASHEDPASSWORD. Tor's refusal rejects with TorControlError('tor-reply', status 515) and Tor closes
 * the connection; local problems reject with TorAuthError.
 */
export async function authenticate(conn: TorControlConnection, options: TorAuthOptions = {}): Promise<TorAuthResult> {
  const commandOptions: CommandOptions = { timeoutMs: options.commandTimeoutMs, signal: options.signal };
  const protocolInfo = await readProtocolInfo(conn, commandOptions);
  const offered = new Set(protocolInfo.methods);
  const password = await loadPassword(options);
  const cookiePath = options.cookieFile ?? protocolInfo.cookieFile;

  const candidates: TorAuthMethod[] = options.method ? [options.method] : ['NULL', 'SAFECOOKIE', 'COOKIE', 'HASHEDPASSWORD'];
  let cookie: Uint8Array | undefined;
  let cookieError: unknown;
  for (const method of candidates) {
    if (!offered.has(method)) continue;
    if (method === 'NULL') {
      await conn.command('AUTHENTICATE', commandOptions);
      return { method, protocolInfo };
    }
    if (method === 'HASHEDPASSWORD') {
      if (password === undefined) continue;
      // Hex avoids any quoting question for passwords with quotes or backslashes.
      await conn.command(`AUTHENTICATE ${Buffer.from(password, 'utf8').toString('hex')}`, commandOptions);
      return { method, protocolInfo };
    }
    if (cookie === undefined && cookieError === undefined) {
      try {
        cookie = await readCookie(cookiePath);
      } catch (err) {
        cookieError = err;
      }
    }
    if (!cookie) continue;
    if (method === 'COOKIE') {
      await conn.command(`AUTHENTICATE ${Buffer.from(cookie).toString('hex')}`, commandOptions);
      return { method, protocolInfo };
    }
    await authenticateSafeCookie(conn, cookie, options.crypto ?? defaultCrypto(), commandOptions);
    return { method, protocolInfo };
  }
  if (options.method && !offered.has(options.method)) {
    throw new TorAuthError('no-usable-method', `Tor does not offer ${options.method} (offers ${protocolInfo.methods.join(',') || 'nothing'})`);
  }
  if (cookieError instanceof TorAuthError) throw cookieError;
  throw new TorAuthError(
    'no-usable-method',
    `no usable authentication method: Tor offers ${protocolInfo.methods.join(',') || 'nothing'}` +
      (password === undefined ? ', no password configured' : ''),
    cookieError,
  );
}

async function authenticateSafeCookie(
  conn: TorControlConnection,
  cookie: Uint8Array,
  crypto: CryptoProvider,
  commandOptions: CommandOptions,
): Promise<void> {
  const clientNonce = new Uint8Array(randomBytes(NONCE_BYTES));
  const reply = await conn.command(`AUTHCHALLENGE SAFECOOKIE ${Buffer.from(clientNonce).toString('hex')}`, commandOptions);
  const line = reply.lines[reply.lines.length - 1]?.text ?? '';
  let serverHash: Uint8Array;
  let serverNonce: Uint8Array;
  try {
    const { positional, keywords } = parseKeywordArguments(line);
    if (positional[0] !== 'AUTHCHALLENGE') throw new Error(`unexpected reply ${JSON.stringify(line)}`);
    serverHash = decodeHex(keywords.get('SERVERHASH'), 32, 'SERVERHASH');
    serverNonce = decodeHex(keywords.get('SERVERNONCE'), NONCE_BYTES, 'SERVERNONCE');
  } catch (err) {
    conn.close();
    throw new TorAuthError('bad-challenge-reply', `bad AUTHCHALLENGE reply: ${(err as Error).message}`, err);
  }
  const message = concat(cookie, clientNonce, serverNonce);
  const expected = crypto.hmacSha256(SERVER_HASH_KEY, message);
  if (!timingSafeEqual(expected, serverHash)) {
    // Whoever answers does not know the cookie: do not send our hash, which would prove we do.
    conn.close();
    throw new TorAuthError('server-hash-mismatch', 'SAFECOOKIE: the server hash is wrong; this is not the Tor that wrote the cookie');
  }
  const clientHash = crypto.hmacSha256(CLIENT_HASH_KEY, message);
  await conn.command(`AUTHENTICATE ${Buffer.from(clientHash).toString('hex')}`, commandOptions);
}

/** Computes SAFECOOKIE's two hashes (exported for test doubles of the control port). */
export function safeCookieHashes(
  cookie: Uint8Array,
  clientNonce: Uint8Array,
  serverNonce: Uint8Array,
  crypto: CryptoProvider = defaultCrypto(),
): { serverHash: Uint8Array; clientHash: Uint8Array } {
  const message = concat(cookie, clientNonce, serverNonce);
  return { serverHash: crypto.hmacSha256(SERVER_HASH_KEY, message), clientHash: crypto.hmacSha256(CLIENT_HASH_KEY, message) };
}

async function readCookie(path: string | undefined): Promise<Uint8Array> {
  if (!path) throw new TorAuthError('cookie-file', 'Tor offers cookie authentication but announces no COOKIEFILE');
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new TorAuthError('cookie-file', `cannot read Tor's cookie file ${path}: ${(err as Error).message}`, err);
  }
  if (bytes.length !== COOKIE_BYTES) {
    throw new TorAuthError('cookie-file', `cookie file ${path} has ${bytes.length} bytes, expected ${COOKIE_BYTES}`);
  }
  return new Uint8Array(bytes);
}

async function loadPassword(options: TorAuthOptions): Promise<string | undefined> {
  if (options.password !== undefined) return options.password;
  if (options.passwordFile === undefined) return undefined;
  try {
    return (await readFile(options.passwordFile, 'utf8')).replace(/\r?\n$/, '');
  } catch (err) {
    throw new TorAuthError('password-file', `cannot read password file ${options.passwordFile}: ${(err as Error).message}`, err);
  }
}

function decodeHex(value: string | undefined, length: number, what: string): Uint8Array {
  if (value === undefined || value.length !== length * 2 || !/^[0-9a-fA-F]+$/.test(value)) {
    throw new Error(`${what} must be ${length * 2} hex digits`);
  }
  return new Uint8Array(Buffer.from(value, 'hex'));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

