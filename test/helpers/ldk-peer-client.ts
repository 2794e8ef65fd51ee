/** The test's side of test/helpers/ldk-peer.ts: spawns it and speaks its JSON lines. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export type PeerEvent = { event: string } & Record<string, unknown>;

export class LdkPeerProcess {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  readonly events: PeerEvent[] = [];
  private readonly eventWaiters = new Set<() => void>();
  nodeId = '';

  private constructor(private readonly child: ChildProcess) {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (typeof msg['id'] === 'number') {
        const w = this.waiting.get(msg['id']);
        this.waiting.delete(msg['id']);
        if (msg['ok']) w?.resolve(msg['result']);
        else w?.reject(new Error(String(msg['error'])));
      } else if (typeof msg['event'] === 'string') {
        this.events.push(msg as PeerEvent);
        for (const f of [...this.eventWaiters]) f();
      }
    });
    child.stderr?.on('data', (d: Buffer) => process.stderr.write(d));
    child.on('exit', () => {
      for (const w of this.waiting.values()) w.reject(new Error('peer process exited'));
      this.waiting.clear();
    });
  }

  static async spawn(): Promise<LdkPeerProcess> {
    const script = fileURLToPath(new URL('./ldk-peer.js', import.meta.url));
    const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'pipe'] });
    const peer = new LdkPeerProcess(child);
    const ready = await peer.waitEvent((e) => e.event === 'ready', 60_000);
    peer.nodeId = ready['nodeId'] as string;
    return peer;
  }

  request<T = unknown>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.stdin!.write(`${JSON.stringify({ id, cmd, ...args })}\n`);
    });
  }

  /** Resolves with the first event (already seen or future) matching `match` that was not consumed yet. */
  waitEvent(match: (e: PeerEvent) => boolean, timeoutMs = 30_000): Promise<PeerEvent> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const i = this.events.findIndex(match);
        if (i < 0) return false;
        const [e] = this.events.splice(i, 1);
        this.eventWaiters.delete(onEvent);
        clearTimeout(timer);
        resolve(e!);
        return true;
      };
      const onEvent = (): void => void check();
      const timer = setTimeout(() => {
        this.eventWaiters.delete(onEvent);
        reject(new Error('timed out waiting for a peer event'));
      }, timeoutMs);
      if (!check()) this.eventWaiters.add(onEvent);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.stdin!.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(t);
  }
}
