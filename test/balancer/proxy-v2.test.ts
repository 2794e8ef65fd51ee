import test from 'ava';
import net from 'node:net';
import { once } from 'node:events';
import {
  PROXY_V2_SIGNATURE,
  ProxyProtocolError,
  ProxyV2Parser,
  TLV_TYPE_ORIGIN,
  acceptProxyHeader,
  decodeProxyV2,
  encodeProxyV2,
  originTlv,
  readOrigin,
  type AcceptedConnection,
  type AcceptProxyOptions,
} from '../../src/balancer/proxy-v2.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('TCP4 header matches the layout of the spec byte for byte', (t) => {
  const bytes = encodeProxyV2({
    address: { family: 'tcp4', sourceAddress: '192.0.2.1', sourcePort: 51234, destinationAddress: '198.51.100.7', destinationPort: 9735 },
  });
  t.is(
    hex(bytes),
    hex(PROXY_V2_SIGNATURE) + '21' + '11' + '000c' + 'c0000201' + 'c6336407' + 'c822' + '2607',
  );
  const { header, rest, headerBytes } = decodeProxyV2(bytes);
  t.is(headerBytes, 28);
  t.is(rest.length, 0);
  t.deepEqual(header, {
    command: 'proxy',
    address: { family: 'tcp4', sourceAddress: '192.0.2.1', sourcePort: 51234, destinationAddress: '198.51.100.7', destinationPort: 9735 },
    tlvs: [],
  });
});

test('TCP6, LOCAL and TLVs round-trip, with the origin TLV', (t) => {
  const tlvs = [originTlv('tor'), { type: 0x04, value: new Uint8Array(3) }];
  const bytes = encodeProxyV2({
    address: { family: 'tcp6', sourceAddress: '2001:db8::1', sourcePort: 1, destinationAddress: '::ffff:10.0.0.1', destinationPort: 65535 },
    tlvs,
  });
  t.is(bytes[13], 0x21);
  const { header } = decodeProxyV2(bytes);
  t.deepEqual(header.address, { family: 'tcp6', sourceAddress: '2001:db8::1', sourcePort: 1, destinationAddress: '::ffff:a00:1', destinationPort: 65535 });
  t.deepEqual(header.tlvs.map((x) => [x.type, hex(x.value)]), [[TLV_TYPE_ORIGIN, hex(new TextEncoder().encode('tor'))], [4, '000000']]);
  t.is(readOrigin(header), 'tor');

  const local = decodeProxyV2(encodeProxyV2({ command: 'local' }));
  t.deepEqual(local.header, { command: 'local', address: null, tlvs: [] });
  // A mixed pair is sent as tcp6 with the IPv4 side mapped.
  const mixed = decodeProxyV2(
    encodeProxyV2({ address: { family: 'tcp4', sourceAddress: '10.1.2.3', sourcePort: 5, destinationAddress: 'fe80::1', destinationPort: 6 } }),
  );
  t.is(mixed.header.address?.family, 'tcp6');
  t.is(mixed.header.address?.sourceAddress, '::ffff:a01:203');
  t.throws(() => originTlv('not a word'), { instanceOf: ProxyProtocolError });
  t.throws(() => encodeProxyV2({ address: { family: 'tcp4', sourceAddress: 'nope', sourcePort: 1, destinationAddress: '1.2.3.4', destinationPort: 1 } }), {
    instanceOf: ProxyProtocolError,
  });
});

