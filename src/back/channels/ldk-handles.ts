/**
 * Long-lived binding objects without the growth.
 *
 * The bindings pin every argument of a call onto the callee (`ptrs_to.push(arg)`), so a handler
 * object kept for the engine's life retains every message it was given (measured: +47 MB JS heap and
 * +40 MB WASM over 60k messages). A fresh `as_ChannelMessageHandler()` per call avoids the pinning
 * but allocates a native trait object that is only freed by a FinalizationRegistry callback, after a
 * GC, in a later task: under a burst the WASM heap still climbs. And each `new_impl` (e.g. an
 * EventHandler per flush) adds a slot that is never reused to the bindings' `js_objs` table.
 *
 * So: one object of each kind for the engine's life, and after each call the references pinned for
 * its arguments are dropped. That is safe for the calls used here: LDK takes those arguments by
 * reference (`&msg`) and keeps nothing once the call returns; the argument objects are then freed by
 * their own finalizers like any other.
 */
interface Pinning {
  ptrs_to: object[];
}

/** Calls `fn(obj)`, then unpins whatever the call pinned onto `obj`. */
export function callUnpinned<T extends object, R>(obj: T, fn: (o: T) => R): R {
  const refs = (obj as unknown as Pinning).ptrs_to;
  const keep = refs.length;
  try {
    return fn(obj);
  } finally {
    refs.length = keep;
  }
}

/** How many references a binding object pins (tests: proves the unpinning). */
export function pinnedCount(obj: object): number {
  return (obj as unknown as Pinning).ptrs_to.length;
}
