import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

/**
 * Structured JSON logs (pino) on stderr, so stdout stays free for machine-readable output
 * (the demo's --json readiness line, `cli` results). One root logger per process; modules take
 * children with `module` set, and `log.level.<module>` in the configuration overrides the level
 * for that module alone.
 */
export interface LogOptions {
  level: LevelWithSilent;
  /** Per-module levels, e.g. { gossip: 'debug' }. */
  moduleLevels?: Record<string, LevelWithSilent>;
  /** Bound on every line: role and instance id. */
  base?: Record<string, string>;
  destination?: NodeJS.WritableStream;
}

let root: Logger | undefined;
let moduleLevels: Record<string, LevelWithSilent> = {};

export function initLogging(options: LogOptions): Logger {
  moduleLevels = options.moduleLevels ?? {};
  const lowest = [options.level, ...Object.values(moduleLevels)].reduce((a, b) =>
    pino.levels.values[a === 'silent' ? 'fatal' : a]! <= pino.levels.values[b === 'silent' ? 'fatal' : b]! ? a : b,
  );
  root = pino(
    {
      level: lowest,
      base: { pid: process.pid, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Secrets never reach a log line, whoever passes them by mistake.
      redact: { paths: ['password', '*.password', 'secret', '*.secret', 'nodeKey', '*.nodeKey', 'token', '*.token'], censor: '[redacted]' },
    },
    options.destination ?? pino.destination(2),
  );
  root.level = options.level;
  return root;
}

export function rootLogger(): Logger {
  return root ?? initLogging({ level: (process.env['LOG_LEVEL'] as LevelWithSilent | undefined) ?? 'silent' });
}

/** A child logger for one module; its level follows `log.level.<module>` when set. */
export function moduleLogger(module: string, bindings: Record<string, unknown> = {}): Logger {
  const child = rootLogger().child({ module, ...bindings });
  const level = moduleLevels[module];
  if (level) child.level = level;
  return child;
}
