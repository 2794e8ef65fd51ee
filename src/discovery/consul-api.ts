/**
 * The few Consul HTTP API calls discovery needs, made through the `consul` package, with its errors
 * turned into DiscoveryError. This is the only module that touches the package: its TypeScript types
 * omit the per-request options we rely on (`timeout`, `index`, `wait`, `ctx`), so the untyped surface
 * is described once here.
 */
import { EventEmitter } from 'node:events';
import Consul from 'consul';
import { abortedError } from './async.js';
import { DiscoveryError } from './errors.js';

type Options = Record<string, unknown>;

interface HttpResponseLike {
  statusCode?: number;
  headers?: Record<string, string | string[] | undefined>;
  body?: unknown;
}

/** What the `consul` package exposes at run time (lib/agent/*.js, lib/health.js). */
interface ConsulClientLike {
  agent: {
    service: {
      register(opts: Options): Promise<unknown>;
      deregister(opts: Options): Promise<unknown>;
      list(opts: Options): Promise<unknown>;
    };
    check: { pass(opts: Options): Promise<unknown> };
  };
  health: { service(opts: Options): Promise<unknown> };
  destroy(): void;
}

/** papi (the package's HTTP layer) marks its errors with these flags. */
interface PapiErrorLike {
  message?: string;
  code?: string;
  isResponse?: boolean;
  isAbort?: boolean;
  isTimeout?: boolean;
  isCodec?: boolean;
  isValidation?: boolean;
  response?: HttpResponseLike;
}

export interface ConsulApiOptions {
  /** Agent HTTP address, e.g. http://127.0.0.1:8500 (https for TLS). */
  url: string;
  /** ACL token, sent as X-Consul-Token. */
  token?: string;
  /** Datacenter, sent as ?dc=. */
  datacenter?: string;
  /** Timeout of non-blocking requests. */
  requestTimeoutMs: number;
}

export interface ServiceRegistrationBody {
  id: string;
  name: string;
  address: string;
  port: number;
  meta: Record<string, string>;
  check:
    | { kind: 'ttl'; ttlMs: number; deregisterAfterMs: number }
    | { kind: 'http'; url: string; intervalMs: number; timeoutMs: number; deregisterAfterMs: number };
}

export interface HealthServiceResult {
  /** X-Consul-Index, undefined when the header is missing or not a number. */
  index: bigint | undefined;
  /** Decoded JSON body (an array of { Node, Service, Checks } when well formed). */
  body: unknown;
}

/** Go duration syntax that Consul parses (time.ParseDuration). */
export function goDuration(ms: number): string {
  return `${Math.max(0, Math.round(ms))}ms`;
}

export class ConsulApi {
  private readonly client: ConsulClientLike;
  private readonly timeoutMs: number;

  constructor(options: ConsulApiOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch (cause) {
      throw new DiscoveryError('DISCOVERY_BAD_REQUEST', `invalid Consul URL ${JSON.stringify(options.url)}`, { cause });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new DiscoveryError('DISCOVERY_BAD_REQUEST', `Consul URL must be http: or https:, got ${url.protocol}`);
    }
    const secure = url.protocol === 'https:';
    const defaults: { token?: string; dc?: string } = {};
    if (options.token) defaults.token = options.token;
    if (options.datacenter) defaults.dc = options.datacenter;
    const client = new Consul({
      host: url.hostname,
      port: url.port ? Number(url.port) : secure ? 443 : 80,
      secure,
      defaults,
    });
    this.client = client as unknown as ConsulClientLike;
    this.timeoutMs = options.requestTimeoutMs;
  }

  async register(body: ServiceRegistrationBody): Promise<void> {
    const check =
      body.check.kind === 'ttl'
        ? {
            name: `lncluster ${body.id} TTL`,
            ttl: goDuration(body.check.ttlMs),
            deregistercriticalserviceafter: goDuration(body.check.deregisterAfterMs),
          }
        : {
            name: `lncluster ${body.id} HTTP`,
            http: body.check.url,
            interval: goDuration(body.check.intervalMs),
            timeout: goDuration(body.check.timeoutMs),
            deregistercriticalserviceafter: goDuration(body.check.deregisterAfterMs),
          };
    await this.call('register', () =>
      this.client.agent.service.register({
        name: body.name,
        id: body.id,
        address: body.address,
        port: body.port,
        meta: body.meta,
        check,
        timeout: this.timeoutMs,
      }),
    );
  }

