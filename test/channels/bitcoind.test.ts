import test from 'ava';
import {
  BitcoindChainSource,
  BitcoindRpcError,
  btcPerKvbToSatPerKw,
  fromDisplayHex,
  toDisplayHex,
  type RpcTransport,
} from '../../src/back/channels/bitcoind.js';
import { segwitAddress } from '../../src/back/channels/bech32.js';

interface Call {
  url: string;
  headers: Record<string, string>;
  method: string;
  params: unknown[];
}

/** A fake bitcoind: records requests, answers from a table (a function of method and params). */
function fake(answer: (method: string, params: unknown[]) => { result?: unknown; error?: { code: number; message: string } }) {
  const calls: Call[] = [];
  const transport: RpcTransport = async (url, headers, body) => {
    const req = JSON.parse(body) as { jsonrpc: string; id: number; method: string; params: unknown[] };
    calls.push({ url, headers, method: req.method, params: req.params });
    const a = answer(req.method, req.params);
    return { status: a.error ? 500 : 200, body: JSON.stringify({ result: a.result ?? null, error: a.error ?? null, id: req.id }) };
  };
  const source = new BitcoindChainSource({
    url: 'http://127.0.0.1:18443/',
    username: 'user',
    password: 'pass',
    network: 'regtest',
    wallet: 'ln',
    transport,
  });
  return { source, calls };
}

const HASH_DISPLAY = '0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206';

test('request shape: JSON-RPC 1.0 body, basic auth, wallet path only for wallet calls', async (t) => {
  const { source, calls } = fake((method) => (method === 'getblockchaininfo' ? { result: { bestblockhash: HASH_DISPLAY, blocks: 0 } } : { result: 'ab' }));
  const tip = await source.tip();
  t.is(calls[0]!.url, 'http://127.0.0.1:18443');
  t.is(calls[0]!.headers['authorization'], `Basic ${Buffer.from('user:pass').toString('base64')}`);
  t.is(calls[0]!.method, 'getblockchaininfo');
  t.deepEqual(calls[0]!.params, []);
  // Internal byte order: the regtest genesis as LDK and headers see it.
  t.is(Buffer.from(tip.hash).toString('hex'), '06226e46111a0b59caaf126043eb5bbf28c34f3a5e332a1fc7b2b73cf188910f');
  t.is(toDisplayHex(tip.hash), HASH_DISPLAY);
  await source.block(tip.hash);
  t.deepEqual(calls[1]!.params, [HASH_DISPLAY, 0], 'getblock asks for raw hex of the display-order hash');
});

test('blockHashAt: out of range (-8) is undefined, other errors are typed errors', async (t) => {
  const { source } = fake((_m, params) =>
    params[0] === 5 ? { error: { code: -8, message: 'Block height out of range' } } : params[0] === 6 ? { error: { code: -1, message: 'boom' } } : { result: HASH_DISPLAY },
  );
  t.deepEqual(await source.blockHashAt(0), fromDisplayHex(HASH_DISPLAY));
  t.is(await source.blockHashAt(5), undefined);
  const err = await t.throwsAsync(source.blockHashAt(6), { instanceOf: BitcoindRpcError });
  t.is(err?.rpcCode, -1);
  t.is(err?.code, 'chain-error');
});

test('fees: estimatesmartfee per target, BTC/kvB to sat/kw, floor 253, fallbacks until known', async (t) => {
  t.is(btcPerKvbToSatPerKw(0.0001), 2500);
  const { source, calls } = fake((method, params) => {
    if (method === 'getmempoolinfo') return { result: { mempoolminfee: 0.00001 } };
    if (method === 'estimatesmartfee') return params[0] === 12 ? { result: { feerate: 0.0002 } } : { result: { errors: ['Insufficient data'] } };
    return { result: null };
  });
  t.is(source.feeRate('non-anchor-channel-fee'), 2_000, 'fallback before the first refresh');
  await source.refreshFees();
  t.is(source.feeRate('non-anchor-channel-fee'), 5_000);
  t.is(source.feeRate('channel-close-minimum'), 253, 'no estimate: fallback kept');
  const est = calls.filter((c) => c.method === 'estimatesmartfee').map((c) => c.params);
  t.deepEqual(est[0], [1, 'CONSERVATIVE']);
  t.true(est.some((p) => p[0] === 1008 && p[1] === 'ECONOMICAL'));
});

test('funding: createrawtransaction to the script address, fundrawtransaction, signrawtransactionwithwallet', async (t) => {
  const { source, calls } = fake((method) => {
    if (method === 'createrawtransaction') return { result: 'aa' };
    if (method === 'fundrawtransaction') return { result: { hex: 'bb', fee: 0.00001, changepos: 1 } };
    if (method === 'signrawtransactionwithwallet') return { result: { hex: 'cc', complete: true } };
    return { result: null };
  });
  const script = new Uint8Array(Buffer.from('00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262', 'hex'));
  const tx = await source.fundingTransaction(script, 100_000n);
  t.deepEqual(tx, Uint8Array.of(0xcc));
  t.deepEqual(
    calls.map((c) => c.method),
    ['createrawtransaction', 'fundrawtransaction', 'signrawtransactionwithwallet'],
  );
  t.true(calls.every((c) => c.url === 'http://127.0.0.1:18443/wallet/ln'));
  t.deepEqual(calls[0]!.params, [[], [{ bcrt1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qzf4jry: 0.001 }]]);
  t.deepEqual(calls[2]!.params, ['bb']);
});

test('funding fails cleanly when the wallet cannot sign', async (t) => {
  const { source } = fake((method) =>
    method === 'signrawtransactionwithwallet' ? { result: { hex: 'cc', complete: false } } : method === 'fundrawtransaction' ? { result: { hex: 'bb' } } : { result: 'aa' },
  );
  const script = new Uint8Array(34);
  script[1] = 32;
  await t.throwsAsync(source.fundingTransaction(script, 1000n), { instanceOf: BitcoindRpcError, message: /could not sign/ });
});

test('segwit addresses (BIP 173 / BIP 350 vectors)', (t) => {
  const p2wsh = new Uint8Array(Buffer.from('00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262', 'hex'));
  t.is(segwitAddress(p2wsh, 'bitcoin'), 'bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3');
  t.is(segwitAddress(p2wsh, 'testnet'), 'tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7');
  const p2wpkh = new Uint8Array(Buffer.from('0014751e76e8199196d454941c45d1b3a323f1433bd6', 'hex'));
  t.is(segwitAddress(p2wpkh, 'bitcoin'), 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4');
  const p2tr = new Uint8Array(Buffer.from('512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798', 'hex'));
  t.is(segwitAddress(p2tr, 'bitcoin'), 'bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0');
  t.throws(() => segwitAddress(Uint8Array.of(0x76, 0xa9), 'bitcoin'), { message: /not a segwit/ });
});
