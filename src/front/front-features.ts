import { featuresFromNames } from '../lightning/features/index.js';

/**
 * Features the fronts implement themselves (BOLT 7 gossip queries), ORed by the back into the init
 * features it hands every front together with the channel engine's own.
 */
export const FRONT_FEATURES = featuresFromNames(['gossip_queries']);

/**
 * What a mainstream node sends when no channel engine brings its own: LDK, for one, disconnects a
 * peer without data_loss_protect and static_remotekey.
 */
export const DEFAULT_ENGINE_FEATURES = featuresFromNames([
  ['option_data_loss_protect', 'required'],
  ['var_onion_optin', 'required'],
  ['option_static_remotekey', 'required'],
  ['payment_secret', 'required'],
  'basic_mpp',
  'option_channel_type',
]);
