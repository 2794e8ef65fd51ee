import type { LevelWithSilent } from 'pino';
import { ConfigError, loadConfig, type LoadedConfig, type LoadOptions } from '../config/load.js';
import { NodeKeyError } from '../config/node-key.js';
import { ClusterCredentialsError } from '../cluster/errors.js';
import { initLogging, type Logger } from '../util/log.js';

/**
 * What every role command shares: configuration from defaults, file, environment and flags;
 * logging; a readiness line on stdout; clean stop on SIGTERM/SIGINT; and misconfiguration reported
 * as one clear message with exit code 2 instead of a stack trace.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function setupRole(role: string, options: LoadOptions): { loaded: LoadedConfig; log: Logger } {
  const loaded = loadConfig(options);
  const log = initLogging({
    level: loaded.config['log.level'] as LevelWithSilent,
    moduleLevels: loaded.moduleLogLevels as Record<string, LevelWithSilent>,
    base: { role },
  });
  return { loaded, log };
}

/** One JSON line on stdout: how a supervisor (the demo, a test) learns that a role is up and where. */
export function printReady(fields: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ event: 'ready', pid: process.pid, ...fields }) + '\n');
}

export function onShutdown(stop: () => Promise<void>, log: Logger): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/** Turns the errors an operator can fix into one readable message; anything else is a bug. */
export function describeStartupError(error: unknown): { message: string; exitCode: number } {
  if (error instanceof ConfigError || error instanceof NodeKeyError || error instanceof ClusterCredentialsError || error instanceof UsageError) {
    return { message: error.message, exitCode: 2 };
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
    return { message: `cannot listen: ${(error as Error).message}`, exitCode: 2 };
  }
  return { message: error instanceof Error ? (error.stack ?? error.message) : String(error), exitCode: 1 };
}
