import { readFileSync } from 'node:fs';
import type { Config } from '../config/keys.js';
import { loadNodeKey } from '../config/node-key.js';
import { defaultCrypto } from '../lightning/crypto/index.js';
import type { Network } from '../lightning/chains.js';
import { DEFAULT_ENGINE_FEATURES } from '../front/front-features.js';
import { UsageError } from '../cli/role.js';
import { moduleLogger, type Logger } from '../util/log.js';
import type { ChannelEngine, ChannelEngineHost } from './channel-engine.js';
import { BitcoindChainSource } from './channels/bitcoind.js';
import type { EngineEvent } from './channels/ldk-engine.js';
import { ldkEngineDir, prepareLdkIdentity } from './channels/ldk-identity.js';
import { localEcdh } from './ecdh-service.js';
import { RejectingChannelEngine } from './rejecting-engine.js';

/** What the rest of the back may plug into the engine. */
export interface EngineHooks {
  /**
   * Gossip the engine wants announced (LDK's channel_announcement, channel_update and
   * node_announcement for public channels), whole wire messages, type included. The hook for the
   * routing table and the fronts' rebroadcast; without it they are only logged.
   */
  onGossip?: (messages: Uint8Array[]) => void;
  /** Channel and payment events (channel pending/ready/closed, payments); default: logged. */
  onEvent?: (event: EngineEvent) => void;
}

const NO_CHAIN = 'back.channel-engine = ldk needs a chain: set bitcoind.rpc-url (Bitcoin Core JSON-RPC, e.g. http://127.0.0.1:8332)';

/** The node identity the back serves: the node key, or LDK's when LDK is the engine (one identity). */
export interface BackIdentity {
  nodeId: Uint8Array;
  /** BOLT 8 static-key ECDH for keyless fronts. */
  ecdh(point: Uint8Array): Uint8Array;
  /** The node secret, to sign our node_announcement. */
  secret?: Uint8Array;
}

export async function loadBackIdentity(config: Config, log: Logger = moduleLogger('identity')): Promise<BackIdentity> {
  switch (config['back.channel-engine']) {
    case 'none': {
      const key = await loadNodeKey(config);
      return { nodeId: key.nodeId, ecdh: localEcdh(defaultCrypto(), key.secret), secret: key.secret };
    }
    case 'ldk':
      // Refuse an engine without a chain before LDK's first start switches the node's identity.
      if (!config['bitcoind.rpc-url']) throw new UsageError(NO_CHAIN);
      return prepareLdkIdentity(config, log);
  }
}

/** bitcoind's `chain` names per network. */
const CORE_CHAIN: Record<Network, string> = { bitcoin: 'main', testnet: 'test', signet: 'signet', regtest: 'regtest' };

/** The chain source `bitcoind.*` describes, checked reachable and on our network. */
export async function bitcoindFromConfig(config: Config, log: Logger): Promise<BitcoindChainSource> {
  const url = config['bitcoind.rpc-url'];
  if (!url) throw new UsageError(NO_CHAIN);
  let password = '';
  const passwordFile = config['bitcoind.rpc-password-file'];
  if (passwordFile) {
    try {
      password = readFileSync(passwordFile, 'utf8').trim();
    } catch {
      throw new UsageError(`cannot read the bitcoind RPC password file ${passwordFile} (bitcoind.rpc-password-file)`);
    }
  }
  const network = config.network as Network;
  const wallet = config['bitcoind.wallet'];
  const source = new BitcoindChainSource({
    url,
    username: config['bitcoind.rpc-user'],
    password,
    network,
    ...(wallet ? { wallet } : {}),
    pollIntervalMs: config['bitcoind.poll-interval-ms'],
    log: log.child({ module: 'bitcoind' }),
  });
  let chain: string;
  try {
    chain = (await source.call<{ chain: string }>('getblockchaininfo')).chain;
  } catch (error) {
    throw new UsageError(`cannot use bitcoind at ${url} (bitcoind.rpc-url): ${(error as Error).message}`);
  }
  if (chain !== CORE_CHAIN[network]) throw new UsageError(`bitcoind at ${url} is on chain ${chain}, but network is ${network}`);
  await source.start();
  return source;
}

function logEvent(log: Logger): (event: EngineEvent) => void {
  return (event) => log.info({ ...JSON.parse(JSON.stringify(event, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))) }, `channel engine: ${event.type}`);
}

/** The channel engine `back.channel-engine` names. */
export async function createChannelEngine(config: Config, host: ChannelEngineHost, hooks: EngineHooks = {}): Promise<ChannelEngine> {
  const log = moduleLogger('channels');
  switch (config['back.channel-engine']) {
    case 'none':
      return new RejectingChannelEngine(host, DEFAULT_ENGINE_FEATURES, log);
    case 'ldk': {
      const source = await bitcoindFromConfig(config, log);
      const logged = logEvent(log);
      const { startLdkEngine } = await import('./channels/ldk-engine.js');
      try {
        return await startLdkEngine({
          dataDir: ldkEngineDir(config),
          chain: source,
          host,
          onGossip: (messages) => {
            log.debug({ messages: messages.length, hooked: hooks.onGossip !== undefined }, 'gossip from the channel engine');
            hooks.onGossip?.(messages);
          },
          onEvent: (event) => {
            logged(event);
            hooks.onEvent?.(event);
          },
          onClosed: () => source.stop(),
          configure: (userConfig) => {
            // The node serves its peers' private channels too (clients of a cluster node rarely
            // announce theirs): forward to them, as route hints in their invoices ask.
            userConfig.set_accept_forwards_to_priv_channels(true);
            // Accept public and private channels alike (LDK refuses by default an inbound channel
            // whose announcement preference differs from our own default, private).
            userConfig.get_channel_handshake_limits().set_force_announced_channel_preference(false);
          },
          log,
        });
      } catch (error) {
        source.stop();
        throw error;
      }
    }
  }
}
