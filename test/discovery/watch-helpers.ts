/** Helpers to consume a discovery watch in tests without fixed sleeps. */
import type { Snapshot } from '../../src/discovery/types.js';

export interface WatchReader {
  /** Every snapshot received so far. */
  readonly seen: Snapshot[];
  /** Resolves with the first snapshot (already seen or next) after `from` that matches, or rejects after `timeoutMs`. */
  until(match: (s: Snapshot) => boolean, timeoutMs?: number): Promise<Snapshot>;
  /** Resolves with how the iteration ended: 'done', or the error it threw. */
  readonly ended: Promise<'done' | unknown>;
}

export function readWatch(iterable: AsyncIterable<Snapshot>): WatchReader {
  const seen: Snapshot[] = [];
  let notify: (() => void) | undefined;
  let finished = false;
  const ended = (async () => {
    try {
      for await (const snapshot of iterable) {
        seen.push(snapshot);
        notify?.();
      }
      return 'done' as const;
    } catch (err) {
      return err;
    } finally {
      finished = true;
      notify?.();
    }
  })();
  let consumed = 0;
  return {
    seen,
    ended,
    async until(match, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        while (consumed < seen.length) {
          const s = seen[consumed++]!;
          if (match(s)) return s;
        }
        if (finished) throw new Error('watch ended before a matching snapshot');
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching snapshot within ${timeoutMs} ms; last: ${JSON.stringify(seen.at(-1))}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          notify = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        notify = undefined;
      }
    },
  };
}

/** Polls `check` every 20 ms until it holds (for state that has no event to await, e.g. the double's counters). */
export async function eventually(check: () => boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function ids(s: Snapshot): string[] {
  return s.instances.map((i) => i.id);
}
