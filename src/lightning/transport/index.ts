export { TransportError, type TransportErrorCode } from './errors.js';
export { CipherState, KEY_ROTATION_INTERVAL } from './cipher-state.js';
export { hkdf2 } from './hkdf.js';
export { encodeNonce } from './nonce.js';
export { localStaticKey, type StaticKey } from './static-key.js';
export {
  ACT1_LENGTH,
  ACT2_LENGTH,
  ACT3_LENGTH,
  NoiseInitiator,
  NoiseResponder,
  type HandshakeResult,
  type InitiatorOptions,
  type MaybePromise,
  type ResponderOptions,
} from './handshake.js';
export { encryptFrame, FrameDecoder, FRAME_HEADER_LENGTH, MAC_LENGTH, MAX_MESSAGE_LENGTH, frameLength } from './framing.js';
export {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  noiseAccept,
  noiseConnect,
  NoiseConnection,
  type NoiseAcceptOptions,
  type NoiseConnectOptions,
  type NoiseConnectionEvents,
} from './connection.js';
