import type { Config } from '../config/keys.js';
import { DEFAULT_ENGINE_FEATURES } from '../front/front-features.js';
import { moduleLogger } from '../util/log.js';
import type { ChannelEngine, ChannelEngineHost } from './channel-engine.js';
import { RejectingChannelEngine } from './rejecting-engine.js';

/** The channel engine `back.channel-engine` names. */
export async function createChannelEngine(config: Config, host: ChannelEngineHost): Promise<ChannelEngine> {
  switch (config['back.channel-engine']) {
    case 'none':
      return new RejectingChannelEngine(host, DEFAULT_ENGINE_FEATURES, moduleLogger('channels'));
    case 'ldk':
      throw new Error('back.channel-engine = ldk is not wired yet');
  }
}
