/**
 * What the back's channel engine sees of peers: the fronts terminate BOLT 8 and BOLT 1, and hand
 * the engine decrypted channel messages (BOLT 2, plus unknown odd messages) with the peer's node id.
 * The engine answers through the host. One implementation refuses channels (the default until an
 * engine is configured); the LDK one hosts LDK's ChannelManager.
 */
export interface ConnectedPeer {
  /** 33-byte compressed node id. */
  nodeId: Uint8Array;
  inbound: boolean;
  /** The peer's whole `init` message, type included. */
  init: Uint8Array;
  /** Address as seen by the front (the real client address behind the balancer). */
  remoteAddress: string;
}

export interface ChannelEngineHost {
  /** Sends one whole wire message (type included) to the peer's current session, in call order. */
  sendToPeer(nodeId: Uint8Array, message: Uint8Array): void;
  disconnectPeer(nodeId: Uint8Array, reason: string): void;
}

export interface ChannelEngine {
  /** Feature bits the engine needs in our `init` (ORed with the fronts' own). */
  initFeatures(): Uint8Array;
  /** Called once the init exchange succeeded; a rejection means: disconnect that peer. */
  peerConnected(peer: ConnectedPeer): Promise<void>;
  /** Always called before the next peerConnected for the same node id. */
  peerDisconnected(nodeId: Uint8Array): void;
  /** One whole wire message (type included) from the peer, in order. */
  handleMessage(nodeId: Uint8Array, message: Uint8Array): void;
  /** Peers with a channel are not evicted as unfunded inbound peers, and are reconnected. */
  hasChannelWith(nodeId: Uint8Array): boolean;
  /** Extra admin commands (channels, open, close, invoice, pay...), served under /api/<name>. */
  adminCommands?(): ChannelAdminCommands;
  /** Extra fields for `getinfo`. */
  info?(): Record<string, unknown>;
  close(): Promise<void>;
}

/** Admin handlers take the JSON body (POST) or query (GET) and return JSON; throw AdminError for a status. */
export interface ChannelAdminCommands {
  get?: Record<string, (query: Record<string, unknown>) => unknown>;
  post?: Record<string, (body: Record<string, unknown>) => unknown>;
}
