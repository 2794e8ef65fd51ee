// Worker thread of SignaturePool: verifies packed batches of gossip signature jobs with libsecp256k1.
import { parentPort } from 'node:worker_threads';
import { createNativeCrypto, loadNativeSecp256k1 } from '../../lightning/crypto/index.js';
import { verifyPackedJobs } from './signature-jobs.js';

interface Request {
  readonly id: number;
  readonly buffer: ArrayBuffer;
}

const port = parentPort;
const bindings = loadNativeSecp256k1();
if (port) {
  if (!bindings) {
    // The pool falls back to the main thread; the native provider is the only one worth a thread.
    port.postMessage({ type: 'unavailable' });
  } else {
    const crypto = createNativeCrypto(bindings);
    port.on('message', ({ id, buffer }: Request) => {
      const verdicts = verifyPackedJobs(crypto, buffer);
      port.postMessage({ type: 'verdicts', id, verdicts }, [verdicts.buffer as ArrayBuffer]);
    });
    port.postMessage({ type: 'ready' });
  }
}
