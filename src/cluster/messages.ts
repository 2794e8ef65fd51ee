import { PayloadReader, PayloadWriter } from './codec.js';
import { ClusterProtocolError } from './errors.js';

/**
 * The messages of the cluster link, one frame type each. Decoding is strict: wrong lengths, unknown enum
 * values, invalid UTF-8 and trailing bytes are 'malformed'. Only `hello` and `welcome` tolerate trailing
 * bytes: a newer peer may append fields there, and the version it announces tells whether we know them.
 */

/**
 * The version this code speaks; hello announces a range, welcome picks one.
 * - 1: the first link protocol.
 * - 2: adds `service-state` (back -> front). A back sends it only on links whose negotiated version is >= 2:
 *   a version 1 front does not know the frame type and would close the link on it.
 */
export const CLUSTER_PROTOCOL_VERSION = 2;
export const MIN_CLUSTER_PROTOCOL_VERSION = 1;
/** The first version whose links carry `service-state`. */
export const SERVICE_STATE_MIN_VERSION = 2;

export const NODE_ID_BYTES = 33;
export const CHAIN_HASH_BYTES = 32;
export const ECDH_SECRET_BYTES = 32;

/** How busy a front is; sent in its heartbeats and used by the back to pick a front for dials. */
export interface FrontLoad {
  livePeers: number;
  handshakesInProgress: number;
  bytesInPerSecond: number;
  bytesOutPerSecond: number;
  dialsInProgress: number;
}

export type PeerDirection = 'inbound' | 'outbound';

/** A peer addressed by its session on a front, or by its node id (the front resolves its live session). */
export type PeerTarget = { kind: 'session'; sessionId: number } | { kind: 'node'; nodeId: Uint8Array };

export const CONNECT_OUTCOMES = ['connected', 'refused', 'timeout', 'auth-failed', 'unreachable', 'failure'] as const;
export type ConnectOutcome = (typeof CONNECT_OUTCOMES)[number];

/** front -> back, first frame of a link. */
export interface HelloMessage {
  type: 'hello';
  minVersion: number;
  maxVersion: number;
  frontId: string;
  /** Addresses where this front accepts peers (host:port), for the back's registry and discovery. */
  listenAddresses: string[];
  /** Most peers this front accepts. */
  capacity: number;
  /** Whether this front holds the node key (false: it asks the back for ECDH). */
  holdsNodeKey: boolean;
}

/** back -> front, answer to hello. */
export interface WelcomeMessage {
  type: 'welcome';
  /** The version both ends use from now on. */
  version: number;
  nodeId: Uint8Array;
  chainHash: Uint8Array;
  /** The `features` field of the `init` message fronts send to peers. */
  initFeatures: Uint8Array;
  /** BOLT 1 pings toward peers. */
  pingIntervalMs: number;
  pingTimeoutMs: number;
  /** The link's own heartbeat, so both ends agree on when silence means death. */
  linkHeartbeatIntervalMs: number;
  linkDeadAfterMs: number;
  /** Further settings as JSON (gossip timings, limits...), parsed by the front. */
  settingsJson: string;
}

export interface HeartbeatMessage {
  type: 'heartbeat';
  /** Present in a front's heartbeats. */
  load?: FrontLoad;
}

/** front -> back: a peer finished BOLT 8 and init. */
export interface PeerReadyMessage {
  type: 'peer-ready';
  sessionId: number;
  nodeId: Uint8Array;
  remoteAddress: string;
  direction: PeerDirection;
  /** The peer's `init` message, raw. */
  initMessage: Uint8Array;
}

/** front -> back: a session ended. */
export interface PeerDownMessage {
  type: 'peer-down';
  sessionId: number;
  nodeId: Uint8Array;
  reason: string;
}

/** front -> back: a Lightning message from a peer, raw (type + payload). */
export interface PeerMessageMessage {
  type: 'peer-message';
  sessionId: number;
  nodeId: Uint8Array;
  data: Uint8Array;
}

/** back -> front: send these raw bytes to a peer. */
export interface SendToPeerMessage {
  type: 'send-to-peer';
  target: PeerTarget;
  data: Uint8Array;
}

