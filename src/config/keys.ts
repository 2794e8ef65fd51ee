import { z } from 'zod';

/**
 * Every configuration key of every role, with its type, default and meaning: the one place defaults
 * live. Keys are flat and dotted (`front.node-key`), the same in files, environment and flags:
 * - file: `key = value` lines, `#` comments (see config/*.conf);
 * - environment: `LNCLUSTER_` + key upper-cased with `.` and `-` as `_` (LNCLUSTER_FRONT_NODE_KEY),
 *   plus the names operators of eclair's cluster mode already use (see LEGACY_ENV);
 * - flags: `--key value` or `--key=value`.
 * Later sources override earlier ones: defaults < file < environment < flags.
 */

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'host:port (IPv6 in brackets)')
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'a port in 0..65535');
const optionalHostPort = z.union([z.literal(''), hostPort]);
const list = z.array(z.string());
const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().nonnegative();
const level = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
const nodeIdHex = z.union([z.literal(''), z.string().regex(/^0[23][0-9a-f]{64}$/, '66 hex characters of a compressed public key (02.. or 03..)')]);

export const CONFIG_KEYS = {
  network: { schema: z.enum(['bitcoin', 'testnet', 'signet', 'regtest']), default: 'bitcoin', doc: 'chain: sent in init networks and checked in gossip' },
  'data-dir': { schema: z.string().min(1), default: '.lncluster', doc: 'where keys, certificates and databases live' },
  'log.level': { schema: level, default: 'info', doc: 'log level; log.level.<module> overrides one module' },
  'ops.listen': { schema: hostPort, default: '127.0.0.1:0', doc: 'metrics, /health and /ready of this process (the back serves its admin API here too)' },

  'node-key.provider': { schema: z.enum(['file', 'env', 'aws-sm']), default: 'file', doc: 'where the node secret key comes from' },
  'node-key.file': { schema: z.string(), default: '', doc: 'node key file (hex, mode 0600); default <data-dir>/node_key' },
  'node-key.env': { schema: z.string().min(1), default: 'LNCLUSTER_NODE_KEY', doc: 'environment variable holding the node key (hex) for provider env' },
  'node-key.aws-secret': { schema: z.string(), default: '', doc: 'AWS Secrets Manager secret id for provider aws-sm' },
  'node-id': { schema: nodeIdHex, default: '', doc: 'the node id this process must serve (NODE_PUB_KEY); refuses to start on mismatch' },

  'cluster.cert': { schema: z.string(), default: '', doc: 'cluster certificate (PEM); default <data-dir>/cluster.crt' },
  'cluster.key': { schema: z.string(), default: '', doc: 'cluster private key (encrypted PEM); default <data-dir>/cluster.key' },
  'cluster.trusted-certs': { schema: list, default: [], doc: 'extra trusted cluster certificates (rotation: old and new trusted together)' },
  'cluster.password-file': { schema: z.string(), default: '', doc: 'file with the cluster key password; default <data-dir>/cluster.password' },
  'cluster.password': { schema: z.string(), default: '', doc: 'cluster key password (CLUSTER_TLS_PASSWORD); prefer the file' },

  'back.cluster-listen': { schema: hostPort, default: '127.0.0.1:9736', doc: 'where fronts connect (cluster link, mutual TLS)' },
  'back.admin-password-file': { schema: z.string(), default: '', doc: 'admin API password; default <data-dir>/admin.password' },
  'back.max-unfunded-inbound-peers': { schema: nonNegativeInt, default: 64, doc: 'inbound peers without channels kept; oldest evicted first' },
  'back.public-addresses': { schema: list, default: [], doc: 'addresses announced in node_announcement (host:port)' },
  'back.alias': { schema: z.string().max(32), default: 'lncluster', doc: 'node alias' },
  'back.ecdh-rate-per-front': { schema: positiveInt, default: 2000, doc: 'delegated ECDH requests per second allowed per front' },

  'front.id': { schema: z.string(), default: '', doc: 'this front id; default <hostname>-<pid>' },
  'front.back': { schema: hostPort, default: '127.0.0.1:9736', doc: 'the back cluster address (BACKEND_IP sets its host)' },
  'front.listen': { schema: hostPort, default: '0.0.0.0:9735', doc: 'where peers (or the balancer) connect' },
  'front.advertise': { schema: z.string(), default: '', doc: 'this front address reachable from the back and the balancer (LOCAL_IP)' },
  'front.node-key': { schema: z.enum(['local', 'delegated']), default: 'delegated', doc: 'local: load the node key; delegated: ask the back for the one ECDH per handshake' },
  'front.proxy-trusted': { schema: list, default: [], doc: 'source addresses whose connections must start with a PROXY v2 header' },
  'front.max-peers': { schema: positiveInt, default: 10000, doc: 'peer sessions on this front' },
  'front.max-handshakes-per-ip': { schema: positiveInt, default: 8, doc: 'concurrent handshakes per source address' },
  'front.disconnect-grace-ms': { schema: nonNegativeInt, default: 30000, doc: 'peers kept this long after the back is lost' },
  'front.dial-source-address': { schema: z.string(), default: '', doc: 'local address outgoing peer connections are made from (multi-homed hosts)' },
  'front.tor-socks': { schema: optionalHostPort, default: '', doc: 'Tor SOCKS5 proxy for .onion peers' },

  'front.tor-all': { schema: z.enum(['true', 'false']).transform((v) => v === 'true'), default: 'false', doc: 'dial every peer through front.tor-socks, not only .onion' },
  'front.tor-isolate': { schema: z.enum(['true', 'false']).transform((v) => v === 'true'), default: 'false', doc: 'random SOCKS credentials per connection (Tor stream isolation)' },

  'back.channel-engine': { schema: z.enum(['none', 'ldk']), default: 'none', doc: 'none: refuse channels; ldk: LDK ChannelManager (needs bitcoind.*)' },
  'back.color': { schema: z.string().regex(/^[0-9a-fA-F]{6}$/, '6 hex digits'), default: '3399ff', doc: 'node color in node_announcement' },
  'bitcoind.rpc-url': { schema: z.string(), default: '', doc: 'Bitcoin Core JSON-RPC URL (http://127.0.0.1:8332)' },
  'bitcoind.rpc-user': { schema: z.string(), default: '', doc: 'Bitcoin Core RPC user' },
  'bitcoind.rpc-password-file': { schema: z.string(), default: '', doc: 'file with the Bitcoin Core RPC password' },
  'bitcoind.wallet': { schema: z.string(), default: '', doc: 'Bitcoin Core wallet used to fund channels' },
  'bitcoind.poll-interval-ms': { schema: positiveInt, default: 5000, doc: 'how often the channel engine asks bitcoind for a new tip' },

  'gossip.sync-peers': { schema: nonNegativeInt, default: 5, doc: 'peers the node syncs gossip from (eclair uses 5)' },
  'gossip.funding-check': { schema: z.enum(['true', 'false']).transform((v) => v === 'true'), default: 'false', doc: 'check channel funding outputs with bitcoind (gettxout)' },
  'gossip.rebroadcast-interval-ms': { schema: positiveInt, default: 60000, doc: 'fronts rebroadcast accepted gossip this often (per-peer random delay within it)' },
  'gossip.queries-per-second': { schema: positiveInt, default: 5, doc: 'gossip queries answered per second per peer' },
  'gossip.db': { schema: z.string(), default: '', doc: 'routing table database; default <data-dir>/gossip.sqlite' },

  'discovery': { schema: z.enum(['embedded', 'consul', 'static']), default: 'embedded', doc: 'who is alive: the back (embedded, one machine), Consul, or a static list' },
  'discovery.back-admin-url': { schema: z.string(), default: '', doc: 'embedded discovery: the back admin URL (default: from <data-dir>/admin.json)' },
  'discovery.static': { schema: list, default: [], doc: 'static discovery: fronts as id@host:port' },
  'consul.url': { schema: z.string(), default: 'http://127.0.0.1:8500', doc: 'Consul agent HTTP API' },
  'consul.token': { schema: z.string(), default: '', doc: 'Consul ACL token' },
  'consul.datacenter': { schema: z.string(), default: '', doc: 'Consul datacenter' },
  'consul.check': { schema: z.enum(['ttl', 'http']), default: 'ttl', doc: 'front health check: TTL kept alive by the front, or Consul polling /health' },
  'consul.ttl-ms': { schema: positiveInt, default: 10000, doc: 'front TTL check: Consul marks a front critical when not renewed this long (renewed every third)' },

  'balancer.listen': { schema: list, default: ['0.0.0.0:9735', '[::]:9735'], doc: 'public addresses of the balancer' },
  'balancer.tor-listen': { schema: z.string(), default: '', doc: 'local listener for Tor (onion service target); connections are tagged "tor"' },
  'balancer.engine': { schema: z.enum(['builtin', 'haproxy']), default: 'builtin', doc: 'data plane' },
  'balancer.workers': { schema: positiveInt, default: 1, doc: 'processes sharing the listening socket (builtin)' },
  'balancer.data-path': { schema: z.enum(['auto', 'native', 'node']), default: 'auto', doc: 'builtin engine: who moves the bytes: native (C module built by npm ci), node (net.Socket, twice the CPU per connection), auto (native when built)' },
  'balancer.max-connections': { schema: positiveInt, default: 20000, doc: 'global cap on open connections' },
  'balancer.max-connections-per-ip': { schema: positiveInt, default: 64, doc: 'open connections per source address' },
  'balancer.max-new-per-ip-per-second': { schema: positiveInt, default: 20, doc: 'new connections per second per source address' },
  'balancer.idle-timeout-ms': { schema: positiveInt, default: 30000, doc: 'close connections that never send a byte' },
  'balancer.haproxy-binary': { schema: z.string(), default: '', doc: 'haproxy executable (default: found in PATH)' },

  'tor.control': { schema: optionalHostPort, default: '', doc: 'Tor control port (127.0.0.1:9051); empty: no onion service' },
  'tor.password-file': { schema: z.string(), default: '', doc: 'Tor control password file (when cookie auth is not available)' },
  'tor.key-file': { schema: z.string(), default: '', doc: 'onion service key; default <data-dir>/onion.key' },
  'tor.targets': { schema: list, default: [], doc: 'static onion targets (host:port each); default: balancer.tor-listen' },

  'peer.ping-interval-ms': { schema: positiveInt, default: 30000, doc: 'ping peers silent this long' },
  'peer.pong-timeout-ms': { schema: positiveInt, default: 60000, doc: 'disconnect when a pong is this late' },
  'peer.handshake-timeout-ms': { schema: positiveInt, default: 30000, doc: 'BOLT 8 handshake deadline' },
  'peer.init-timeout-ms': { schema: positiveInt, default: 30000, doc: 'init exchange deadline' },
  'peer.connect-timeout-ms': { schema: positiveInt, default: 20000, doc: 'outgoing TCP connect deadline' },
} as const;

export type ConfigKey = keyof typeof CONFIG_KEYS;
export type Config = { -readonly [K in ConfigKey]: z.infer<(typeof CONFIG_KEYS)[K]['schema']> };

/** Environment names from eclair's cluster mode, mapped to our keys. */
export const LEGACY_ENV: Record<string, { key: ConfigKey; transform?: (value: string) => string }> = {
  BACKEND_IP: { key: 'front.back', transform: (ip) => (ip.includes(':') && !ip.startsWith('[') ? `[${ip}]` : ip) + ':9736' },
  LOCAL_IP: { key: 'front.advertise' },
  NODE_PUB_KEY: { key: 'node-id' },
  CLUSTER_TLS_PASSWORD: { key: 'cluster.password' },
};

export const SECRET_KEYS: ReadonlySet<ConfigKey> = new Set(['cluster.password']);
