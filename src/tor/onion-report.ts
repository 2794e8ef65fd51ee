/**
 * How `lncluster tor` tells the back its onion address: POST /api/onion-address {"onionAddress": "<56>.onion"}
 * (or null when the service is down), authenticated with the admin password. The back keeps the address,
 * shows it in `getinfo` and puts it in its node_announcement.
 *
 * Both sides live here: the body check the back's route calls, and the client the controller uses.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AdminError } from '../back/admin-api.js';
import { isOnionV3Address } from './onion-address.js';

export const ONION_REPORT_COMMAND = 'onion-address';

/** The back's side: the reported address (lower-case, with ".onion"), or undefined to clear it. Rejects bad bodies with AdminError 400. */
export function parseOnionReport(body: Record<string, unknown>): string | undefined {
  const value = body['onionAddress'];
  if (value === null) return undefined;
  if (typeof value !== 'string') throw new AdminError(400, 'bad-onion-address', 'onionAddress must be a v3 onion address or null');
  const address = value.toLowerCase();
  const withSuffix = address.endsWith('.onion') ? address : `${address}.onion`;
  if (!isOnionV3Address(withSuffix)) throw new AdminError(400, 'bad-onion-address', `${JSON.stringify(value)} is not a v3 onion address`);
  return withSuffix;
}

export type OnionReportErrorCode = 'no-admin-endpoint' | 'admin-password' | 'unreachable' | 'rejected';

export class OnionReportError extends Error {
  override readonly name = 'OnionReportError';
  constructor(
    readonly code: OnionReportErrorCode,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

export interface AdminEndpoint {
  readonly url: string;
  readonly password: string;
}

/**
 * Finds the back's admin API: `discovery.back-admin-url` when set, otherwise the admin.json the back
 * writes in the data dir at start. Read again on every report, since a restarted back may have moved.
 */
export async function resolveAdminEndpoint(options: { backAdminUrl: string; dataDir: string; passwordFile: string }): Promise<AdminEndpoint> {
  let password: string;
  try {
    password = (await readFile(options.passwordFile, 'utf8')).trim();
  } catch (err) {
    throw new OnionReportError('admin-password', `cannot read the admin password file ${options.passwordFile} (back.admin-password-file)`, err);
  }
  if (options.backAdminUrl !== '') return { url: options.backAdminUrl.replace(/\/+$/, ''), password };
  const file = join(options.dataDir, 'admin.json');
  let url: unknown;
  try {
    url = (JSON.parse(await readFile(file, 'utf8')) as { adminUrl?: unknown }).adminUrl;
  } catch (err) {
    throw new OnionReportError('no-admin-endpoint', `no back admin URL: ${file} is missing (start the back, or set discovery.back-admin-url)`, err);
  }
  if (typeof url !== 'string' || url === '') throw new OnionReportError('no-admin-endpoint', `${file} has no adminUrl`);
  return { url, password };
}

/** Sends the address (null: the service is down). Rejects with OnionReportError. */
export async function reportOnionAddress(endpoint: AdminEndpoint, onionAddress: string | null, timeoutMs = 10_000): Promise<void> {
  let response: Response;
  try {
    response = await fetch(`${endpoint.url}/api/${ONION_REPORT_COMMAND}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${endpoint.password}`, 'content-type': 'application/json' },
      body: JSON.stringify({ onionAddress }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new OnionReportError('unreachable', `cannot reach the back's admin API at ${endpoint.url}: ${(err as Error).message}`, err);
  }
  const text = await response.text();
  if (!response.ok) throw new OnionReportError('rejected', `the back refused the onion address (${response.status}): ${text.trim()}`);
}
