// Loads the native data path (native/relay/relay.c, built by `npm ci` through node-gyp into
// build/Release) and types its functions. The module is optional at run time: without it the
// built-in balancer forwards through net.Socket (engine.ts), which costs about twice the CPU per
// connection (docs/benchmarks.md).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Opaque handle of one relay (one engine's listeners and connections). */
export interface RelayHandle {
  readonly __relay: unique symbol;
}

/** Accepted connection `id` from `address`:`port`; answers a backend slot, or -1 to refuse it. */
export type OnAccept = (id: number, address: string, port: number) => number;
/** Connection `id` reached the backend in `slot`. */
export type OnConnected = (id: number, slot: number) => void;
/** The connect to `slot` failed or timed out before any byte was forwarded; answers the next slot or -1. */
export type OnFailed = (id: number, slot: number) => number;
/** Connection `id` is over; `slot` is the backend that carried it, -1 when it never connected. */
export type OnClosed = (id: number, slot: number) => void;

export interface NativeRelayBinding {
  create(onAccept: OnAccept, onConnected: OnConnected, onFailed: OnFailed, onClosed: OnClosed): RelayHandle;
  /** `tlvs`: encoded TLVs appended to every PROXY v2 header (at most 1024 bytes). */
  configure(relay: RelayHandle, proxyProtocol: boolean, tlvs: Uint8Array, idleTimeoutMs: number, connectTimeoutMs: number): void;
  /** Numeric IP only; false when `ip` is not one. Port 0 clears the slot. */
  setBackend(relay: RelayHandle, slot: number, ip: string, port: number): boolean;
  /** Throws an Error whose `code` is the errno name (EADDRINUSE, EAFNOSUPPORT, ...). */
  listen(relay: RelayHandle, host: string, port: number, backlog: number, reusePort: boolean): [id: number, host: string, port: number, family: string];
  closeListener(relay: RelayHandle, id: number): void;
  counters(relay: RelayHandle): [bytesFromClients: number, bytesToClients: number, idleTimeouts: number, openConnections: number];
  destroyAll(relay: RelayHandle): void;
  dispose(relay: RelayHandle): void;
}

/** Slots the native side has for backends (MAX_BACKENDS in relay.c). */
export const NATIVE_BACKEND_SLOTS = 4096;

/** LNCLUSTER_RELAY_ADDON loads another build of the same module (a sanitizer build: native/relay/asan-check.sh). */
const ADDON_PATH = process.env['LNCLUSTER_RELAY_ADDON'] || fileURLToPath(new URL('../../../build/Release/lncluster_relay.node', import.meta.url));

let loaded: { binding: NativeRelayBinding | null; reason: string } | null = null;

/** The native binding, or null with the reason it could not be loaded (not built, wrong platform). */
export function loadNativeRelay(): { binding: NativeRelayBinding | null; reason: string } {
  if (!loaded) {
    try {
      const binding = createRequire(import.meta.url)(ADDON_PATH) as NativeRelayBinding;
      loaded = { binding, reason: '' };
    } catch (error) {
      loaded = { binding: null, reason: `cannot load ${ADDON_PATH} (run npm ci or npm run build:native): ${(error as Error).message}` };
    }
  }
  return loaded;
}
