import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * `lncluster cli`: the operator's client of the back's admin API. It finds the API from the data
 * dir (the back writes admin.json there when it starts) or from --url and --password-file.
 * Results are JSON on stdout; errors on stderr with a non-zero exit.
 */
export const CLI_USAGE = `usage: lncluster cli [--data-dir DIR | --url URL --password-file FILE] <command>
commands:
  getinfo                          node id, chain, fronts, peer count, public addresses
  peers                            live peers and the front each is on
  fronts                           linked fronts with health and load
  connect <node_id>@<host>:<port>  dial through the least-loaded front
  disconnect <node_id>             close that peer's session
  drain <front_id>                 no new peers for that front (the balancer stops choosing it)
  undrain <front_id>               put a drained front back in service
  channels                         channels: id, peer, state, capacity, balances (LDK engine)
  open <node_id> <sats> [--public] open a channel to a connected peer, funded by bitcoind's wallet
  close <channel_id> [--force]     close a channel (cooperatively unless --force)
  invoice <msat> [description]     a BOLT 11 invoice ("any" for no amount)
  pay <invoice> [msat]             pay an invoice; waits for the outcome`;

export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

interface Endpoint {
  url: string;
  password: string;
}

function readPasswordFile(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    throw new CliError(`cannot read the admin password file ${file}`);
  }
}

export function resolveEndpoint(options: { dataDir?: string; url?: string; passwordFile?: string }): Endpoint {
  if (options.url) {
    if (!options.passwordFile) throw new CliError('--url needs --password-file');
    return { url: options.url, password: readPasswordFile(options.passwordFile) };
  }
  const dataDir = resolve(options.dataDir ?? '.lncluster');
  let info: { adminUrl?: unknown };
  try {
    info = JSON.parse(readFileSync(join(dataDir, 'admin.json'), 'utf8')) as { adminUrl?: unknown };
  } catch {
    throw new CliError(`no running back found in ${dataDir} (admin.json missing): start one, or pass --url and --password-file`);
  }
  if (typeof info.adminUrl !== 'string') throw new CliError(`${join(dataDir, 'admin.json')} has no adminUrl`);
  return { url: info.adminUrl, password: readPasswordFile(join(dataDir, 'admin.password')) };
}

export async function callAdmin(endpoint: Endpoint, method: 'GET' | 'POST', command: string, body?: unknown): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(`${endpoint.url}/api/${command}`, {
      method,
      headers: { authorization: `Bearer ${endpoint.password}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
  } catch (error) {
    throw new CliError(`cannot reach the admin API at ${endpoint.url}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { error: text };
  }
  if (!response.ok) {
    const message = (parsed as { message?: string; error?: string }).message ?? (parsed as { error?: string }).error ?? text;
    throw new CliError(`${command}: ${message}`);
  }
  return parsed;
}

/** Checks a channel command's arguments and builds its admin API body (undefined: GET). */
export function channelCommandBody(command: string, args: string[]): Record<string, unknown> | undefined {
  const flags = new Set(args.filter((a) => a.startsWith('--')));
  const words = args.filter((a) => !a.startsWith('--'));
  const known: Record<string, string[]> = { channels: [], open: ['--public'], close: ['--force'], invoice: [], pay: [] };
  for (const flag of flags) if (!known[command]?.includes(flag)) throw new CliError(`${command}: unknown option ${flag}`, 2);
  const [first, second] = words;
  switch (command) {
    case 'channels':
      return undefined;
    case 'open':
      if (!first || !/^0[23][0-9a-fA-F]{64}$/.test(first) || !second || !/^\d+$/.test(second)) throw new CliError('open needs <node_id> <sats>', 2);
      return { nodeId: first.toLowerCase(), sats: second, ...(flags.has('--public') ? { announce: true } : {}) };
    case 'close':
      if (!first || !/^[0-9a-fA-F]{64}$/.test(first)) throw new CliError('close needs <channel_id> (64 hex characters)', 2);
      return { channelId: first.toLowerCase(), force: flags.has('--force') };
    case 'invoice':
      if (!first || !/^(\d+|any)$/.test(first)) throw new CliError('invoice needs <msat> (or "any")', 2);
      return { ...(first === 'any' ? {} : { msat: first }), ...(second === undefined ? {} : { description: words.slice(1).join(' ') }) };
    case 'pay':
      if (!first || !/^ln/i.test(first)) throw new CliError('pay needs <invoice>', 2);
      if (second !== undefined && !/^\d+$/.test(second)) throw new CliError('pay: the amount must be msat, an integer', 2);
      return { invoice: first, ...(second === undefined ? {} : { amountMsat: second }) };
    default:
      throw new CliError(`unknown command ${command}`, 2);
  }
}

export async function runCli(argv: string[]): Promise<number> {
  const options: { dataDir?: string; url?: string; passwordFile?: string } = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => inline ?? argv[++i] ?? '';
    if (flag === '--data-dir') options.dataDir = value();
    else if (flag === '--url') options.url = value();
    else if (flag === '--password-file') options.passwordFile = value();
    else if (flag === '--help' || flag === '-h') {
      process.stdout.write(CLI_USAGE + '\n');
      return 0;
    } else if (flag === '--force' || flag === '--public') positional.push(arg); // options of close / open
    else if (flag.startsWith('--')) throw new CliError(`unknown option ${flag}\n${CLI_USAGE}`, 2);
    else positional.push(arg);
  }
  const [command, ...args] = positional;
  const endpoint = () => resolveEndpoint(options);
  let result: unknown;
  switch (command) {
    case 'getinfo':
    case 'peers':
    case 'fronts':
      result = await callAdmin(endpoint(), 'GET', command);
      break;
    case 'connect': {
      const uri = args[0];
      if (!uri || !/^0[23][0-9a-fA-F]{64}@.+:\d+$/.test(uri)) throw new CliError('connect needs <node_id>@<host>:<port>', 2);
      result = await callAdmin(endpoint(), 'POST', 'connect', { uri });
      break;
    }
    case 'disconnect': {
      const nodeId = args[0];
      if (!nodeId || !/^0[23][0-9a-fA-F]{64}$/.test(nodeId)) throw new CliError('disconnect needs <node_id>', 2);
      result = await callAdmin(endpoint(), 'POST', 'disconnect', { nodeId: nodeId.toLowerCase() });
      break;
    }
    case 'drain':
    case 'undrain': {
      const front = args[0];
      if (!front) throw new CliError(`${command} needs <front_id>`, 2);
      result = await callAdmin(endpoint(), 'POST', 'drain', { front, draining: command === 'drain' });
      break;
    }
    case 'channels':
    case 'open':
    case 'close':
    case 'invoice':
    case 'pay':
      result = await callAdmin(endpoint(), command === 'channels' ? 'GET' : 'POST', command, channelCommandBody(command, args));
      break;
    case undefined:
      throw new CliError(CLI_USAGE, 2);
    default:
      // Later commands (channels, open, close, invoice, pay) are served by the back when it has them.
      result = await callAdmin(endpoint(), args.length > 0 ? 'POST' : 'GET', command, args.length > 0 ? { args } : undefined);
  }
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  return 0;
}
