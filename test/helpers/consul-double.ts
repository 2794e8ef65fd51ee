/**
 * A double of a Consul agent's HTTP API (one dev-mode agent that is also the server), on 127.0.0.1,
 * for testing the Consul discovery adapter without Consul.
 *
 * Behaviours follow Consul's sources and documentation (agent/agent_endpoint.go,
 * agent/health_endpoint.go, agent/http.go, agent/checks, api-docs/features/blocking.mdx):
 * - PUT /v1/agent/service/register (Name, ID, Address, Port, Tags, Meta, Check, Checks with TTL or
 *   HTTP+Interval, Timeout, Status, Notes, DeregisterCriticalServiceAfter); keys are matched
 *   case-insensitively and snake_case is accepted, as Consul's decoder does. Re-registering keeps the
 *   status of checks that existed. New checks start critical unless Status says otherwise.
 * - PUT /v1/agent/service/deregister/<id>, PUT /v1/agent/check/{pass,warn,fail}/<check id>
 *   (404 `Unknown check ID ...`, 500 `CheckID "..." does not have associated TTL` for non-TTL checks).
 * - TTL expiry turns a check critical ("TTL expired"); HTTP checks are run by the double itself every
 *   Interval (2xx passing, 429 warning, anything else critical); a reaper removes services whose check
 *   has been critical longer than DeregisterCriticalServiceAfter (at least `deregisterMinMs`, checked
 *   every `reapIntervalMs`, 1 minute and 30 s in Consul).
 * - GET /v1/health/service/<name> with ?passing, ?tag, ?dc, and blocking `index` + `wait` (default 5m,
 *   max 10m, plus up to wait/16 of jitter). X-Consul-Index is the service's last modify index (never 0);
 *   a status change moves it, a renewal that changes only the output does not (Consul defers those).
 *   X-Consul-KnownLeader, X-Consul-LastContact and X-Consul-Effective-Consistency are set.
 * - GET /v1/agent/services, GET /v1/agent/checks, GET /v1/status/leader.
 * - ACLs when `acl` is given: a token that is not known gets 403 "ACL not found"; a token without the
 *   needed rights gets 403 "Permission denied: ..." on writes, and filtered (empty) results on reads.
 * - Errors are plain text bodies (text/plain; charset=utf-8) with Consul's status codes and wording.
 * - stop() drops every connection like a killed agent; restart() listens again on the same port with
 *   empty state and a fresh index, like a new dev-mode agent.
 * Not modelled: TCP/script/gRPC checks, node maintenance, namespaces, partitions, several nodes.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export type AclRight = 'none' | 'read' | 'write';

export interface ConsulDoubleOptions {
  /** Port to listen on (0 = any). */
  port?: number;
  datacenter?: string;
  nodeName?: string;
  /** Enables ACLs: known tokens and their rights on services; `anonymous` applies to requests without a token. */
  acl?: { tokens: Record<string, AclRight>; anonymous?: AclRight };
  /** How often critical services are reaped (Consul: 30 s). */
  reapIntervalMs?: number;
  /** Lower bound of DeregisterCriticalServiceAfter (Consul: 1 minute). */
  deregisterMinMs?: number;
  /** Raft index a fresh agent starts from. */
  startIndex?: number;
}

type Status = 'passing' | 'warning' | 'critical';

interface ServiceState {
  id: string;
  name: string;
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
  createIndex: number;
  modifyIndex: number;
}

interface CheckState {
  id: string;
  name: string;
  serviceId: string;
  serviceName: string;
  type: 'ttl' | 'http';
  status: Status;
  output: string;
  notes: string;
  ttlMs: number;
  httpUrl: string;
  httpMethod: string;
  intervalMs: number;
  timeoutMs: number;
  deregisterAfterMs: number;
  criticalSince: number | undefined;
  createIndex: number;
  modifyIndex: number;
  timer: NodeJS.Timeout | undefined;
  /** Bumped when the check is replaced or removed, so a probe in flight does not write into a newer check. */
  generation: number;
}

interface CheckDefinition {
  checkId: string;
  name: string;
  notes: string;
  status: Status | '';
  ttlMs: number;
  http: string;
  method: string;
  intervalMs: number;
  timeoutMs: number;
  deregisterAfterMs: number;
  unsupported: boolean;
}

