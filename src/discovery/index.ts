export * from './types.js';
export * from './errors.js';
export { encodeMeta, decodeMeta, validateInstance, isInstanceRole } from './meta.js';
export { ConsulDiscovery, CONSUL_DISCOVERY_DEFAULTS, parseHealthService, type ConsulDiscoveryOptions, type ConsulErrorContext } from './consul.js';
export { StaticDiscovery } from './static.js';
