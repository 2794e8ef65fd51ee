/**
 * The engine's files in its data dir:
 *   seed                       32 bytes, mode 0600: the node identity and every channel key
 *   manager.bin                LDK's ChannelManager
 *   monitors/<txid>_<vout>.bin one ChannelMonitor per channel (funding outpoint)
 *   monitors-archive/          monitors of fully resolved channels
 * Every write is atomic (temp file, fsync, rename, fsync of the folder), so a crash leaves either
 * the old or the new version of a file, never a torn one.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ChannelEngineError } from './errors.js';

const SEED_LENGTH = 32;

export class ChannelStore {
  readonly monitorsDir: string;
  readonly archiveDir: string;

  /** `durable: false` skips fsync (tests only: a crash may then lose recent writes). */
  constructor(
    readonly dir: string,
    private readonly durable = true,
  ) {
    this.monitorsDir = join(dir, 'monitors');
    this.archiveDir = join(dir, 'monitors-archive');
    mkdirSync(this.monitorsDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.archiveDir, { recursive: true, mode: 0o700 });
  }

  /** Reads the seed, creating it (0600) on first start. */
  loadOrCreateSeed(): Uint8Array {
    const path = join(this.dir, 'seed');
    if (existsSync(path)) {
      const seed = new Uint8Array(readFileSync(path));
      if (seed.length !== SEED_LENGTH) throw new ChannelEngineError('bad-seed', `${path}: expected ${SEED_LENGTH} bytes, found ${seed.length}`);
      return seed;
    }
    const seed = new Uint8Array(randomBytes(SEED_LENGTH));
    atomicWrite(path, seed, this.durable);
    return seed;
  }

  readManager(): Uint8Array | undefined {
    const path = join(this.dir, 'manager.bin');
    return existsSync(path) ? new Uint8Array(readFileSync(path)) : undefined;
  }

  writeManager(bytes: Uint8Array): void {
    atomicWrite(join(this.dir, 'manager.bin'), bytes, this.durable);
  }

  readMonitors(): Array<{ key: string; bytes: Uint8Array }> {
    return readdirSync(this.monitorsDir)
      .filter((name) => name.endsWith('.bin'))
      .sort()
      .map((name) => ({ key: name.slice(0, -4), bytes: new Uint8Array(readFileSync(join(this.monitorsDir, name))) }));
  }

  writeMonitor(key: string, bytes: Uint8Array): void {
    atomicWrite(join(this.monitorsDir, `${key}.bin`), bytes, this.durable);
  }

  archiveMonitor(key: string): void {
    const from = join(this.monitorsDir, `${key}.bin`);
    if (existsSync(from)) renameSync(from, join(this.archiveDir, `${key}.bin`));
  }
}

/** Monitor file key for a funding outpoint (txid as LDK stores it, then the output index). */
export function monitorKey(txid: Uint8Array, index: number): string {
  return `${Buffer.from(txid).toString('hex')}_${index}`;
}

/** Writes a file (mode 0600) so that a crash leaves the old or the new content. */
export function atomicWrite(path: string, bytes: Uint8Array, durable = true): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  if (!durable) return;
  const dirFd = openSync(join(path, '..'), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}