/** An error answered as Consul does: a status and a plain-text reason. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const NODE_ID = '5e5a9a55-0f4c-4b1e-9ad1-6c7a1f6d0b11';
const ANONYMOUS_ACCESSOR = '00000000-0000-0000-0000-000000000002';
const MAX_BODY = 1 << 20;
const DEFAULT_WAIT_MS = 5 * 60_000;
const MAX_WAIT_MS = 10 * 60_000;
const DEFAULT_HTTP_TIMEOUT_MS = 10_000;

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** time.ParseDuration, in milliseconds; undefined when Go would reject it. */
export function parseGoDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const m = /^([-+]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/.exec(text);
  if (!m) return undefined;
  let total = 0;
  for (const part of m[2]!.matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    total += Number(part[1]) * DURATION_UNITS[part[2]!]!;
  }
  return m[1] === '-' ? -total : total;
}

function goTypeName(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'boolean') return 'bool';
  return typeof value === 'number' ? 'number' : typeof value === 'string' ? 'string' : 'object';
}

function decodeError(value: unknown, field: string, goType: string): HttpError {
  return new HttpError(
    400,
    `Request decode failed: json: cannot unmarshal ${goTypeName(value)} into Go struct field ${field} of type ${goType}`,
  );
}

/** Consul decodes keys case-insensitively and also accepts snake_case: normalise both away. */
function normaliseKeys(value: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) out[k.replace(/_/g, '').toLowerCase()] = v;
  }
  return out;
}

function str(obj: Record<string, unknown>, key: string, field: string): string {
  const v = obj[key];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw decodeError(v, field, 'string');
  return v;
}

function duration(obj: Record<string, unknown>, key: string, field: string): number {
  const v = obj[key];
  if (v === undefined || v === null || v === '') return 0;
  if (typeof v === 'number') return v / 1e6; // a JSON number is nanoseconds (time.Duration)
  if (typeof v !== 'string') throw decodeError(v, field, 'time.Duration');
  const ms = parseGoDuration(v);
  if (ms === undefined) throw new HttpError(400, `Request decode failed: time: invalid duration ${JSON.stringify(v)}`);
  return ms;
}

/** Go's wording for JSON syntax errors, close enough for a caller that prints it. */
function jsonSyntaxMessage(text: string, err: unknown): string {
  if (text.trim() === '') return 'EOF';
  const message = err instanceof Error ? err.message : '';
  if (/end of JSON input|Unterminated/i.test(message)) return 'unexpected EOF';
  const pos = /position (\d+)/.exec(message);
  const index = pos ? Number(pos[1]) : text.search(/\S/);
  const ch = text[index] ?? '';
  return `invalid character '${ch}' looking for beginning of value`;
}

export class ConsulDouble {
  readonly datacenter: string;
  readonly nodeName: string;
  /** Every request received since start (method and path with query), for assertions. */
  readonly requests: Array<{ method: string; path: string }> = [];

  private server: http.Server | undefined;
  private portNumber: number;
  private readonly options: ConsulDoubleOptions;
  private services = new Map<string, ServiceState>();
  private checks = new Map<string, CheckState>();
  private serviceIndex = new Map<string, number>();
  private raftIndex: number;
  private waiters = new Set<() => void>();
  private reaper: NodeJS.Timeout | undefined;
  private probes = new Set<http.ClientRequest>();

  private constructor(options: ConsulDoubleOptions) {
    this.options = options;
    this.datacenter = options.datacenter ?? 'dc1';
    this.nodeName = options.nodeName ?? 'consul-double';
    this.portNumber = options.port ?? 0;
    this.raftIndex = options.startIndex ?? 10;
  }

  static async start(options: ConsulDoubleOptions = {}): Promise<ConsulDouble> {
    const double = new ConsulDouble(options);
    await double.listen();
    return double;
  }

  get port(): number {
    return this.portNumber;
  }

