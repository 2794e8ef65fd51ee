import { FeatureError } from './errors.js';

/** Where a feature may be presented (BOLT 9 Context column). */
export type FeatureContext = 'init' | 'node_announcement' | 'channel_announcement' | 'invoice' | 'blinded_path' | 'channel_type';

export interface FeatureDef {
  /** The BOLT 9 name, e.g. `option_data_loss_protect`. */
  readonly name: string;
  /** The even (required) bit; the optional bit is `bit + 1`. */
  readonly bit: number;
  readonly contexts: readonly FeatureContext[];
  /** For channel_announcement: 'C-' always odd, 'C+' always even, 'C' either. */
  readonly channelAnnouncementParity?: 'odd' | 'even';
  readonly dependsOn: readonly string[];
  /** ASSUMED by BOLT 9 today: every node has it, but peers (e.g. LDK) still expect the bit in `init`. */
  readonly assumed: boolean;
  /** Dropped from BOLT 9 but still seen on the network. */
  readonly deprecated: boolean;
}

const I: FeatureContext = 'init';
const N: FeatureContext = 'node_announcement';
const NINE: FeatureContext = 'invoice';
const T: FeatureContext = 'channel_type';

function def(name: string, bit: number, contexts: FeatureContext[], dependsOn: string[] = [], flags: { assumed?: boolean; deprecated?: boolean } = {}): FeatureDef {
  return { name, bit, contexts, dependsOn, assumed: flags.assumed ?? false, deprecated: flags.deprecated ?? false };
}

/**
 * BOLT 9 (lightning/bolts a3772650) plus what is still needed to talk to real peers. ASSUMED features have
 * no context in today's table; they keep the contexts they had when they were listed (IN, or IN9), because
 * implementations still send and check them in `init` (LDK requires data_loss_protect and static_remotekey).
 * Their old dependencies (payment_secret -> var_onion_optin, gossip_queries_ex -> gossip_queries,
 * option_anchors -> option_static_remotekey) are kept as well: all are assumed, so they cost nothing.
 */
export const KNOWN_FEATURES: readonly FeatureDef[] = [
  def('option_data_loss_protect', 0, [I, N], [], { assumed: true }),
  def('option_upfront_shutdown_script', 4, [I, N]),
  // BOLT 9 lists gossip_queries with no context now ("peer has useful gossip to share"), yet it is offered
  // in init and node_announcement exactly as before: keep IN.
  def('gossip_queries', 6, [I, N]),
  def('var_onion_optin', 8, [I, N, NINE], [], { assumed: true }),
  def('gossip_queries_ex', 10, [I, N], ['gossip_queries']),
  def('option_static_remotekey', 12, [I, N], [], { assumed: true }),
  def('payment_secret', 14, [I, N, NINE], ['var_onion_optin'], { assumed: true }),
  def('basic_mpp', 16, [I, N, NINE], ['payment_secret']),
  def('option_support_large_channel', 18, [I, N]),
  def('option_anchor_outputs', 20, [I, N], ['option_static_remotekey'], { deprecated: true }),
  def('option_anchors', 22, [I, N, T], ['option_static_remotekey']),
  def('option_route_blinding', 24, [I, N, NINE]),
  def('option_shutdown_anysegwit', 26, [I, N]),
  def('option_dual_fund', 28, [I, N]),
  def('option_quiesce', 34, [I, N]),
  def('option_attribution_data', 36, [I, N, NINE]),
  def('option_onion_messages', 38, [I, N]),
  def('option_provide_storage', 42, [I, N]),
  def('option_channel_type', 44, [I, N], [], { assumed: true }),
  def('option_scid_alias', 46, [I, N, T]),
  def('option_payment_metadata', 48, [NINE]),
  def('option_zeroconf', 50, [I, N, T], ['option_scid_alias']),
  def('option_simple_close', 60, [I, N], ['option_shutdown_anysegwit']),
  def('option_splice', 62, [I, N]),
];

const BY_NAME = new Map<string, FeatureDef>();
const BY_PAIR = new Map<number, FeatureDef>();
for (const f of KNOWN_FEATURES) {
  BY_NAME.set(f.name, f);
  if (f.name.startsWith('option_')) BY_NAME.set(f.name.slice('option_'.length), f);
  BY_PAIR.set(f.bit, f);
}

/** A known feature by BOLT 9 name, with or without its `option_` prefix (`data_loss_protect` works). */
export function featureByName(name: string): FeatureDef | undefined {
  return BY_NAME.get(name);
}

export function requireFeature(name: string): FeatureDef {
  const f = BY_NAME.get(name);
  if (!f) throw new FeatureError('unknown-feature-name', `unknown feature name ${JSON.stringify(name)}`);
  return f;
}

/** The known feature that owns `bit` (either bit of the pair). */
export function featureByBit(bit: number): FeatureDef | undefined {
  return BY_PAIR.get(bit - (bit & 1));
}

/** The BOLT 9 name for a bit, or undefined if unassigned. */
export function featureName(bit: number): string | undefined {
  return featureByBit(bit)?.name;
}
