/**
 * Onion service publication through the control port: ADD_ONION / DEL_ONION and the persisted key.
 *
 * The key is created by Tor on first run (`ADD_ONION NEW:ED25519-V3`) and the returned PrivateKey blob is
 * kept in a 0600 file; later runs send it back (`ADD_ONION ED25519-V3:<blob>`), so the onion address never
 * changes. Without Flags=Detach the service lives exactly as long as the control connection, which is
 * what a watched controller wants: if we die, Tor stops announcing a service nobody maintains.
 */
import { chmod, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TorControlError, type CommandOptions, type TorControlConnection } from './control-connection.js';
import { replyKeyValues } from './control-reply.js';
import { decodeOnionKeyBlob, ED25519_V3_KEY_PREFIX, onionAddressFromKey, ONION_V3_LABEL_LENGTH } from './onion-address.js';

export type OnionServiceErrorCode =
  | 'bad-port'
  | 'key-file'
  /** The key file is readable by group or others: refuse to use a leaked-looking key silently. */
  | 'insecure-key-file'
  | 'bad-key'
  | 'bad-reply'
  /** The ServiceID Tor answered does not match the address derived from our key. */
  | 'address-mismatch';

export class OnionServiceError extends Error {
  override readonly name = 'OnionServiceError';
  constructor(
    readonly code: OnionServiceErrorCode,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

/** One `Port=` line: connections to `virtualPort` on the onion address go to `target`. */
export interface OnionPortMapping {
  /** The port peers dial on the onion address (9735 for Lightning). */
  readonly virtualPort: number;
  /** "host:port" (e.g. "127.0.0.1:9736") or "unix:/path"; Tor picks one of several targets at random. */
  readonly target: string;
}

export interface AddOnionRequest {
  /** 'new' lets Tor create an ED25519-V3 key; otherwise Tor's "ED25519-V3:<base64>" blob. */
  readonly key: 'new' | string;
  readonly ports: readonly OnionPortMapping[];
  /** Flags=Detach: the service outlives this control connection. Off by default. */
  readonly detach?: boolean;
  /** MaxStreams=N per rendezvous circuit (0 = Tor's default, unlimited). */
  readonly maxStreams?: number;
}

export interface AddOnionResult {
  /** The 56-character label, as Tor's ServiceID. */
  readonly serviceId: string;
  /** "<serviceId>.onion". */
  readonly onionAddress: string;
  /** The new key blob ("ED25519-V3:<base64>") when the request asked for a new key. */
  readonly privateKey?: string;
}

export const LIGHTNING_ONION_PORT = 9735;

/** Builds the ADD_ONION command line (exported for tests and logs; holds the secret key, do not log it). */
export function addOnionCommand(request: AddOnionRequest): string {
  if (request.ports.length === 0) throw new OnionServiceError('bad-port', 'ADD_ONION needs at least one Port mapping');
  const keyArg = request.key === 'new' ? 'NEW:ED25519-V3' : `${ED25519_V3_KEY_PREFIX}${keyBase64(request.key)}`;
  const parts = ['ADD_ONION', keyArg];
  const flags: string[] = [];
  if (request.detach) flags.push('Detach');
  if (flags.length > 0) parts.push(`Flags=${flags.join(',')}`);
  if (request.maxStreams !== undefined) {
    if (!Number.isInteger(request.maxStreams) || request.maxStreams < 0 || request.maxStreams > 65535) {
      throw new OnionServiceError('bad-port', `bad MaxStreams ${request.maxStreams}`);
    }
    parts.push(`MaxStreams=${request.maxStreams}`);
  }
  for (const mapping of request.ports) parts.push(portArgument(mapping));
  return parts.join(' ');
}

function keyBase64(blob: string): string {
  try {
    decodeOnionKeyBlob(blob);
  } catch (err) {
    throw new OnionServiceError('bad-key', `bad ED25519-V3 key: ${(err as Error).message}`, err);
  }
  return blob.startsWith(ED25519_V3_KEY_PREFIX) ? blob.slice(ED25519_V3_KEY_PREFIX.length) : blob;
}

function portArgument({ virtualPort, target }: OnionPortMapping): string {
  if (!Number.isInteger(virtualPort) || virtualPort < 1 || virtualPort > 65535) {
    throw new OnionServiceError('bad-port', `bad virtual port ${virtualPort}`);
  }
  const isUnix = target.startsWith('unix:') && target.length > 5;
  const hostPort = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(target);
  const port = hostPort ? Number(hostPort[1]) : 0;
  if (/[\s"]/.test(target) || (!isUnix && (!hostPort || port < 1 || port > 65535))) {
    throw new OnionServiceError('bad-port', `bad onion target ${JSON.stringify(target)} (want host:port or unix:/path)`);
  }
  return `Port=${virtualPort},${target}`;
}

/** ADD_ONION. Tor's refusals reject with TorControlError('tor-reply'), e.g. 550 Onion address collision. */
export async function addOnion(conn: TorControlConnection, request: AddOnionRequest, options: CommandOptions = {}): Promise<AddOnionResult> {
  const reply = await conn.command(addOnionCommand(request), options);
  const values = replyKeyValues(reply);
  const serviceId = values.get('ServiceID')?.[0];
  if (!serviceId || serviceId.length !== ONION_V3_LABEL_LENGTH || !/^[a-z2-7]+$/.test(serviceId)) {
    throw new OnionServiceError('bad-reply', `ADD_ONION reply without a v3 ServiceID`);
  }
  const privateKey = values.get('PrivateKey')?.[0];
  if (request.key === 'new' && (!privateKey || !privateKey.startsWith(ED25519_V3_KEY_PREFIX))) {
    throw new OnionServiceError('bad-reply', 'ADD_ONION NEW reply without an ED25519-V3 PrivateKey');
  }
  return { serviceId, onionAddress: `${serviceId}.onion`, ...(privateKey ? { privateKey } : {}) };
}

/** DEL_ONION. Unknown ids reject with TorControlError('tor-reply', 552). */
export async function delOnion(conn: TorControlConnection, serviceId: string, options: CommandOptions = {}): Promise<void> {
  const label = serviceId.replace(/\.onion$/, '');
  if (!/^[a-z2-7]{56}$/.test(label)) throw new OnionServiceError('bad-reply', `not a v3 service id: ${JSON.stringify(serviceId)}`);
  await conn.command(`DEL_ONION ${label}`, options);
}

/** Reads the persisted key blob; undefined when the file does not exist yet. */
export async function readOnionKeyFile(path: string): Promise<string | undefined> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new OnionServiceError('key-file', `cannot read onion key file ${path}: ${(err as Error).message}`, err);
  }
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    throw new OnionServiceError(
      'insecure-key-file',
      `onion key file ${path} has mode ${(info.mode & 0o777).toString(8)}; it must be 600 (chmod 600 ${path})`,
    );
  }
  const blob = (await readFile(path, 'utf8')).trim();
  try {
    decodeOnionKeyBlob(blob);
  } catch (err) {
    throw new OnionServiceError('bad-key', `onion key file ${path}: ${(err as Error).message}`, err);
  }
  return blob.startsWith(ED25519_V3_KEY_PREFIX) ? blob : `${ED25519_V3_KEY_PREFIX}${blob}`;
}

