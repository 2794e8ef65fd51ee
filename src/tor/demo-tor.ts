/**
 * Tor in `lncluster demo`: `--tor-control HOST:PORT [--tor-socks HOST:PORT] [--tor-password-file F]` start
 * `lncluster tor` beside the cluster (the fronts' addresses as targets, or the balancer's Tor listener
 * when the demo runs one) and give the fronts Tor's SOCKS port for .onion peers.
 */
import { resolve } from 'node:path';
import { UsageError } from '../cli/role.js';

export interface DemoTorOptions {
  control: string;
  socks: string;
  passwordFile: string;
}

export const DEMO_TOR_USAGE = '[--tor-control HOST:PORT [--tor-socks HOST:PORT] [--tor-password-file FILE]]';

export function emptyDemoTorOptions(): DemoTorOptions {
  return { control: '', socks: '', passwordFile: '' };
}

const HOST_PORT = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

/** Takes one demo flag if it is a Tor flag (returns true), leaves it otherwise. */
export function parseDemoTorFlag(options: DemoTorOptions, flag: string, value: () => string): boolean {
  switch (flag) {
    case '--tor-control':
      options.control = hostPort(flag, value());
      return true;
    case '--tor-socks':
      options.socks = hostPort(flag, value());
      return true;
    case '--tor-password-file':
      options.passwordFile = resolve(value());
      return true;
    default:
      return false;
  }
}

function hostPort(flag: string, value: string): string {
  if (!HOST_PORT.test(value)) throw new UsageError(`${flag} must be host:port, got ${JSON.stringify(value)}`);
  return value;
}

/** Extra arguments for every front. */
export function demoFrontTorArgs(options: DemoTorOptions): string[] {
  return options.socks ? ['--front.tor-socks', options.socks] : [];
}

/**
 * Arguments for `lncluster tor`, or undefined when Tor is off. `targets` are where onion connections go:
 * the balancer's Tor listener if the demo has one, otherwise each front's listen address.
 */
export function demoTorRoleArgs(options: DemoTorOptions, common: readonly string[], targets: readonly string[]): string[] | undefined {
  if (!options.control) return undefined;
  if (targets.length === 0) throw new UsageError('the demo has no address for the onion service to point at');
  return [
    ...common,
    '--tor.control', options.control,
    '--tor.targets', targets.join(','),
    '--ops.listen', '127.0.0.1:0',
    ...(options.passwordFile ? ['--tor.password-file', options.passwordFile] : []),
  ];
}
