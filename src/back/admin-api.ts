import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '../util/ops-server.js';

/**
 * The back's admin API, served on its ops port under /api/ and protected by the admin password
 * (HTTP Basic with any user name, or `Authorization: Bearer <password>`). Handlers return JSON
 * values; an AdminError becomes its status and message.
 */
export class AdminError extends Error {
  override readonly name = 'AdminError';
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export type AdminHandler = (body: Record<string, unknown>) => unknown;

export interface AdminRoutes {
  get: Record<string, AdminHandler>;
  post: Record<string, AdminHandler>;
}

const MAX_BODY = 64 * 1024;

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export function passwordFromRequest(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization ?? '';
  if (header.startsWith('Bearer ')) return header.slice(7);
  if (header.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    return decoded.slice(decoded.indexOf(':') + 1);
  }
  return undefined;
}

export function checkPassword(req: IncomingMessage, password: string): boolean {
  const given = passwordFromRequest(req);
  // Compare digests so the comparison is constant-time whatever the lengths.
  return given !== undefined && timingSafeEqual(digest(given), digest(password));
}

async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new AdminError(413, 'body-too-large', `request body over ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch {
    throw new AdminError(400, 'bad-json', 'the request body must be a JSON object');
  }
}

/** Returns an ops-server route handler for /api/*. */
export function adminRouter(routes: AdminRoutes, password: () => string) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (!path.startsWith('/api/')) return false;
    if (!checkPassword(req, password())) {
      res.setHeader('www-authenticate', 'Basic realm="lncluster"');
      sendJson(res, 401, { error: 'unauthorized', message: 'admin password required' });
      return true;
    }
    const name = path.slice('/api/'.length);
    const table = req.method === 'GET' ? routes.get : req.method === 'POST' ? routes.post : undefined;
    const handler = table?.[name];
    if (!handler) {
      sendJson(res, 404, { error: 'not-found', message: `no admin command ${req.method} ${name}` });
      return true;
    }
    try {
      const body = req.method === 'POST' ? await readJsonBody(req) : Object.fromEntries(new URL(req.url ?? '/', 'http://x').searchParams);
      sendJson(res, 200, await handler(body));
    } catch (error) {
      if (error instanceof AdminError) sendJson(res, error.status, { error: error.code, message: error.message });
      else sendJson(res, 500, { error: 'internal', message: error instanceof Error ? error.message : String(error) });
    }
    return true;
  };
}
