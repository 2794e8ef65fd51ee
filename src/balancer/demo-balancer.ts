/**
 * The balancer in `lncluster demo`: peers connect to the balancer on 127.0.0.1:<port>; the fronts
 * listen on ephemeral loopback ports and trust the balancer's PROXY header. Discovery is the back's
 * embedded registry, or a Consul agent with `--discovery consul [--consul-url URL]` (fronts register
 * there, the balancer watches it).
 */
import { UsageError } from '../cli/role.js';

export interface DemoBalancerOptions {
  discovery: 'embedded' | 'consul';
  consulUrl: string;
}

export const DEMO_BALANCER_USAGE = '[--discovery embedded|consul] [--consul-url URL]';

export function emptyDemoBalancerOptions(): DemoBalancerOptions {
  return { discovery: 'embedded', consulUrl: 'http://127.0.0.1:8500' };
}

/** Takes one demo flag if it is a balancer flag (returns true), leaves it otherwise. */
export function parseDemoBalancerFlag(options: DemoBalancerOptions, flag: string, value: () => string): boolean {
  switch (flag) {
    case '--discovery': {
      const kind = value();
      if (kind !== 'embedded' && kind !== 'consul') throw new UsageError(`--discovery must be embedded or consul, got ${JSON.stringify(kind)}`);
      options.discovery = kind;
      return true;
    }
    case '--consul-url': {
      const url = value();
      if (!/^https?:\/\/[^\s/]+/.test(url)) throw new UsageError(`--consul-url must be an http(s) URL, got ${JSON.stringify(url)}`);
      options.consulUrl = url;
      return true;
    }
    default:
      return false;
  }
}

function discoveryArgs(options: DemoBalancerOptions): string[] {
  return options.discovery === 'consul' ? ['--discovery', 'consul', '--consul.url', options.consulUrl] : [];
}

/** Extra arguments for every front (its listen address is 127.0.0.1:0). */
export function demoFrontBalancerArgs(options: DemoBalancerOptions): string[] {
  return ['--front.proxy-trusted', '127.0.0.1', ...discoveryArgs(options)];
}

/** Arguments for `lncluster balancer`; `tor` adds the local listener the onion service points at. */
export function demoBalancerArgs(options: DemoBalancerOptions, common: readonly string[], port: number, tor: boolean): string[] {
  return [
    ...common,
    '--balancer.listen', `127.0.0.1:${port}`,
    '--ops.listen', '127.0.0.1:0',
    ...(tor ? ['--balancer.tor-listen', '127.0.0.1:0'] : []),
    ...discoveryArgs(options),
  ];
}

/** Waits until the balancer (its /health at `healthUrl`) knows `count` fronts; false on timeout. */
export async function waitForBalancerFronts(healthUrl: string, count: number, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const health = (await (await fetch(healthUrl, { signal: AbortSignal.timeout(2_000) })).json()) as { discovery?: { fronts?: unknown[] } };
      if ((health.discovery?.fronts?.length ?? 0) >= count) return true;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}