test('streaming parser: byte by byte, and the bytes after the header come back as rest', (t) => {
  const header = encodeProxyV2({
    address: { family: 'tcp4', sourceAddress: '127.0.0.2', sourcePort: 4000, destinationAddress: '127.0.0.1', destinationPort: 9735 },
    tlvs: [originTlv('clearnet')],
  });
  const stream = Buffer.concat([header, Buffer.from('hello')]);
  const parser = new ProxyV2Parser();
  let result = null;
  let i = 0;
  for (; i < header.length; i++) {
    result = parser.push(stream.subarray(i, i + 1));
    if (i < header.length - 1) t.is(result, null);
  }
  t.truthy(result);
  t.is(result?.header.address?.sourceAddress, '127.0.0.2');
  // In one chunk, the trailing bytes are returned, not swallowed.
  const whole = new ProxyV2Parser().push(stream);
  t.is(Buffer.from(whole!.rest).toString(), 'hello');
});

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return error instanceof ProxyProtocolError ? error.code : `other: ${String(error)}`;
  }
  return 'no error';
}

test('malformed headers are rejected with typed errors', (t) => {
  const good = encodeProxyV2({
    address: { family: 'tcp4', sourceAddress: '1.2.3.4', sourcePort: 1, destinationAddress: '5.6.7.8', destinationPort: 2 },
  });
  const mutate = (at: number, value: number): Uint8Array => {
    const copy = Uint8Array.from(good);
    copy[at] = value;
    return copy;
  };
  t.is(codeOf(() => decodeProxyV2(mutate(3, 0x0b))), 'BAD_SIGNATURE');
  // Garbage is refused at its first byte, before a full header could arrive.
  t.is(codeOf(() => new ProxyV2Parser().push(Buffer.from('G'))), 'BAD_SIGNATURE');
  t.is(codeOf(() => new ProxyV2Parser().push(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n'))), 'BAD_SIGNATURE');
  t.is(codeOf(() => decodeProxyV2(mutate(12, 0x11))), 'BAD_VERSION');
  t.is(codeOf(() => decodeProxyV2(mutate(12, 0x22))), 'BAD_COMMAND');
  t.is(codeOf(() => decodeProxyV2(mutate(13, 0x12))), 'UNSUPPORTED_FAMILY'); // UDP
  t.is(codeOf(() => decodeProxyV2(mutate(13, 0x31))), 'UNSUPPORTED_FAMILY'); // AF_UNIX
  t.is(codeOf(() => decodeProxyV2(good.subarray(0, 20))), 'TRUNCATED');
  t.is(codeOf(() => decodeProxyV2(good.subarray(0, 10))), 'TRUNCATED');
  // Declared length shorter than the address block.
  const short = Uint8Array.from(good.subarray(0, 16 + 8));
  short[15] = 8;
  t.is(codeOf(() => decodeProxyV2(short)), 'BAD_LENGTH');
  // A TLV running past the end.
  const badTlv = Buffer.concat([good, Buffer.from([0xe0, 0x00, 0x09, 0x41])]);
  badTlv[15] = 12 + 4;
  t.is(codeOf(() => decodeProxyV2(badTlv)), 'BAD_TLV');
  // Oversize: refused as soon as the length field is read, before the body is buffered.
  const huge = Uint8Array.from(good.subarray(0, 16));
  huge[14] = 0xff;
  huge[15] = 0xff;
  t.is(codeOf(() => new ProxyV2Parser({ maxHeaderBytes: 1024 }).push(huge)), 'OVERSIZE');
});

interface Served {
  port: number;
  results: Array<Promise<AcceptedConnection>>;
  close(): Promise<void>;
}

async function serve(options: AcceptProxyOptions, onAccepted?: (c: AcceptedConnection) => void): Promise<Served> {
  const results: Array<Promise<AcceptedConnection>> = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const p = acceptProxyHeader(socket, options);
    p.then(onAccepted, () => undefined);
    results.push(p);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    results,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function connectFrom(port: number, localAddress: string): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

async function nextResult(s: Served, index: number): Promise<AcceptedConnection> {
  while (s.results.length <= index) await new Promise((r) => setTimeout(r, 5));
  return s.results[index]!;
}

test('acceptProxyHeader: a trusted source must send a header; its address replaces the socket one, leftover bytes stay readable', async (t) => {
  const served = await serve({ trustedSources: ['127.0.0.2'], timeoutMs: 2_000 }, (c) => c.socket.pipe(c.socket));
  t.teardown(() => served.close());
  const socket = await connectFrom(served.port, '127.0.0.2');
  const header = encodeProxyV2({
    address: { family: 'tcp4', sourceAddress: '203.0.113.9', sourcePort: 4242, destinationAddress: '198.51.100.1', destinationPort: 9735 },
    tlvs: [originTlv('tor')],
  });
  // Header and payload in one write: the payload must not be lost with the header.
  socket.write(Buffer.concat([header, Buffer.from('ping')]));
  const conn = await nextResult(served, 0);
  t.is(conn.remoteAddress, '203.0.113.9');
  t.is(conn.remotePort, 4242);
  t.is(conn.localPort, 9735);
  t.true(conn.viaProxy);
  t.is(conn.origin, 'tor');
  const [echo] = (await once(socket, 'data')) as [Buffer];
  t.is(echo.toString(), 'ping');
  socket.destroy();

  // From the trusted source without a header: rejected, connection closed.
  const bare = await connectFrom(served.port, '127.0.0.2');
  bare.write('\x00hello lightning');
  const error = await t.throwsAsync(nextResult(served, 1), { instanceOf: ProxyProtocolError });
  t.is(error?.code, 'BAD_SIGNATURE');
  await once(bare, 'close');
});

test('acceptProxyHeader: a header from an untrusted source is refused; plain bytes from it pass untouched', async (t) => {
  const served = await serve({ trustedSources: ['127.0.0.2'], timeoutMs: 2_000 }, (c) => c.socket.pipe(c.socket));
  t.teardown(() => served.close());
  const spoofer = await connectFrom(served.port, '127.0.0.3');
  spoofer.write(
    encodeProxyV2({ address: { family: 'tcp4', sourceAddress: '8.8.8.8', sourcePort: 1, destinationAddress: '1.1.1.1', destinationPort: 2 } }),
  );
  const error = await t.throwsAsync(nextResult(served, 0), { instanceOf: ProxyProtocolError });
  t.is(error?.code, 'UNTRUSTED_SOURCE');
  await once(spoofer, 'close');

  const direct = await connectFrom(served.port, '127.0.0.3');
  direct.write('\x00act-one');
  const conn = await nextResult(served, 1);
  t.false(conn.viaProxy);
  t.is(conn.remoteAddress, '127.0.0.3');
  const [echo] = (await once(direct, 'data')) as [Buffer];
  t.is(echo.toString(), '\x00act-one');
  direct.destroy();
});

test('acceptProxyHeader: a trusted source that stalls mid-header times out; oversize and truncated close the socket', async (t) => {
  const served = await serve({ trustedSources: ['127.0.0.0/8'], timeoutMs: 300, maxHeaderBytes: 64 });
  t.teardown(() => served.close());
  const staller = await connectFrom(served.port, '127.0.0.2');
  staller.write(PROXY_V2_SIGNATURE.subarray(0, 6));
  t.is((await t.throwsAsync(nextResult(served, 0), { instanceOf: ProxyProtocolError }))?.code, 'TIMEOUT');
  await once(staller, 'close');

  const big = await connectFrom(served.port, '127.0.0.2');
  const head = Buffer.from(encodeProxyV2({ command: 'local', tlvs: [{ type: 0xe1, value: new Uint8Array(100) }] }));
  big.write(head);
  t.is((await t.throwsAsync(nextResult(served, 1), { instanceOf: ProxyProtocolError }))?.code, 'OVERSIZE');
  await once(big, 'close');

  const cut = await connectFrom(served.port, '127.0.0.2');
  const small = encodeProxyV2({ address: { family: 'tcp4', sourceAddress: '1.2.3.4', sourcePort: 1, destinationAddress: '5.6.7.8', destinationPort: 2 } });
  cut.end(small.subarray(0, 20));
  t.is((await t.throwsAsync(nextResult(served, 2), { instanceOf: ProxyProtocolError }))?.code, 'TRUNCATED');
});
