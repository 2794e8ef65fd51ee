import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { metricsRegistry } from './metrics.js';

/**
 * The operations endpoint every process serves: `/metrics` (Prometheus text), `/health` (liveness:
 * the process answers) and `/ready` (readiness: the role's own check, e.g. a front linked to its back).
 * Extra routes (the back's admin API) are plugged in through `routes`.
 */
export interface OpsServerOptions {
  host: string;
  port: number;
  /** Readiness check: an empty list means ready; otherwise the reasons it is not. */
  readiness: () => string[];
  /** Health details added to /health's JSON. */
  details?: () => Record<string, unknown>;
  /** Other routes; return true when handled. */
  routes?: (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
}

export interface OpsServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: error instanceof Error ? error.message : String(error) });
      else res.destroy();
    });
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      const registry = metricsRegistry();
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(await registry.metrics());
      return;
    }
    if (req.method === 'GET' && path === '/health') {
      sendJson(res, 200, { status: 'ok', ...options.details?.() });
      return;
    }
    if (req.method === 'GET' && path === '/ready') {
      const reasons = options.readiness();
      sendJson(res, reasons.length === 0 ? 200 : 503, { ready: reasons.length === 0, reasons });
      return;
    }
    if (options.routes && (await options.routes(req, res))) return;
    sendJson(res, 404, { error: `no route ${req.method} ${path}` });
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(text + '\n');
}
