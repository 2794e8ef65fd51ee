/**
 * A tiny fake Bitcoin Core JSON-RPC server over the test's chain (TestChain): it answers the calls
 * BitcoindChainSource makes, so the back runs its real production chain source against it, and the
 * test mines blocks (holding whatever was broadcast, the funding transactions included).
 *   getblockchaininfo, getbestblockhash, getblockhash, getblock (verbosity 0), sendrawtransaction,
 *   estimatesmartfee (no estimate: the source's fallbacks), getmempoolinfo,
 *   createrawtransaction / fundrawtransaction / signrawtransactionwithwallet (a "wallet" that pays
 *   any amount from a made-up segwit input).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sha256d } from '../../src/back/channels/block.js';
import { fakeFundingTransaction, TestChain } from './ldk-test-chain.js';

const display = (hash: Uint8Array): string => Buffer.from(hash).reverse().toString('hex');
const internal = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex').reverse());

class RpcFailure extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';

/** Segwit address -> output script (checksum not verified: the back made the address). */
export function addressToScript(address: string): Uint8Array {
  const lower = address.toLowerCase();
  const sep = lower.lastIndexOf('1');
  const words = [...lower.slice(sep + 1, -6)].map((c) => {
    const v = CHARSET.indexOf(c);
    if (v < 0) throw new RpcFailure(-5, `invalid address ${address}`);
    return v;
  });
  const [version, ...data] = words;
  let acc = 0;
  let bits = 0;
  const program: number[] = [];
  for (const w of data) {
    acc = (acc << 5) | w;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      program.push((acc >> bits) & 0xff);
    }
  }
  return new Uint8Array([version === 0 ? 0 : 0x50 + version!, program.length, ...program]);
}

export interface FakeBitcoindOptions {
  user?: string;
  password?: string;
}

export class FakeBitcoind {
  readonly chain = new TestChain();
  readonly calls: string[] = [];
  readonly funded: Uint8Array[] = [];
  private server: Server | undefined;
  url = '';

  constructor(private readonly options: FakeBitcoindOptions = {}) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.onRequest(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Mines `count` blocks, the first holding the mempool. */
  mine(count = 1): void {
    this.chain.mine(count);
  }

  /** A transaction broadcast elsewhere (an LDK peer's funding transaction). */
  addToMempool(tx: Uint8Array): void {
    this.chain.broadcast([tx]);
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (this.options.password !== undefined) {
      const expected = `Basic ${Buffer.from(`${this.options.user ?? ''}:${this.options.password}`).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        res.writeHead(401).end();
        return;
      }
    }
    let request: { id?: unknown; method?: string; params?: unknown[] };
    try {
      request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof request;
    } catch {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ result: null, error: { code: -32700, message: 'parse error' }, id: null }));
      return;
    }
    const method = String(request.method);
    this.calls.push(method);
    try {
      const result = await this.answer(method, request.params ?? []);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ result, error: null, id: request.id }));
    } catch (error) {
      const code = error instanceof RpcFailure ? error.code : -1;
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ result: null, error: { code, message: (error as Error).message }, id: request.id }));
    }
  }

  private async answer(method: string, params: unknown[]): Promise<unknown> {
    const chain = this.chain;
    switch (method) {
      case 'getblockchaininfo': {
        const tip = await chain.tip();
        return { chain: 'regtest', blocks: tip.height, headers: tip.height, bestblockhash: display(tip.hash) };
      }
      case 'getbestblockhash':
        return display((await chain.tip()).hash);
      case 'getblockhash': {
        const hash = await chain.blockHashAt(Number(params[0]));
        if (!hash) throw new RpcFailure(-8, 'Block height out of range');
        return display(hash);
      }
      case 'getblock': {
        const hash = internal(String(params[0]));
        try {
          return Buffer.from(await chain.block(hash)).toString('hex');
        } catch {
          throw new RpcFailure(-5, 'Block not found');
        }
      }
      case 'sendrawtransaction': {
        const tx = new Uint8Array(Buffer.from(String(params[0]), 'hex'));
        chain.broadcast([tx]);
        return display(sha256d(tx));
      }
      case 'estimatesmartfee':
        return { errors: ['Insufficient data or no feerate found'], blocks: 0 };
      case 'getmempoolinfo':
        return { loaded: true, size: chain.mempool.length, mempoolminfee: 0.00001 };
      case 'createrawtransaction': {
        const outputs = params[1] as Array<Record<string, number>>;
        const [address, amount] = Object.entries(outputs[0]!)[0]!;
        return Buffer.from(JSON.stringify({ address, amount })).toString('hex');
      }
      case 'fundrawtransaction': {
        const { address, amount } = JSON.parse(Buffer.from(String(params[0]), 'hex').toString('utf8')) as { address: string; amount: number };
        const tx = fakeFundingTransaction(addressToScript(address), BigInt(Math.round(amount * 1e8)));
        this.funded.push(tx);
        return { hex: Buffer.from(tx).toString('hex'), fee: 0, changepos: -1 };
      }
      case 'signrawtransactionwithwallet':
        return { hex: String(params[0]), complete: true };
      default:
        throw new RpcFailure(-32601, 'Method not found');
    }
  }
}