  get url(): string {
    return `http://127.0.0.1:${this.portNumber}`;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  /** The agent dies: listening stops, every connection (blocking queries included) is cut. State is lost. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    if (this.reaper) clearInterval(this.reaper);
    this.reaper = undefined;
    for (const check of this.checks.values()) this.stopCheck(check);
    for (const probe of this.probes) probe.destroy();
    this.probes.clear();
    for (const wake of this.waiters) wake();
    this.waiters.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  /** A fresh dev-mode agent on the same port: no services, indexes restarted. */
  async restart(): Promise<void> {
    await this.stop();
    this.services = new Map();
    this.checks = new Map();
    this.serviceIndex = new Map();
    this.raftIndex = this.options.startIndex ?? 10;
    await this.listen();
  }

  /** Ids of the registered services. */
  serviceIds(): string[] {
    return [...this.services.keys()].sort();
  }

  checkStatus(checkId: string): Status | undefined {
    return this.checks.get(checkId)?.status;
  }

  /** Index the health endpoint reports for a service now. */
  indexOf(service: string): number {
    return Math.max(1, this.serviceIndex.get(service) ?? this.raftIndex);
  }

  /**
   * Makes every index go back to `index`, as a restored raft snapshot does. Blocking clients then see
   * an X-Consul-Index lower than the one they sent.
   */
  rewindIndex(index: number): void {
    this.raftIndex = index;
    for (const [name, value] of this.serviceIndex) this.serviceIndex.set(name, Math.min(value, index));
    this.wake();
  }

  /** Number of requests whose path starts with `prefix`. */
  countRequests(prefix: string): number {
    return this.requests.filter((r) => r.path.startsWith(prefix)).length;
  }

  private async listen(): Promise<void> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.sendError(res, err instanceof HttpError ? err : new HttpError(500, String(err)));
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.portNumber, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.portNumber = (server.address() as AddressInfo).port;
    this.server = server;
    this.reaper = setInterval(() => this.reap(), this.options.reapIntervalMs ?? 30_000);
    this.reaper.unref();
  }

  // ---------------------------------------------------------------- HTTP plumbing

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    this.requests.push({ method, path: safeDecode(url.pathname) + url.search });
    const body = await readBody(req);
    const path = url.pathname;

    const route = (prefix: string): string | undefined => (path.startsWith(prefix) ? safeDecode(path.slice(prefix.length)) : undefined);
    const allow = (...methods: string[]): void => {
      if (!methods.includes(method)) {
        throw new HttpError(405, `method ${method} not allowed`, { Allow: ['OPTIONS', ...methods].join(',') });
      }
    };

