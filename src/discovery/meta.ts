/**
 * Validation and string encoding of instances and their metadata.
 *
 * Registries such as Consul keep service meta as string -> string with limits on keys and values;
 * checking them here gives every implementation the same rules and an early, typed error instead of
 * a registry rejection at run time.
 */
import { DiscoveryError } from './errors.js';
import { INSTANCE_ROLES, type InstanceMeta, type InstanceRole, type MetaValue, type ServiceInstance } from './types.js';

/** Consul's limits (structs.ValidateMetadata): 64 pairs, keys of [A-Za-z0-9_-] up to 128, values up to 512. */
export const META_MAX_PAIRS = 64;
export const META_MAX_KEY_LENGTH = 128;
export const META_MAX_VALUE_LENGTH = 512;
const META_KEY = /^[A-Za-z0-9_-]+$/;
const RESERVED_PREFIX = 'consul-';
const MAX_ID_LENGTH = 256;

function invalid(message: string): DiscoveryError {
  return new DiscoveryError('DISCOVERY_INVALID_INSTANCE', message);
}

export function isInstanceRole(value: unknown): value is InstanceRole {
  return typeof value === 'string' && (INSTANCE_ROLES as readonly string[]).includes(value);
}

function encodeValue(key: string, value: MetaValue): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalid(`meta ${key} must be a finite number`);
    return String(value);
  }
  throw invalid(`meta ${key} must be a string, number or boolean`);
}

/** Metadata as the registry stores it. Throws DISCOVERY_INVALID_INSTANCE when it breaks a registry limit. */
export function encodeMeta(meta: InstanceMeta): Record<string, string> {
  if (!isInstanceRole(meta.role)) throw invalid(`meta role must be one of ${INSTANCE_ROLES.join(', ')}`);
  const out: Record<string, string> = {};
  let pairs = 0;
  for (const [key, value] of Object.entries(meta)) {
    const encoded = encodeValue(key, value);
    if (encoded === undefined) continue;
    if (!META_KEY.test(key)) throw invalid(`meta key ${JSON.stringify(key)} may only contain letters, digits, '_' and '-'`);
    if (key.length > META_MAX_KEY_LENGTH) throw invalid(`meta key ${JSON.stringify(key)} is longer than ${META_MAX_KEY_LENGTH}`);
    if (key.startsWith(RESERVED_PREFIX)) throw invalid(`meta key prefix '${RESERVED_PREFIX}' is reserved`);
    if (encoded.length > META_MAX_VALUE_LENGTH) throw invalid(`meta ${key} is longer than ${META_MAX_VALUE_LENGTH} characters`);
    if (++pairs > META_MAX_PAIRS) throw invalid(`meta cannot hold more than ${META_MAX_PAIRS} pairs`);
    out[key] = encoded;
  }
  return out;
}

/**
 * Metadata read back from the registry. Known keys get their types back (`load` number, `draining`
 * boolean); a known key whose value does not parse is dropped rather than passed on wrongly typed.
 * Returns undefined when there is no valid role: such an entry was not registered by lncluster.
 */
export function decodeMeta(raw: unknown): InstanceMeta | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const record = raw as Record<string, unknown>;
  if (!isInstanceRole(record['role'])) return undefined;
  const meta: InstanceMeta = { role: record['role'] };
  for (const [key, value] of Object.entries(record)) {
    if (key === 'role' || typeof value !== 'string') continue;
    if (key === 'load') {
      const n = Number(value);
      if (value.trim() !== '' && Number.isFinite(n)) meta.load = n;
    } else if (key === 'draining') {
      if (value === 'true') meta.draining = true;
      else if (value === 'false') meta.draining = false;
    } else {
      meta[key] = value;
    }
  }
  return meta;
}

/** Checks an instance before it is registered anywhere. */
export function validateInstance(instance: ServiceInstance): void {
  if (instance === null || typeof instance !== 'object') throw invalid('instance must be an object');
  for (const field of ['id', 'service', 'address'] as const) {
    const value = instance[field];
    if (typeof value !== 'string' || value.length === 0) throw invalid(`instance ${field} must be a non-empty string`);
    if (value.length > MAX_ID_LENGTH) throw invalid(`instance ${field} is longer than ${MAX_ID_LENGTH}`);
    // Ids and names end up in URL paths: control characters and '/' would address another resource.
    if (/[\u0000-\u001f/?#]/.test(value) && field !== 'address') throw invalid(`instance ${field} contains '/', '?', '#' or a control character`);
  }
  if (instance.address === '0.0.0.0' || instance.address === '::') {
    throw invalid('instance address must be reachable, not a wildcard');
  }
  if (!Number.isInteger(instance.port) || instance.port < 1 || instance.port > 65535) {
    throw invalid('instance port must be an integer in 1..65535');
  }
  encodeMeta(instance.meta);
}

export function compareInstances(a: ServiceInstance, b: ServiceInstance): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** A stable text form of a snapshot's instances, to tell a real change from a repeat. */
export function instancesFingerprint(instances: readonly ServiceInstance[]): string {
  return JSON.stringify(
    instances.map((i) => [i.id, i.service, i.address, i.port, Object.entries(i.meta).filter(([, v]) => v !== undefined).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))]),
  );
}

export function cloneInstance(instance: ServiceInstance): ServiceInstance {
  return { id: instance.id, service: instance.service, address: instance.address, port: instance.port, meta: { ...instance.meta } };
}