export interface DisconnectPeerMessage {
  type: 'disconnect-peer';
  target: PeerTarget;
  reason: string;
}

/** back -> front: dial this node. */
export interface ConnectRequestMessage {
  type: 'connect-request';
  requestId: number;
  nodeId: Uint8Array;
  host: string;
  port: number;
}

export interface ConnectResultMessage {
  type: 'connect-result';
  requestId: number;
  outcome: ConnectOutcome;
  message: string;
  /** The new session when `outcome` is 'connected'. */
  sessionId?: number;
}

/** front -> back (keyless fronts): ECDH of the node key with this point. */
export interface EcdhRequestMessage {
  type: 'ecdh-request';
  requestId: number;
  point: Uint8Array;
}

export interface EcdhReplyMessage {
  type: 'ecdh-reply';
  requestId: number;
  result: { ok: true; secret: Uint8Array } | { ok: false; error: string };
}

/** Reserved for the gossip work: an opaque payload with its own sub-type. */
export interface GossipFrameMessage {
  type: 'gossip';
  subType: number;
  payload: Uint8Array;
}

/**
 * back -> front (protocol >= 2): the state the operator gave this front in the back (`lncluster cli drain`),
 * so the front can publish it in its own discovery registration (Consul), where the balancer reads it.
 * Sent on each change; the state at link time travels in the welcome's settings (`draining`).
 */
export interface ServiceStateMessage {
  type: 'service-state';
  /** No new peers or dials for this front; its existing peers stay. */
  draining: boolean;
}

/** Fatal: the sender closes the link after it. */
export interface ErrorMessage {
  type: 'error';
  code: string;
  text: string;
}

export type ClusterMessage =
  | HelloMessage
  | WelcomeMessage
  | HeartbeatMessage
  | PeerReadyMessage
  | PeerDownMessage
  | PeerMessageMessage
  | SendToPeerMessage
  | DisconnectPeerMessage
  | ConnectRequestMessage
  | ConnectResultMessage
  | EcdhRequestMessage
  | EcdhReplyMessage
  | GossipFrameMessage
  | ServiceStateMessage
  | ErrorMessage;

export type ClusterMessageType = ClusterMessage['type'];
export type ClusterMessageOf<T extends ClusterMessageType> = Extract<ClusterMessage, { type: T }>;

/** Frame type numbers. Never reuse a number; new messages take new ones (and a protocol version bump). */
export const FRAME_TYPES = {
  hello: 1,
  welcome: 2,
  heartbeat: 3,
  error: 4,
  'service-state': 5,
  'peer-ready': 16,
  'peer-down': 17,
  'peer-message': 18,
  'send-to-peer': 19,
  'disconnect-peer': 20,
  'connect-request': 32,
  'connect-result': 33,
  'ecdh-request': 48,
  'ecdh-reply': 49,
  gossip: 64,
} as const satisfies Record<ClusterMessageType, number>;

const TYPE_BY_NUMBER = new Map<number, ClusterMessageType>(
  Object.entries(FRAME_TYPES).map(([name, number]) => [number, name as ClusterMessageType]),
);

export function frameTypeOf(type: ClusterMessageType): number {
  return FRAME_TYPES[type];
}

const DIRECTIONS: readonly PeerDirection[] = ['inbound', 'outbound'];

function writeTarget(writer: PayloadWriter, target: PeerTarget): void {
  if (target.kind === 'session') writer.u8(0).u64(target.sessionId);
  else writer.u8(1).fixedBytes(target.nodeId, NODE_ID_BYTES, 'node id');
}

function readTarget(reader: PayloadReader): PeerTarget {
  const kind = reader.u8();
  if (kind === 0) return { kind: 'session', sessionId: reader.u64() };
  if (kind === 1) return { kind: 'node', nodeId: reader.fixedBytes(NODE_ID_BYTES) };
  return reader.fail(`unknown peer target kind ${kind}`);
}

function writeLoad(writer: PayloadWriter, load: FrontLoad): void {
  writer
    .u32(load.livePeers)
    .u32(load.handshakesInProgress)
    .f64(load.bytesInPerSecond)
    .f64(load.bytesOutPerSecond)
    .u32(load.dialsInProgress);
}

