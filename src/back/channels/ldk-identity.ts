/**
 * One node identity with LDK: LDK's KeysManager (from the seed in the engine's folder) is the source
 * of truth, because every channel key and invoice signature comes from it and it cannot be made to
 * use another node secret. The configured node key (what fronts holding the key, the ready line and
 * NODE_PUB_KEY use) must equal it:
 *   - first start of the LDK engine (no seed yet): the seed is created, and with
 *     `node-key.provider = file` the node key file is written from LDK's node secret; a node key
 *     file already there (made by `keygen` or the demo, never used for channels since the back had
 *     no channel engine) is moved aside to `<file>.pre-ldk`, never deleted;
 *   - later starts: the configured node key must be LDK's, or the back refuses to start.
 * With providers `env` and `aws-sm` nothing is written there: the secret to store is in
 * `<engine dir>/node_key` (mode 0600), written at the seed's creation.
 * ECDH for keyless fronts is LDK's `NodeSigner.ecdh` (BOLT 8's static-key ECDH).
 */
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import * as ldk from 'lightningdevkit';
import type { Config } from '../../config/keys.js';
import { assertExpectedNodeId, loadNodeKey, NodeKeyError } from '../../config/node-key.js';
import { writeNodeKeyFile } from '../../cluster/node-key.js';
import type { Logger } from '../../util/log.js';
import { ChannelEngineError } from './errors.js';
import { loadLdk } from './ldk-wasm.js';
import { atomicWrite, ChannelStore } from './store.js';

export interface LdkIdentity {
  /** 33-byte node id (LDK's). */
  nodeId: Uint8Array;
  /** BOLT 8 static-key ECDH through LDK's NodeSigner. */
  ecdh(point: Uint8Array): Uint8Array;
  /** The folder holding the seed, the channel manager and monitors. */
  engineDir: string;
  /** LDK's node secret (the node key), to sign our node_announcement. */
  secret: Uint8Array;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The LDK engine's folder inside the data dir. */
export function ldkEngineDir(config: Config): string {
  return join(config['data-dir'], 'ldk');
}

/** A KeysManager's node-level signer for `seed` (the start time only salts ephemeral keys). */
export function ldkKeysFromSeed(seed: Uint8Array): ldk.KeysManager {
  const now = Date.now();
  return ldk.KeysManager.constructor_new(seed, BigInt(Math.floor(now / 1000)), (now % 1000) * 1_000_000);
}

export function ldkEcdh(keys: ldk.KeysManager, point: Uint8Array): Uint8Array {
  if (!(point instanceof Uint8Array) || point.length !== 33) throw new ChannelEngineError('bad-input', 'ecdh: expected a 33-byte point');
  const result = keys.as_NodeSigner().ecdh(ldk.Recipient.LDKRecipient_Node, point, ldk.Option_BigEndianScalarZ.constructor_none());
  if (!(result instanceof ldk.Result_ThirtyTwoBytesNoneZ_OK)) throw new ChannelEngineError('bad-input', 'ecdh: invalid point');
  return result.res;
}

/** Loads (creating on first start) LDK's identity and checks the configured node key against it. */
export async function prepareLdkIdentity(config: Config, log: Logger): Promise<LdkIdentity> {
  await loadLdk();
  const engineDir = ldkEngineDir(config);
  const firstStart = !existsSync(join(engineDir, 'seed'));
  const store = new ChannelStore(engineDir);
  const keys = ldkKeysFromSeed(store.loadOrCreateSeed());
  const secret = keys.get_node_secret_key();
  const signerId = keys.as_NodeSigner().get_node_id(ldk.Recipient.LDKRecipient_Node);
  if (!(signerId instanceof ldk.Result_PublicKeyNoneZ_OK)) throw new ChannelEngineError('bad-seed', 'LDK derived no node id from the seed');
  const nodeId = signerId.res;
  const exported = join(engineDir, 'node_key');
  if (firstStart || !existsSync(exported)) atomicWrite(exported, new TextEncoder().encode(`${hex(secret)}\n`));

  if (config['node-key.provider'] === 'file') {
    const file = config['node-key.file'];
    if (firstStart && existsSync(file)) {
      renameSync(file, `${file}.pre-ldk`);
      log.warn({ file, kept: `${file}.pre-ldk`, nodeId: hex(nodeId) }, 'first start of the LDK engine: the node key is now LDK\'s; the previous one was moved aside');
    }
    if (!existsSync(file)) await writeNodeKeyFile(file, { secretKey: secret });
  }
  assertExpectedNodeId(config, nodeId, `LDK's seed ${join(engineDir, 'seed')}`);
  const configured = await loadNodeKey(config);
  if (hex(configured.nodeId) !== hex(nodeId)) {
    throw new NodeKeyError(
      'node-id-mismatch',
      `the node key (node-key.provider = ${config['node-key.provider']}) is node id ${hex(configured.nodeId)}, but the LDK channel engine's seed ` +
        `${join(engineDir, 'seed')} is node id ${hex(nodeId)}: with back.channel-engine = ldk the node key must be LDK's ` +
        `(its secret is in ${exported}); refusing to start`,
    );
  }
  log.info({ nodeId: hex(nodeId), firstStart }, 'node identity from LDK\'s seed');
  return { nodeId, ecdh: (point) => ldkEcdh(keys, point), engineDir, secret };
}
