import { clusterCredentialsFromConfig } from '../config/cluster-credentials.js';
import { loadNodeKey } from '../config/node-key.js';
import { onShutdown, printReady, setupRole, UsageError } from '../cli/role.js';
import { Front } from './front.js';
import { torDialFromConfig } from './tor-dial.js';
import { registerFront, type FrontRegistration } from './registration.js';

/** `lncluster front`: one stateless front. */
export async function runFront(argv: string[]): Promise<number> {
  const { loaded, log } = setupRole('front', { argv });
  if (loaded.rest.length > 0) throw new UsageError(`unknown arguments for front: ${loaded.rest.join(' ')}`);
  const { config } = loaded;
  // Keyless (delegated) fronts never read the node key, from any source.
  const nodeKey = config['front.node-key'] === 'local' ? await loadNodeKey(config) : undefined;
  const credentials = await clusterCredentialsFromConfig(config);
  // discovery = consul: the front's own registration carries what the back tells it (drain, node id),
  // since the balancer reads Consul, not the back. Hooks that fire before the registration exists
  // (during start) are covered by registering with the front's state at that time.
  let registration: FrontRegistration | null = null;
  let publishedNodeId = nodeKey ? Buffer.from(nodeKey.nodeId).toString('hex') : config['node-id'] || undefined;
  // front.tor-socks: .onion hosts are dialed through Tor (front.tor-all needs dialer.ts to ask torDial.proxies(host)).
  const front = new Front({
    config,
    log,
    credentials,
    nodeKey,
    proxyDial: torDialFromConfig(config)?.proxyDial,
    onServiceState: ({ draining }) => void registration?.updateMeta({ draining }),
    // A keyless front without `node-id` learns the node id from the back, and may relink to a back of another node.
    onLinked: (nodeId) => {
      if (!registration || nodeId === publishedNodeId) return;
      publishedNodeId = nodeId;
      void registration.updateMeta({ nodeId });
    },
  });
  const started = await front.start();
  publishedNodeId ??= front.nodeIdHex;
  // Deregistered first on SIGTERM so the balancer stops choosing it.
  registration = registerFront({
    config,
    log,
    frontId: front.id,
    listen: started.listen,
    opsUrl: started.opsUrl,
    nodeId: publishedNodeId,
    draining: front.serviceState.draining,
  });
  onShutdown(async () => {
    await registration?.deregister();
    await front.stop();
  }, log);
  printReady({ role: 'front', id: front.id, listen: started.listen, metrics: `${started.opsUrl}/metrics`, health: `${started.opsUrl}/health` });
  return await new Promise<number>(() => undefined);
}