function readLoad(reader: PayloadReader): FrontLoad {
  const load = {
    livePeers: reader.u32(),
    handshakesInProgress: reader.u32(),
    bytesInPerSecond: reader.f64(),
    bytesOutPerSecond: reader.f64(),
    dialsInProgress: reader.u32(),
  };
  if (load.bytesInPerSecond < 0 || load.bytesOutPerSecond < 0) reader.fail('negative byte rate');
  return load;
}

/** Payload of a message (without the frame header). Throws RangeError on values that cannot be encoded. */
export function encodeMessagePayload(message: ClusterMessage): Uint8Array {
  const w = new PayloadWriter();
  switch (message.type) {
    case 'hello':
      w.u16(message.minVersion).u16(message.maxVersion).string16(message.frontId).u16(message.listenAddresses.length);
      for (const address of message.listenAddresses) w.string16(address);
      w.u32(message.capacity).bool(message.holdsNodeKey);
      break;
    case 'welcome':
      w.u16(message.version)
        .fixedBytes(message.nodeId, NODE_ID_BYTES, 'node id')
        .fixedBytes(message.chainHash, CHAIN_HASH_BYTES, 'chain hash')
        .bytes16(message.initFeatures)
        .u32(message.pingIntervalMs)
        .u32(message.pingTimeoutMs)
        .u32(message.linkHeartbeatIntervalMs)
        .u32(message.linkDeadAfterMs)
        .string32(message.settingsJson);
      break;
    case 'heartbeat':
      if (message.load) writeLoad(w.u8(1), message.load);
      else w.u8(0);
      break;
    case 'peer-ready':
      w.u64(message.sessionId)
        .fixedBytes(message.nodeId, NODE_ID_BYTES, 'node id')
        .string16(message.remoteAddress)
        .u8(DIRECTIONS.indexOf(message.direction))
        .bytes32(message.initMessage);
      break;
    case 'peer-down':
      w.u64(message.sessionId).fixedBytes(message.nodeId, NODE_ID_BYTES, 'node id').string16(message.reason);
      break;
    case 'peer-message':
      w.u64(message.sessionId).fixedBytes(message.nodeId, NODE_ID_BYTES, 'node id').bytes32(message.data);
      break;
    case 'send-to-peer':
      writeTarget(w, message.target);
      w.bytes32(message.data);
      break;
    case 'disconnect-peer':
      writeTarget(w, message.target);
      w.string16(message.reason);
      break;
    case 'connect-request':
      if (message.port < 1) throw new RangeError('port 0 cannot be dialed');
      w.u64(message.requestId).fixedBytes(message.nodeId, NODE_ID_BYTES, 'node id').string16(message.host).u16(message.port);
      break;
    case 'connect-result': {
      const outcome = CONNECT_OUTCOMES.indexOf(message.outcome);
      if (outcome < 0) throw new RangeError(`unknown connect outcome ${String(message.outcome)}`);
      w.u64(message.requestId).u8(outcome).string16(message.message);
      if (message.sessionId === undefined) w.u8(0);
      else w.u8(1).u64(message.sessionId);
      break;
    }
    case 'ecdh-request':
      w.u64(message.requestId).fixedBytes(message.point, NODE_ID_BYTES, 'ECDH point');
      break;
    case 'ecdh-reply':
      w.u64(message.requestId);
      if (message.result.ok) w.u8(1).fixedBytes(message.result.secret, ECDH_SECRET_BYTES, 'ECDH secret');
      else w.u8(0).string16(message.result.error);
      break;
    case 'gossip':
      w.u8(message.subType).bytes32(message.payload);
      break;
    case 'service-state':
      w.bool(message.draining);
      break;
    case 'error':
      w.string16(message.code).string16(message.text);
      break;
    default: {
      const unknown: never = message;
      throw new RangeError(`cannot encode message ${JSON.stringify(unknown)}`);
    }
  }
  return w.finish();
}