    let id: string | undefined;
    if (path === '/v1/agent/service/register') {
      allow('PUT');
      this.register(req, url, body);
      return this.sendEmpty(res);
    }
    if ((id = route('/v1/agent/service/deregister/')) !== undefined) {
      allow('PUT');
      this.deregister(req, url, id);
      return this.sendEmpty(res);
    }
    for (const [verb, status] of [['pass', 'passing'], ['warn', 'warning'], ['fail', 'critical']] as const) {
      if ((id = route(`/v1/agent/check/${verb}/`)) !== undefined) {
        allow('PUT');
        this.updateTtl(req, url, id, status, url.searchParams.get('note') ?? '');
        return this.sendEmpty(res);
      }
    }
    if (path === '/v1/agent/services') {
      allow('GET');
      return this.sendJson(res, this.agentServices(this.resolveToken(req, url)));
    }
    if (path === '/v1/agent/checks') {
      allow('GET');
      return this.sendJson(res, this.agentChecks(this.resolveToken(req, url)));
    }
    if ((id = route('/v1/health/service/')) !== undefined) {
      allow('GET');
      return this.healthService(req, res, url, id);
    }
    if (path === '/v1/status/leader') {
      allow('GET');
      return this.sendJson(res, '127.0.0.1:8300');
    }
    throw new HttpError(
      404,
      path.includes('/v1/')
        ? 'Invalid URL path: not a recognized HTTP API endpoint\n'
        : "Invalid URL path: if attempting to use the HTTP API, ensure the path starts with '/v1/'\n",
    );
  }

  private sendError(res: http.ServerResponse, err: HttpError): void {
    for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
    res.statusCode = err.status;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(err.message);
  }

  private sendEmpty(res: http.ServerResponse): void {
    res.statusCode = 200;
    res.end();
  }

  private sendJson(res: http.ServerResponse, value: unknown, headers: Record<string, string> = {}): void {
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(value));
  }

  // ---------------------------------------------------------------- ACLs

  /** The rights of the request's token; 403 "ACL not found" for a token the agent does not know. */
  private resolveToken(req: http.IncomingMessage, url: URL): { right: AclRight; accessor: string } {
    const acl = this.options.acl;
    if (!acl) return { right: 'write', accessor: ANONYMOUS_ACCESSOR };
    let token = req.headers['x-consul-token'];
    if (Array.isArray(token)) token = token[0];
    if (!token) {
      const auth = req.headers['authorization'];
      if (typeof auth === 'string' && auth.toLowerCase().startsWith('bearer ')) token = auth.slice(7).trim();
    }
    if (!token) token = url.searchParams.get('token') ?? '';
    if (token === '') return { right: acl.anonymous ?? 'none', accessor: ANONYMOUS_ACCESSOR };
    const right = acl.tokens[token];
    if (right === undefined) throw new HttpError(403, 'ACL not found');
    return { right, accessor: accessorOf(token) };
  }

  private requireServiceWrite(token: { right: AclRight; accessor: string }, service: string): void {
    if (token.right !== 'write') {
      throw new HttpError(403, `Permission denied: token with AccessorID '${token.accessor}' lacks permission 'service:write' on ${JSON.stringify(service)}`);
    }
  }

  // ---------------------------------------------------------------- agent endpoints

  private register(req: http.IncomingMessage, url: URL, text: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new HttpError(400, `Request decode failed: ${jsonSyntaxMessage(text, err)}`);
    }
    if (raw !== null && (typeof raw !== 'object' || Array.isArray(raw))) {
      throw new HttpError(400, `Request decode failed: json: cannot unmarshal ${goTypeName(raw)} into Go value of type structs.ServiceDefinition`);
    }
    const def = normaliseKeys(raw);
    const name = str(def, 'name', 'ServiceDefinition.Name');
    const serviceId = str(def, 'id', 'ServiceDefinition.ID') || name;
    const address = str(def, 'address', 'ServiceDefinition.Address');
    const portRaw = def['port'] ?? 0;
    if (typeof portRaw !== 'number' || !Number.isInteger(portRaw)) throw decodeError(portRaw, 'ServiceDefinition.Port', 'int');
    const tagsRaw = def['tags'] ?? [];
    if (!Array.isArray(tagsRaw) || tagsRaw.some((t) => typeof t !== 'string')) throw decodeError(tagsRaw, 'ServiceDefinition.Tags', '[]string');
    const metaRaw = def['meta'] ?? {};
    if (metaRaw === null || typeof metaRaw !== 'object' || Array.isArray(metaRaw)) throw decodeError(metaRaw, 'ServiceDefinition.Meta', 'map[string]string');
    const meta: Record<string, string> = {};
    for (const [k, v] of Object.entries(metaRaw)) {
      if (typeof v !== 'string') throw decodeError(v, 'ServiceDefinition.Meta', 'string');
      meta[k] = v;
    }
    const checkDefs: CheckDefinition[] = [];
    const single = normaliseKeys(def['check']);
    if (Object.keys(single).length > 0) checkDefs.push(this.decodeCheck(single, 'ServiceDefinition.Check'));
    const many = def['checks'];
    if (many !== undefined && many !== null) {
      if (!Array.isArray(many)) throw decodeError(many, 'ServiceDefinition.Checks', 'structs.CheckTypes');
      for (const c of many) checkDefs.push(this.decodeCheck(normaliseKeys(c), 'ServiceDefinition.Checks'));
    }

    if (name === '') throw new HttpError(400, 'Missing service name');
    if (address === '0.0.0.0' || address === '::' || address === '[::]') throw new HttpError(400, 'Invalid service address');
    const token = this.resolveToken(req, url);
    const metaError = validateMeta(meta);
    if (metaError) throw new HttpError(400, `Invalid Service Meta: ${metaError}`);
    if (portRaw < 0 || portRaw > 65535) throw new HttpError(400, `Validation failed: invalid port ${portRaw}`);
    for (const check of checkDefs) {
      const invalid = validateCheck(check);
      if (invalid) throw new HttpError(400, `Invalid check: ${invalid}`);
      if (check.status !== '' && !['passing', 'warning', 'critical'].includes(check.status)) {
        throw new HttpError(400, "Status for checks must 'passing', 'warning', 'critical'");
      }
    }
    this.requireServiceWrite(token, name);

    // Apply, as agent.AddService does: the check states of a re-registered service carry over.
    const previous = this.services.get(serviceId);
    const index = ++this.raftIndex;
    const service: ServiceState = {
      id: serviceId,
      name,
      address,
      port: portRaw,
      tags: tagsRaw as string[],
      meta,
      createIndex: previous?.createIndex ?? index,
      modifyIndex: index,
    };
    this.services.set(serviceId, service);
    checkDefs.forEach((check, i) => {
      const checkId = check.checkId || (checkDefs.length > 1 ? `service:${serviceId}:${i + 1}` : `service:${serviceId}`);
      const old = this.checks.get(checkId);
      if (old) this.stopCheck(old);
      const status: Status = old ? old.status : check.status === '' ? 'critical' : check.status;
      const state: CheckState = {
        id: checkId,
        name: check.name || `Service '${name}' check`,
        serviceId,
        serviceName: name,
        type: check.ttlMs > 0 ? 'ttl' : 'http',
        status,
        output: old?.output ?? '',
        notes: check.notes,
        ttlMs: check.ttlMs,
        httpUrl: check.http,
        httpMethod: check.method || 'GET',
        intervalMs: check.intervalMs,
        timeoutMs: check.timeoutMs > 0 ? check.timeoutMs : DEFAULT_HTTP_TIMEOUT_MS,
        deregisterAfterMs: check.deregisterAfterMs > 0 ? Math.max(check.deregisterAfterMs, this.options.deregisterMinMs ?? 60_000) : 0,
        criticalSince: status === 'critical' ? (old?.criticalSince ?? Date.now()) : undefined,
        createIndex: old?.createIndex ?? index,
        modifyIndex: index,
        timer: undefined,
        generation: (old?.generation ?? 0) + 1,
      };
      this.checks.set(checkId, state);
      this.startCheck(state);
    });
    this.touch(name, index);
    if (previous && previous.name !== name) this.touch(previous.name, index);
  }

  private decodeCheck(c: Record<string, unknown>, field: string): CheckDefinition {
    const unsupported = ['tcp', 'args', 'scriptargs', 'grpc', 'udp', 'h2ping', 'dockercontainerid', 'aliasservice', 'aliasnode', 'osservice'].some(
      (k) => c[k] !== undefined && c[k] !== null && c[k] !== '',
    );
    const status = str(c, 'status', `${field}.Status`);
    return {
      checkId: str(c, 'checkid', `${field}.CheckID`) || str(c, 'id', `${field}.ID`),
      name: str(c, 'name', `${field}.Name`),
      notes: str(c, 'notes', `${field}.Notes`),
      status: status as Status | '',
      ttlMs: duration(c, 'ttl', `${field}.TTL`),
      http: str(c, 'http', `${field}.HTTP`),
      method: str(c, 'method', `${field}.Method`),
      intervalMs: duration(c, 'interval', `${field}.Interval`),
      timeoutMs: duration(c, 'timeout', `${field}.Timeout`),
      deregisterAfterMs: duration(c, 'deregistercriticalserviceafter', `${field}.DeregisterCriticalServiceAfter`),
      unsupported,
    };
  }

  private deregister(req: http.IncomingMessage, url: URL, serviceId: string): void {
    const token = this.resolveToken(req, url);
    const service = this.services.get(serviceId);
    if (!service) {
      throw new HttpError(404, `Unknown service ID ${JSON.stringify(serviceId)}. Ensure that the service ID is passed, not the service name.`);
    }
    this.requireServiceWrite(token, service.name);
    this.removeService(serviceId);
  }

  private updateTtl(req: http.IncomingMessage, url: URL, checkId: string, status: Status, output: string): void {
    const token = this.resolveToken(req, url);
    const check = this.checks.get(checkId);
    if (!check) {
      throw new HttpError(404, `Unknown check ID ${JSON.stringify(checkId)}. Ensure that the check ID is passed, not the check name.`);
    }
    this.requireServiceWrite(token, check.serviceName);
    if (check.type !== 'ttl') throw new HttpError(500, `CheckID ${JSON.stringify(checkId)} does not have associated TTL`);
    this.setStatus(check, status, output);
    this.armTtl(check);
  }

  private agentServices(token: { right: AclRight }): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (token.right === 'none') return out;
    for (const s of this.services.values()) {
      out[s.id] = {
        ID: s.id,
        Service: s.name,
        Tags: s.tags,
        Meta: s.meta,
        Port: s.port,
        Address: s.address,
        Weights: { Passing: 1, Warning: 1 },
        EnableTagOverride: false,
        Datacenter: this.datacenter,
      };
    }
    return out;
  }

  private agentChecks(token: { right: AclRight }): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (token.right === 'none') return out;
    for (const c of this.checks.values()) out[c.id] = this.checkJson(c);
    return out;
  }

  // ---------------------------------------------------------------- health endpoint

  private async healthService(req: http.IncomingMessage, res: http.ServerResponse, url: URL, name: string): Promise<void> {
    const query = url.searchParams;
    let waitMs = DEFAULT_WAIT_MS;
    const wait = query.get('wait');
    if (wait) {
      const ms = parseGoDuration(wait);
      if (ms === undefined) throw new HttpError(400, 'Invalid wait time');
      waitMs = ms;
    }
    let minIndex = 0;
    const index = query.get('index');
    if (index) {
      if (!/^\d+$/.test(index)) throw new HttpError(400, 'Invalid index');
      minIndex = Number(index);
    }
    const dc = query.get('dc');
    if (dc && dc !== this.datacenter) throw new HttpError(500, 'No path to datacenter');
    if (name === '') throw new HttpError(400, 'Missing service name');
    const token = this.resolveToken(req, url);

    if (minIndex > 0) {
      waitMs = Math.min(waitMs > 0 ? waitMs : DEFAULT_WAIT_MS, MAX_WAIT_MS);
      waitMs += Math.random() * (waitMs / 16);
      await this.block(req, () => this.indexOf(name) > minIndex, waitMs);
      if (!this.running || req.socket.destroyed) return;
    }

    const headers: Record<string, string> = {
      'X-Consul-Index': String(this.indexOf(name)),
      'X-Consul-KnownLeader': 'true',
      'X-Consul-LastContact': '0',
      'X-Consul-Effective-Consistency': 'leader',
    };
    // As in Consul, ?passing is validated after the query ran (health_endpoint.go).
    let passing = false;
    if (query.has('passing')) {
      const v = query.get('passing') ?? '';
      const parsed = parseGoBool(v);
      if (v !== '' && parsed === undefined) {
        for (const [k, v2] of Object.entries(headers)) res.setHeader(k, v2);
        throw new HttpError(400, 'Invalid value for ?passing');
      }
      passing = v === '' ? true : parsed!;
    }
    const tags = query.getAll('tag');
    let entries = [...this.services.values()]
      .filter((s) => s.name === name)
      .filter((s) => tags.every((t) => s.tags.includes(t)))
      .map((s) => this.healthEntry(s));
    if (passing) entries = entries.filter((e) => e.Checks.every((c) => c.Status === 'passing'));
    if (token.right === 'none' && entries.length > 0) {
      entries = [];
      headers['X-Consul-Results-Filtered-By-ACLs'] = 'true';
    }
    this.sendJson(res, entries, headers);
  }

  /** Resolves when `ready()` holds, after `ms`, or when the client or the agent goes away. */
  private block(req: http.IncomingMessage, ready: () => boolean, ms: number): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        req.socket.off('close', done);
        resolve();
      };
      const check = (): void => {
        if (ready() || !this.running) done();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(check);
      req.socket.once('close', done);
    });
  }

  private healthEntry(s: ServiceState): { Node: unknown; Service: unknown; Checks: Array<{ Status: string }> } {
    const serviceChecks = [...this.checks.values()].filter((c) => c.serviceId === s.id);
    return {
      Node: {
        ID: NODE_ID,
        Node: this.nodeName,
        Address: '127.0.0.1',
        Datacenter: this.datacenter,
        TaggedAddresses: { lan: '127.0.0.1', lan_ipv4: '127.0.0.1', wan: '127.0.0.1', wan_ipv4: '127.0.0.1' },
        Meta: { 'consul-network-segment': '' },
        CreateIndex: 5,
        ModifyIndex: 5,
      },
      Service: {
        ID: s.id,
        Service: s.name,
        Tags: s.tags,
        Address: s.address,
        Meta: s.meta,
        Port: s.port,
        Weights: { Passing: 1, Warning: 1 },
        EnableTagOverride: false,
        Proxy: { Mode: '', MeshGateway: {}, Expose: {} },
        Connect: {},
        PeerName: '',
        CreateIndex: s.createIndex,
        ModifyIndex: s.modifyIndex,
      },
      Checks: [
        {
          Node: this.nodeName,
          CheckID: 'serfHealth',
          Name: 'Serf Health Status',
          Status: 'passing',
          Notes: '',
          Output: 'Agent alive and reachable',
          ServiceID: '',
          ServiceName: '',
          ServiceTags: [],
          Type: '',
          Interval: '',
          Timeout: '',
          ExposedPort: 0,
          Definition: {},
          CreateIndex: 5,
          ModifyIndex: 5,
        },
        ...serviceChecks.map((c) => this.checkJson(c)),
      ],
    };
  }

  private checkJson(c: CheckState): { Status: string } & Record<string, unknown> {
    return {
      Node: this.nodeName,
      CheckID: c.id,
      Name: c.name,
      Status: c.status,
      Notes: c.notes,
      Output: c.output,
      ServiceID: c.serviceId,
      ServiceName: c.serviceName,
      ServiceTags: this.services.get(c.serviceId)?.tags ?? [],
      Type: c.type,
      Interval: c.type === 'http' ? formatGoDuration(c.intervalMs) : '',
      Timeout: c.type === 'http' ? formatGoDuration(c.timeoutMs) : '',
      ExposedPort: 0,
      Definition: {},
      CreateIndex: c.createIndex,
      ModifyIndex: c.modifyIndex,
    };
  }

  // ---------------------------------------------------------------- state changes

  /** Records a change of `service` at `index` and wakes blocking queries. */
  private touch(service: string, index: number): void {
    this.serviceIndex.set(service, index);
    this.wake();
  }

  private wake(): void {
    for (const wake of [...this.waiters]) wake();
  }

  private setStatus(check: CheckState, status: Status, output: string): void {
    if (check.status === status) {
      // Output-only changes reach the catalog only every check_update_interval (5 min) in Consul: no new index.
      check.output = output;
      return;
    }
    check.status = status;
    check.output = output;
    check.criticalSince = status === 'critical' ? Date.now() : undefined;
    const index = ++this.raftIndex;
    check.modifyIndex = index;
    this.touch(check.serviceName, index);
  }

  private removeService(serviceId: string): void {
    const service = this.services.get(serviceId);
    if (!service) return;
    this.services.delete(serviceId);
    for (const check of [...this.checks.values()]) {
      if (check.serviceId === serviceId) {
        this.stopCheck(check);
        this.checks.delete(check.id);
      }
    }
    this.touch(service.name, ++this.raftIndex);
  }

  private reap(): void {
    const now = Date.now();
    for (const check of [...this.checks.values()]) {
      if (
        check.deregisterAfterMs > 0 &&
        check.status === 'critical' &&
        check.criticalSince !== undefined &&
        now - check.criticalSince > check.deregisterAfterMs
      ) {
        this.removeService(check.serviceId);
      }
    }
  }

  private stopCheck(check: CheckState): void {
    if (check.timer) clearTimeout(check.timer);
    check.timer = undefined;
    check.generation++;
  }

  private startCheck(check: CheckState): void {
    if (check.type === 'ttl') {
      this.armTtl(check);
    } else {
      // Consul staggers the first run randomly within the interval.
      this.scheduleProbe(check, Math.random() * check.intervalMs);
    }
  }

  private armTtl(check: CheckState): void {
    if (check.timer) clearTimeout(check.timer);
    check.timer = setTimeout(() => {
      check.timer = undefined;
      const last = check.output;
      this.setStatus(check, 'critical', last ? `TTL expired (last output before timeout follows): ${last}` : 'TTL expired');
    }, check.ttlMs);
    check.timer.unref();
  }

  private scheduleProbe(check: CheckState, delayMs: number): void {
    const generation = check.generation;
    check.timer = setTimeout(() => {
      check.timer = undefined;
      void this.probe(check).then(({ status, output }) => {
        if (check.generation !== generation || !this.running || this.checks.get(check.id) !== check) return;
        this.setStatus(check, status, output);
        this.scheduleProbe(check, check.intervalMs);
      });
    }, delayMs);
    check.timer.unref();
  }

  /** One HTTP check, judged like Consul's CheckHTTP. */
  private probe(check: CheckState): Promise<{ status: Status; output: string }> {
    return new Promise((resolve) => {
      let target: URL;
      try {
        target = new URL(check.httpUrl);
      } catch {
        resolve({ status: 'critical', output: `Get ${JSON.stringify(check.httpUrl)}: invalid URL` });
        return;
      }
      const lib = target.protocol === 'https:' ? https : http;
      const req = lib.request(target, { method: check.httpMethod, agent: false, timeout: check.timeoutMs, headers: { 'User-Agent': 'Consul Health Check', Accept: 'text/plain, text/*, */*' } });
      this.probes.add(req);
      const finish = (result: { status: Status; output: string }): void => {
        this.probes.delete(req);
        resolve(result);
      };
      req.on('timeout', () => req.destroy(new Error('context deadline exceeded (Client.Timeout exceeded while awaiting headers)')));
      req.on('error', (err) => finish({ status: 'critical', output: `${check.httpMethod} ${check.httpUrl}: ${err.message}` }));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          // Consul keeps at most 4 KiB of output.
          if (size < 4096) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('error', (err) => finish({ status: 'critical', output: err.message }));
        res.on('end', () => {
          const code = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).subarray(0, 4096).toString('utf8');
          const output = `HTTP ${check.httpMethod} ${check.httpUrl}: ${code} ${http.STATUS_CODES[code] ?? ''} Output: ${text}`;
          const status: Status = code >= 200 && code <= 299 ? 'passing' : code === 429 ? 'warning' : 'critical';
          finish({ status, output });
        });
      });
      req.end();
    });
  }
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

