import { readFileSync } from 'node:fs';
import { clusterCredentialsFromConfig } from '../config/cluster-credentials.js';
import { onShutdown, printReady, setupRole, UsageError } from '../cli/role.js';
import { Back } from './back.js';
import { createChannelEngine, loadBackIdentity } from './engine-factory.js';

/** `lncluster back`: the node's one back. */
export async function runBack(argv: string[]): Promise<number> {
  const { loaded, log } = setupRole('back', { argv });
  if (loaded.rest.length > 0) throw new UsageError(`unknown arguments for back: ${loaded.rest.join(' ')}`);
  const { config } = loaded;
  // One identity: the node key, or LDK's (checked against the node key) when LDK is the engine.
  const identity = await loadBackIdentity(config, log);
  const credentials = await clusterCredentialsFromConfig(config);
  let adminPassword: string;
  try {
    adminPassword = readFileSync(config['back.admin-password-file'], 'utf8').trim();
  } catch {
    throw new UsageError(`cannot read the admin password file ${config['back.admin-password-file']} (back.admin-password-file)`);
  }
  const back = new Back({
    config,
    log,
    credentials,
    nodeId: identity.nodeId,
    ecdh: identity.ecdh,
    nodeSecret: identity.secret,
    adminPassword,
    // Our public channels' announcements go into the routing table and out through the fronts.
    createEngine: (host) => createChannelEngine(config, host, { onGossip: (messages) => back.ingestOwnGossip(messages) }),
  });
  const started = await back.start();
  onShutdown(() => back.stop(), log);
  printReady({ role: 'back', id: 'back', nodeId: back.nodeIdHex, cluster: started.clusterAddress, adminUrl: started.adminUrl, metrics: `${started.adminUrl}/metrics` });
  return await new Promise<number>(() => undefined); // runs until a signal
}
