import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ldk from 'lightningdevkit';

let loading: Promise<void> | undefined;
/** The WebAssembly global, typed as far as we use it (the project's lib settings leave it out). */
interface WasmMemory {
  buffer: ArrayBuffer;
}
interface WasmGlobal {
  instantiate: (...args: unknown[]) => Promise<unknown>;
  Memory: new (...args: never[]) => WasmMemory;
}
const Wasm = (globalThis as unknown as { WebAssembly: WasmGlobal }).WebAssembly;

let memory: WasmMemory | undefined;

/**
 * Initialises LDK's WASM module once per process. In Node the bindings cannot fetch the module
 * themselves: we read `liblightningjs.wasm` beside the package entry and hand over the bytes.
 * The bindings keep their instance private; we catch its memory on the way (one wrapped call to
 * `WebAssembly.instantiate`) so that tests and metrics can watch the WASM heap.
 */
export function loadLdk(): Promise<void> {
  if (!loading) {
    loading = (async () => {
      const entry = createRequire(import.meta.url).resolve('lightningdevkit');
      const wasm = await readFile(join(dirname(entry), 'liblightningjs.wasm'));
      const original = Wasm.instantiate;
      Wasm.instantiate = async (...args: unknown[]) => {
        const result = (await original.apply(Wasm, args)) as { instance?: { exports: Record<string, unknown> } };
        const exported = result.instance?.exports['memory'];
        if (exported instanceof Wasm.Memory) memory = exported;
        return result;
      };
      const log = console.log;
      console.log = () => undefined; // the bindings announce their version on stdout
      try {
        await ldk.initializeWasmFromBinary(wasm);
      } finally {
        Wasm.instantiate = original;
        console.log = log;
      }
    })();
    loading.catch(() => {
      loading = undefined;
    });
  }
  return loading;
}

/** Bytes of WASM linear memory LDK has grown to (0 before loadLdk). It never shrinks. */
export function ldkWasmMemoryBytes(): number {
  return memory?.buffer.byteLength ?? 0;
}