function accessorOf(token: string): string {
  let h = 0x811c9dc5;
  for (const ch of token) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  const hex = h.toString(16).padStart(8, '0');
  return `${hex}-0000-4000-8000-${hex}${hex.slice(0, 4)}`;
}

function parseGoBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

function formatGoDuration(ms: number): string {
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** structs.ValidateServiceMetadata / ValidateMetadata. */
function validateMeta(meta: Record<string, string>): string | undefined {
  const keys = Object.keys(meta);
  if (keys.length > 64) return 'Node metadata cannot contain more than 64 key/value pairs';
  for (const key of keys) {
    if (key === '') return 'Key cannot be blank';
    if (!/^[a-zA-Z0-9_-]+$/.test(key)) return `Key contains invalid characters`;
    if (key.length > 128) return 'Key is too long (limit: 128 characters)';
    if (key.startsWith('consul-')) return "Key prefix 'consul-' is reserved for internal use";
    if (meta[key]!.length > 512) return 'Value is too long (limit: 512 characters)';
  }
  return undefined;
}

/** structs.CheckType.Validate for the check kinds the double runs. */
function validateCheck(c: CheckDefinition): string | undefined {
  const intervalCheck = c.http !== '' || c.unsupported;
  if (c.intervalMs > 0 && c.ttlMs > 0) return 'Interval and TTL cannot both be specified';
  if (intervalCheck && c.intervalMs <= 0) return 'Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks';
  if (!intervalCheck && c.ttlMs <= 0) return 'TTL must be > 0 for TTL checks';
  if (c.unsupported) return 'consul-double runs TTL and HTTP checks only';
  return undefined;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, 'Request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
