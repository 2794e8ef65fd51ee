import type { CryptoProvider } from '../lightning/crypto/index.js';

/**
 * Answers keyless fronts' ECDH requests (the one static-key operation of each BOLT 8 handshake),
 * only for fronts in the registry, at most `ratePerSecond` per front (a token bucket with one
 * second of burst): a compromised front cannot turn the back into an unbounded ECDH oracle.
 */
export type EcdhAnswer = { ok: true; secret: Uint8Array } | { ok: false; error: string };

export interface EcdhServiceOptions {
  /** The node key holder's ECDH (local secret, or LDK's NodeSigner). */
  ecdh(point: Uint8Array): Uint8Array;
  isRegisteredFront(frontId: string): boolean;
  ratePerSecond: number;
  now?: () => number;
}

export class EcdhService {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  #served = 0;
  #refused = 0;
  constructor(private readonly options: EcdhServiceOptions) {}

  answer(frontId: string, point: Uint8Array): EcdhAnswer {
    if (!this.options.isRegisteredFront(frontId)) return this.#refuse('front not registered');
    const now = (this.options.now ?? Date.now)();
    const rate = this.options.ratePerSecond;
    const bucket = this.#buckets.get(frontId) ?? { tokens: rate, at: now };
    bucket.tokens = Math.min(rate, bucket.tokens + ((now - bucket.at) / 1000) * rate);
    bucket.at = now;
    this.#buckets.set(frontId, bucket);
    if (bucket.tokens < 1) return this.#refuse('rate limit exceeded');
    bucket.tokens -= 1;
    if (!(point instanceof Uint8Array) || point.length !== 33) return this.#refuse('point must be 33 bytes');
    try {
      const secret = this.options.ecdh(point);
      this.#served++;
      return { ok: true, secret };
    } catch {
      return this.#refuse('invalid point');
    }
  }

  forget(frontId: string): void {
    this.#buckets.delete(frontId);
  }

  stats(): { served: number; refused: number } {
    return { served: this.#served, refused: this.#refused };
  }

  #refuse(error: string): EcdhAnswer {
    this.#refused++;
    return { ok: false, error };
  }
}

export function localEcdh(crypto: CryptoProvider, secret: Uint8Array): (point: Uint8Array) => Uint8Array {
  return (point) => crypto.ecdh(secret, point);
}
