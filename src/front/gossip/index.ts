export { GossipFrontError, type GossipFrontErrorCode } from './errors.js';
export { gossipKey, parseGossipItem, isAnnouncementType, type GossipItem } from './gossip-item.js';
export {
  GossipReplica,
  ChannelRecord,
  NodeRecord,
  inWindow,
  type ReplicaOptions,
  type ApplyResult,
  type AppliedGossip,
  type ReplicaStats,
  type TimestampWindow,
} from './replica.js';
export { PacedSender, type GossipSession, type DrainEmitter, type SendJob, type SendLane, type JobOutcome, type PacedSenderOptions, type PacedSenderState } from './paced-sender.js';
export { QueryResponder, channelRangeReplies, shortIdReplies, maxIdsPerRangeReply, isQueryType, type QueryResponderOptions, type QueryResponderStats } from './query-responder.js';
export { GossipAggregator, type AggregatorOptions, type AggregatorStats, type IntakeOutcome, type InFlightItem, type DecisionResult } from './aggregator.js';
export { Rebroadcaster, type RebroadcasterOptions, type RebroadcastPeer, type RebroadcasterStats } from './rebroadcaster.js';
export { GossipService, type GossipServiceOptions, type GossipDecision, type GossipServiceStats } from './gossip-service.js';
