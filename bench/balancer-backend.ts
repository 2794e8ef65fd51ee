// Bench backends ("fronts"), run in their own process by bench/balancer.ts. Each connection may
// start with a PROXY v2 header (through a balancer) or not (direct); the first byte after it picks
// the mode: 'B' bulk sink (answers "OK" at EOF), 'E' echo, 'C' answer one byte and close.
import net from 'node:net';
import { ProxyV2Parser } from '../src/balancer/proxy-v2.js';

function serve(socket: net.Socket): void {
  socket.setNoDelay(true);
  socket.on('error', () => undefined);
  let parser: ProxyV2Parser | null = null;
  let mode = 0;
  let first = true;
  const onData = (chunk: Buffer): void => {
    let data: Uint8Array = chunk;
    if (first) {
      first = false;
      if (data[0] === 0x0d) parser = new ProxyV2Parser();
    }
    if (parser) {
      try {
        const result = parser.push(data);
        if (!result) return;
        parser = null;
        data = result.rest;
      } catch {
        socket.destroy();
        return;
      }
    }
    if (data.length === 0) return;
    if (mode === 0) mode = data[0]!;
    if (mode === 0x45 /* E */) socket.write(data);
    else if (mode === 0x43 /* C */) {
      socket.off('data', onData);
      socket.end('c');
    }
    // 'B': discard
  };
  socket.on('data', onData);
  socket.on('end', () => {
    if (mode === 0x42) socket.end('OK');
    else socket.end();
  });
}

const count = Number(process.argv[2] ?? 2);
const ports: number[] = [];
for (let i = 0; i < count; i++) {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, serve);
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve));
  ports.push((server.address() as net.AddressInfo).port);
}
process.send?.({ ports });
process.on('disconnect', () => process.exit(0));
