// A `lookup` for net.connect that remembers answers for a few seconds. A front given by name
// (`discovery.static` may say `front1@fronts.internal:9735`) would otherwise cost a getaddrinfo on
// the libuv thread pool for every client. Numeric hosts never get here: net.connect skips lookup.
import dns, { type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';

const TTL_MS = 10_000;
const MAX_NAMES = 1_024;

interface Cached {
  addresses: LookupAddress[];
  expires: number;
}

export function cachingLookup(ttlMs = TTL_MS): LookupFunction {
  const cache = new Map<string, Cached>();
  return ((hostname: string, options: dns.LookupOptions, callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void => {
    const family = typeof options.family === 'number' ? options.family : 0;
    const key = `${family}|${hostname}`;
    const answer = (addresses: LookupAddress[]): void => {
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    };
    const hit = cache.get(key);
    if (hit && hit.expires > Date.now()) return answer(hit.addresses);
    dns.lookup(hostname, { family, all: true, hints: options.hints }, (error, addresses) => {
      if (error || addresses.length === 0) {
        cache.delete(key); // a failure is not remembered: the next client asks again
        callback(error ?? Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), options.all ? [] : '', 0);
        return;
      }
      if (cache.size >= MAX_NAMES) cache.clear();
      cache.set(key, { addresses, expires: Date.now() + ttlMs });
      answer(addresses);
    });
  }) as LookupFunction;
}
