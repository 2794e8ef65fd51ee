/** Why the front's gossip layer refused something. Never thrown across a peer boundary: callers count or log it. */
export type GossipFrontErrorCode =
  | 'malformed' // a gossip message too short or of the wrong type for its fields
  | 'not-gossip' // a message type that is not channel_announcement / node_announcement / channel_update
  | 'closed'; // the component was closed

export class GossipFrontError extends Error {
  override readonly name = 'GossipFrontError';
  constructor(
    readonly code: GossipFrontErrorCode,
    message: string,
  ) {
    super(message);
  }
}
