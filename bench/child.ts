// Helpers shared by the balancer benchmarks: each measured party runs in its own process.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

/** Forks a bench script (path relative to bench/) and resolves with the first IPC message it sends. */
export function child(script: string, args: string[], execArgv: string[] = []): Promise<{ proc: ChildProcess; message: Record<string, unknown> }> {
  const proc = fork(fileURLToPath(new URL(script, import.meta.url)), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
  return new Promise((resolve, reject) => {
    proc.once('message', (message) => resolve({ proc, message: message as Record<string, unknown> }));
    proc.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

/** One short request/response connection: connect, send a byte, wait for the answer, close. */
export async function oneConnection(port: number): Promise<void> {
  const socket = net.connect({ host: '127.0.0.1', port, noDelay: true, allowHalfOpen: true });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.write('C');
  await new Promise<void>((resolve, reject) => {
    socket.once('data', () => resolve());
    socket.once('close', () => reject(new Error('closed without answer')));
  });
  socket.destroy();
}