/** Decodes a frame's payload. Throws ClusterProtocolError ('unknown-frame-type' or 'malformed'). */
export function decodeMessage(frameType: number, payload: Uint8Array): ClusterMessage {
  const type = TYPE_BY_NUMBER.get(frameType);
  if (type === undefined) {
    throw new ClusterProtocolError(
      'unknown-frame-type',
      `unknown frame type ${frameType} (this end speaks cluster protocol ${MIN_CLUSTER_PROTOCOL_VERSION}..${CLUSTER_PROTOCOL_VERSION}; the peer may be newer)`,
    );
  }
  const r = new PayloadReader(payload, `${type} frame`);
  let message: ClusterMessage;
  switch (type) {
    case 'hello': {
      const minVersion = r.u16();
      const maxVersion = r.u16();
      if (minVersion > maxVersion) r.fail(`version range ${minVersion}..${maxVersion} is empty`);
      const frontId = r.string16();
      if (frontId.length === 0) r.fail('empty front id');
      const count = r.u16();
      const listenAddresses: string[] = [];
      for (let i = 0; i < count; i++) listenAddresses.push(r.string16());
      // Trailing bytes: fields of a newer version, ignored.
      return { type, minVersion, maxVersion, frontId, listenAddresses, capacity: r.u32(), holdsNodeKey: r.bool() };
    }
    case 'welcome':
      return {
        type,
        version: r.u16(),
        nodeId: r.fixedBytes(NODE_ID_BYTES),
        chainHash: r.fixedBytes(CHAIN_HASH_BYTES),
        initFeatures: r.bytes16(),
        pingIntervalMs: r.u32(),
        pingTimeoutMs: r.u32(),
        linkHeartbeatIntervalMs: r.u32(),
        linkDeadAfterMs: r.u32(),
        settingsJson: r.string32(),
      };
    case 'heartbeat': {
      const hasLoad = r.bool();
      message = hasLoad ? { type, load: readLoad(r) } : { type };
      break;
    }
    case 'peer-ready': {
      const sessionId = r.u64();
      const nodeId = r.fixedBytes(NODE_ID_BYTES);
      const remoteAddress = r.string16();
      const direction = DIRECTIONS[r.u8()] ?? r.fail('unknown direction');
      message = { type, sessionId, nodeId, remoteAddress, direction, initMessage: r.bytes32() };
      break;
    }
    case 'peer-down':
      message = { type, sessionId: r.u64(), nodeId: r.fixedBytes(NODE_ID_BYTES), reason: r.string16() };
      break;
    case 'peer-message':
      message = { type, sessionId: r.u64(), nodeId: r.fixedBytes(NODE_ID_BYTES), data: r.bytes32() };
      break;
    case 'send-to-peer':
      message = { type, target: readTarget(r), data: r.bytes32() };
      break;
    case 'disconnect-peer':
      message = { type, target: readTarget(r), reason: r.string16() };
      break;
    case 'connect-request': {
      const requestId = r.u64();
      const nodeId = r.fixedBytes(NODE_ID_BYTES);
      const host = r.string16();
      const port = r.u16();
      if (port === 0) r.fail('port 0');
      message = { type, requestId, nodeId, host, port };
      break;
    }
    case 'connect-result': {
      const requestId = r.u64();
      const outcome = CONNECT_OUTCOMES[r.u8()] ?? r.fail('unknown connect outcome');
      const text = r.string16();
      const hasSession = r.bool();
      message = hasSession
        ? { type, requestId, outcome, message: text, sessionId: r.u64() }
        : { type, requestId, outcome, message: text };
      break;
    }
    case 'ecdh-request':
      message = { type, requestId: r.u64(), point: r.fixedBytes(NODE_ID_BYTES) };
      break;
    case 'ecdh-reply': {
      const requestId = r.u64();
      const ok = r.bool();
      message = {
        type,
        requestId,
        result: ok ? { ok: true, secret: r.fixedBytes(ECDH_SECRET_BYTES) } : { ok: false, error: r.string16() },
      };
      break;
    }
    case 'gossip':
      message = { type, subType: r.u8(), payload: r.bytes32() };
      break;
    case 'service-state':
      message = { type, draining: r.bool() };
      break;
    case 'error':
      message = { type, code: r.string16(), text: r.string16() };
      break;
  }
  r.end();
  return message;
}
