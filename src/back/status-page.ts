import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { sendJson } from '../util/ops-server.js';
import { checkPassword } from './admin-api.js';
import { RecentLog, teeRecentLog } from './recent-log.js';
import { STATUS_PAGE_CSS, STATUS_PAGE_HTML, STATUS_PAGE_JS } from './status-page-assets.js';

/**
 * The back's read-only status page, on the ops port next to the admin API and behind the same
 * password (HTTP Basic, so a browser prompts for it; any user name). The page itself is static: its
 * script fetches /api/getinfo, /api/fronts, /api/peers and /api/recent-errors every 2 s and renders
 * them with DOM text nodes only (peer-supplied strings never become markup).
 *
 * Routes: GET / and /status (the page), /status/app.js, /status/app.css, /api/recent-errors (the
 * last warnings and errors of this process). Everything else goes to the admin router.
 */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export interface StatusPageOptions {
  /** The admin password (read per request, like the admin API does). */
  password: () => string;
  /** The back's logger: its warnings and errors feed the "recent errors" table. */
  log?: Logger;
  /** Where recent errors are kept; default a new ring of 50 entries attached to `log`. */
  recentLog?: RecentLog;
}

export const RECENT_ERRORS_COMMAND = 'recent-errors';

const ASSETS: Record<string, { type: string; body: string }> = {
  '/': { type: 'text/html; charset=utf-8', body: STATUS_PAGE_HTML },
  '/status': { type: 'text/html; charset=utf-8', body: STATUS_PAGE_HTML },
  '/status/app.js': { type: 'text/javascript; charset=utf-8', body: STATUS_PAGE_JS },
  '/status/app.css': { type: 'text/css; charset=utf-8', body: STATUS_PAGE_CSS },
};

/** Headers that keep the page from being framed, cached or running anything but its own script. */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

function unauthorized(res: ServerResponse): void {
  res.setHeader('www-authenticate', 'Basic realm="lncluster", charset="UTF-8"');
  sendJson(res, 401, { error: 'unauthorized', message: 'admin password required' });
}

/**
 * Wraps the admin router with the status page. The returned handler is what the back plugs into
 * its ops server's `routes`.
 */
export function withStatusPage(admin: RouteHandler, options: StatusPageOptions): RouteHandler {
  const recent = options.recentLog ?? (options.log ? teeRecentLog(options.log).recent : new RecentLog());
  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const asset = ASSETS[path];
    const isRecent = path === `/api/${RECENT_ERRORS_COMMAND}`;
    if (!asset && !isRecent) return admin(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      if (isRecent) return admin(req, res); // the admin router answers "no such command"
      res.writeHead(405, { allow: 'GET, HEAD' });
      res.end();
      return true;
    }
    if (!checkPassword(req, options.password())) {
      unauthorized(res);
      return true;
    }
    if (isRecent) {
      sendJson(res, 200, { total: recent.total, capacity: recent.capacity, entries: recent.entries() });
      return true;
    }
    res.writeHead(200, { 'content-type': asset!.type, 'content-length': Buffer.byteLength(asset!.body), ...SECURITY_HEADERS });
    res.end(req.method === 'HEAD' ? undefined : asset!.body);
    return true;
  };
}