  async passTtl(checkId: string, note: string): Promise<void> {
    await this.call('check pass', () => this.client.agent.check.pass({ id: checkId, note, timeout: this.timeoutMs }));
  }

  async deregister(serviceId: string): Promise<void> {
    await this.call('deregister', () => this.client.agent.service.deregister({ id: serviceId, timeout: this.timeoutMs }));
  }

  /** Ids of the services the local agent knows (GET /v1/agent/services). */
  async agentServiceIds(): Promise<Set<string>> {
    const body = await this.call('agent services', () => this.client.agent.service.list({ timeout: this.timeoutMs }));
    if (body === null || typeof body !== 'object') {
      throw new DiscoveryError('DISCOVERY_BAD_RESPONSE', 'consul agent services: body is not an object');
    }
    return new Set(Object.keys(body));
  }

  /**
   * GET /v1/health/service/<name>?passing=true, blocking when `index` > 0.
   * `signal` cancels the request in flight.
   */
  async healthService(
    service: string,
    query: { index: bigint; waitMs: number; signal: AbortSignal },
  ): Promise<HealthServiceResult> {
    if (query.signal.aborted) throw abortedError();
    // papi cancels a request when its ctx emits 'cancel'; includeResponse makes it return [res, body].
    const ctx = Object.assign(new EventEmitter(), { includeResponse: true, canceled: false });
    const onAbort = (): void => {
      ctx.canceled = true;
      ctx.emit('cancel');
    };
    query.signal.addEventListener('abort', onAbort, { once: true });
    const opts: Options = {
      service,
      passing: true,
      ctx,
      // Consul adds up to wait/16 to the wait; the margin covers that and the round trip.
      timeout: query.waitMs + Math.ceil(query.waitMs / 16) + this.timeoutMs,
    };
    if (query.index > 0n) {
      opts['index'] = query.index.toString();
      opts['wait'] = goDuration(query.waitMs);
    }
    try {
      const result = await this.call('health service', () => this.client.health.service(opts));
      if (!Array.isArray(result) || result.length !== 2) {
        throw new DiscoveryError('DISCOVERY_BAD_RESPONSE', 'consul health service: unexpected client result');
      }
      const res = result[0] as HttpResponseLike;
      const header = res.headers?.['x-consul-index'];
      const raw = Array.isArray(header) ? header[0] : header;
      let index: bigint | undefined;
      if (raw !== undefined && /^\d{1,20}$/.test(raw)) index = BigInt(raw);
      return { index, body: result[1] };
    } finally {
      query.signal.removeEventListener('abort', onAbort);
    }
  }

  close(): void {
    this.client.destroy();
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toDiscoveryError(what, err);
    }
  }
}

/** Maps a `consul`/papi failure to a DiscoveryError that keeps Consul's own text. */
export function toDiscoveryError(what: string, err: unknown): DiscoveryError {
  if (err instanceof DiscoveryError) return err;
  const e = (err ?? {}) as PapiErrorLike;
  if (e.isAbort) return abortedError();
  if (e.isResponse && e.response) {
    const status = e.response.statusCode ?? 0;
    const body = e.response.body;
    const text =
      typeof body === 'string' ? body.trim() : Buffer.isBuffer(body) ? body.toString('utf8').trim() : (e.message ?? '');
    const message = `consul ${what}: ${status} ${text}`;
    const details = { status, registryMessage: text, cause: err };
    if (status === 403) return new DiscoveryError('DISCOVERY_ACL', message, details);
    if (status === 400) return new DiscoveryError('DISCOVERY_BAD_REQUEST', message, details);
    if (status === 429 || status === 502 || status === 503 || status === 504) {
      return new DiscoveryError('DISCOVERY_UNAVAILABLE', message, details);
    }
    return new DiscoveryError('DISCOVERY_HTTP', message, details);
  }
  if (e.isCodec) return new DiscoveryError('DISCOVERY_BAD_RESPONSE', `consul ${what}: ${e.message ?? 'undecodable body'}`, { cause: err });
  if (e.isValidation) return new DiscoveryError('DISCOVERY_BAD_REQUEST', `consul ${what}: ${e.message ?? 'invalid request'}`, { cause: err });
  const reason = e.isTimeout ? 'timed out' : (e.code ?? e.message ?? 'request failed');
  return new DiscoveryError('DISCOVERY_UNAVAILABLE', `consul ${what}: ${reason}`, { cause: err });
}
