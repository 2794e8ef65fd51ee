import type { CryptoProvider } from '../../lightning/crypto/index.js';
import { hash256 } from '../../lightning/crypto/index.js';

/**
 * A gossip message's signature checks, packed so a batch of them crosses to a worker thread as one
 * ArrayBuffer (no structured clone of thousands of small objects). Every check of one message covers the
 * same digest: double SHA-256 of `message[signedFrom:]` (BOLT 7).
 */
export interface SignatureJob {
  readonly message: Uint8Array;
  /** 258 for channel_announcement, 66 for channel_update and node_announcement. */
  readonly signedFrom: number;
  /** Each signature (64 bytes at `signatureAt` in the message) and the 33-byte key it must verify against. */
  readonly checks: readonly { readonly signatureAt: number; readonly publicKey: Uint8Array }[];
}

/** Verdict of one job: all signatures verify. */
export const VERDICT_OK = 0;
/** Verdict of a job that could not be read (a packing bug, never bad gossip: bad gossip fails a check). */
export const VERDICT_UNREADABLE = 255;
// Verdict k in 1..254: check k-1 is the first that failed.

const JOB_HEADER = 4 + 2 + 1;
const CHECK_BYTES = 2 + 33;

export class SignatureJobError extends Error {
  override readonly name = 'SignatureJobError';
  readonly code = 'bad-job';
}

/** Packs jobs: u32 count, then per job u32 message length, u16 signedFrom, u8 check count, checks, message. */
export function packSignatureJobs(jobs: readonly SignatureJob[]): ArrayBuffer {
  let size = 4;
  for (const job of jobs) {
    if (job.checks.length < 1 || job.checks.length > 254) throw new SignatureJobError(`a job has ${job.checks.length} checks (1..254)`);
    size += JOB_HEADER + CHECK_BYTES * job.checks.length + job.message.length;
  }
  const buffer = new ArrayBuffer(size);
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  view.setUint32(0, jobs.length);
  let at = 4;
  for (const job of jobs) {
    view.setUint32(at, job.message.length);
    view.setUint16(at + 4, job.signedFrom);
    view.setUint8(at + 6, job.checks.length);
    at += JOB_HEADER;
    for (const check of job.checks) {
      if (check.publicKey.length !== 33) throw new SignatureJobError('public keys are 33 bytes');
      view.setUint16(at, check.signatureAt);
      bytes.set(check.publicKey, at + 2);
      at += CHECK_BYTES;
    }
    bytes.set(job.message, at);
    at += job.message.length;
  }
  return buffer;
}

/** Verifies one job (the same code runs in the workers and on the main thread as the fallback). */
export function verifySignatureJob(crypto: CryptoProvider, job: SignatureJob): number {
  const { message, signedFrom } = job;
  if (signedFrom > message.length) return VERDICT_UNREADABLE;
  const digest = hash256(crypto, message.subarray(signedFrom));
  for (let i = 0; i < job.checks.length; i++) {
    const { signatureAt, publicKey } = job.checks[i]!;
    if (signatureAt + 64 > signedFrom) return VERDICT_UNREADABLE;
    if (!crypto.verify(message.subarray(signatureAt, signatureAt + 64), digest, publicKey)) return i + 1;
  }
  return VERDICT_OK;
}

/** Unpacks and verifies a packed batch; one verdict per job. Never throws: a truncated buffer gives VERDICT_UNREADABLE. */
export function verifyPackedJobs(crypto: CryptoProvider, buffer: ArrayBuffer): Uint8Array {
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  if (buffer.byteLength < 4) return new Uint8Array(0);
  const count = view.getUint32(0);
  const verdicts = new Uint8Array(count).fill(VERDICT_UNREADABLE);
  let at = 4;
  for (let j = 0; j < count; j++) {
    if (at + JOB_HEADER > bytes.length) break;
    const length = view.getUint32(at);
    const signedFrom = view.getUint16(at + 4);
    const checkCount = view.getUint8(at + 6);
    at += JOB_HEADER;
    const checksEnd = at + CHECK_BYTES * checkCount;
    if (checksEnd + length > bytes.length) break;
    const checks: { signatureAt: number; publicKey: Uint8Array }[] = [];
    for (let c = at; c < checksEnd; c += CHECK_BYTES) checks.push({ signatureAt: view.getUint16(c), publicKey: bytes.subarray(c + 2, c + 35) });
    verdicts[j] = verifySignatureJob(crypto, { message: bytes.subarray(checksEnd, checksEnd + length), signedFrom, checks });
    at = checksEnd + length;
  }
  return verdicts;
}