/** Writes the key blob with mode 0600, atomically (temporary file in the same folder, then rename). */
export async function writeOnionKeyFile(path: string, blob: string): Promise<void> {
  keyBase64(blob); // validates: never persist something Tor could not take back
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temporary, 'wx', 0o600);
    try {
      await handle.writeFile(`${blob}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(temporary, 0o600); // in case a umask or filesystem widened it
    await rename(temporary, path);
  } catch (err) {
    await unlink(temporary).catch(() => undefined);
    throw new OnionServiceError('key-file', `cannot write onion key file ${path}: ${(err as Error).message}`, err);
  }
}

export interface PublishOptions {
  /** Where the key blob lives; created (0600) on first run. */
  readonly keyFile: string;
  readonly ports: readonly OnionPortMapping[];
  readonly detach?: boolean;
  readonly maxStreams?: number;
}

export interface PublishedOnionService {
  readonly serviceId: string;
  readonly onionAddress: string;
  /** True when this call created the key (first run). */
  readonly createdKey: boolean;
}

/**
 * Publishes the service with the persisted key, creating and saving one on first run. With `detach`, a
 * service left over from an earlier connection (550 collision) is removed and published again, so the
 * port mappings are the ones asked for now.
 */
export async function publishOnionService(
  conn: TorControlConnection,
  options: PublishOptions,
  commandOptions: CommandOptions = {},
): Promise<PublishedOnionService> {
  const base = { ports: options.ports, detach: options.detach, maxStreams: options.maxStreams };
  const existing = await readOnionKeyFile(options.keyFile);
  if (existing === undefined) {
    const result = await addOnion(conn, { ...base, key: 'new' }, commandOptions);
    try {
      await writeOnionKeyFile(options.keyFile, result.privateKey!);
    } catch (err) {
      // A published service whose key we could not keep would change address next run: take it down.
      await delOnion(conn, result.serviceId, commandOptions).catch(() => undefined);
      throw err;
    }
    return { serviceId: result.serviceId, onionAddress: result.onionAddress, createdKey: true };
  }
  const expected = onionAddressFromKey(existing);
  let result: AddOnionResult;
  try {
    result = await addOnion(conn, { ...base, key: existing }, commandOptions);
  } catch (err) {
    if (!(options.detach && err instanceof TorControlError && err.status === 550)) throw err;
    await delOnion(conn, expected, commandOptions);
    result = await addOnion(conn, { ...base, key: existing }, commandOptions);
  }
  if (result.onionAddress !== expected) {
    throw new OnionServiceError('address-mismatch', `Tor published ${result.onionAddress} for a key whose address is ${expected}`);
  }
  return { serviceId: result.serviceId, onionAddress: result.onionAddress, createdKey: false };
}
