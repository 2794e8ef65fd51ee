// Funding-output check through a JSON-RPC double of Bitcoin Core on 127.0.0.1.
import test from 'ava';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultCrypto } from '../../src/lightning/crypto/index.js';
import { scidFromParts } from '../../src/lightning/wire/index.js';
import { BitcoindFundingChecker, fundingScriptPubKey, fundingWitnessScript } from '../../src/back/gossip/index.js';

const crypto = defaultCrypto();
const key1 = crypto.publicKey(crypto.randomSecretKey());
const key2 = crypto.publicKey(crypto.randomSecretKey());
const FUNDING_TXID = 'aa'.repeat(32);

interface Double {
  url: string;
  calls: string[];
  auth: string[];
  server: Server;
}

async function bitcoindDouble(t: { teardown(fn: () => void): void }, outputs: Record<string, unknown>, options: { failWith?: number } = {}): Promise<Double> {
  const calls: string[] = [];
  const auth: string[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    auth.push(req.headers.authorization ?? '');
    const { id, method, params } = JSON.parse(body) as { id: number; method: string; params: unknown[] };
    calls.push(method);
    const reply = (result: unknown, error: unknown = null, status = 200) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ result, error, id }));
    };
    if (options.failWith) return reply(null, { code: -28, message: 'Loading block index...' }, options.failWith);
    if (method === 'getblockhash') {
      const height = params[0] as number;
      return height > 900_000 ? reply(null, { code: -8, message: 'Block height out of range' }, 500) : reply(`hash-${height}`);
    }
    if (method === 'getblock') return reply({ tx: ['00'.repeat(32), FUNDING_TXID] });
    if (method === 'gettxout') return reply(outputs[`${params[0]}:${params[1]}`] ?? null);
    reply(null, { code: -32601, message: 'Method not found' }, 404);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls, auth, server };
}

const good = { confirmations: 10, value: 0.0125, scriptPubKey: { hex: Buffer.from(fundingScriptPubKey(key1, key2)).toString('hex') } };

test('the BOLT 3 funding script orders keys and wraps as P2WSH', (t) => {
  const script = fundingWitnessScript(key2, key1);
  const [lo] = [key1, key2].sort(Buffer.compare);
  t.deepEqual(script.subarray(2, 35), lo);
  t.is(script.length, 71);
  t.deepEqual(fundingScriptPubKey(key1, key2), fundingScriptPubKey(key2, key1));
  t.is(fundingScriptPubKey(key1, key2).length, 34);
});

test('unspent P2WSH output with enough confirmations: ok with capacity; block lookups are cached', async (t) => {
  const d = await bitcoindDouble(t, { [`${FUNDING_TXID}:1`]: good });
  const checker = new BitcoindFundingChecker({ url: d.url, auth: { user: 'u', password: 'p' } });
  const scid = scidFromParts(800_000, 1, 1);
  t.deepEqual(await checker.check({ scid, bitcoinKey1: key1, bitcoinKey2: key2 }), { ok: true, capacitySat: 1_250_000, confirmations: 10 });
  t.deepEqual(await checker.check({ scid, bitcoinKey1: key2, bitcoinKey2: key1 }), { ok: true, capacitySat: 1_250_000, confirmations: 10 });
  t.deepEqual(d.calls, ['getblockhash', 'getblock', 'gettxout', 'gettxout']);
  t.is(d.auth[0], `Basic ${Buffer.from('u:p').toString('base64')}`);
  t.regex(checker.description, /^bitcoind http:\/\/127\.0\.0\.1:\d+$/);
});

test('spent, wrong script, too few confirmations, missing tx index and missing block are each reported', async (t) => {
  const other = crypto.publicKey(crypto.randomSecretKey());
  const d = await bitcoindDouble(t, { [`${FUNDING_TXID}:0`]: good, [`${FUNDING_TXID}:2`]: { ...good, confirmations: 3 } });
  const checker = new BitcoindFundingChecker({ url: d.url, auth: { user: 'u', password: 'p' } });
  const q = (scid: bigint, k2 = key2) => checker.check({ scid, bitcoinKey1: key1, bitcoinKey2: k2 });
  t.like(await q(scidFromParts(800_000, 1, 5)), { ok: false, reason: 'funding-spent' });
  t.like(await q(scidFromParts(800_000, 1, 0), other), { ok: false, reason: 'funding-mismatch' });
  t.like(await q(scidFromParts(800_000, 1, 2)), { ok: false, reason: 'funding-unconfirmed' });
  t.like(await q(scidFromParts(800_000, 7, 0)), { ok: false, reason: 'funding-mismatch' });
  t.like(await q(scidFromParts(950_000, 1, 0)), { ok: false, reason: 'funding-mismatch' });
});

test('backend failures are funding-check-failed, never a rejection of the promise', async (t) => {
  const d = await bitcoindDouble(t, {}, { failWith: 500 });
  const checker = new BitcoindFundingChecker({ url: d.url, auth: { user: 'u', password: 'p' } });
  t.like(await checker.check({ scid: scidFromParts(800_000, 1, 0), bitcoinKey1: key1, bitcoinKey2: key2 }), { ok: false, reason: 'funding-check-failed' });
  const down = new BitcoindFundingChecker({ url: 'http://127.0.0.1:1', auth: { user: 'u', password: 'p' }, timeoutMs: 2000 });
  t.like(await down.check({ scid: scidFromParts(800_000, 1, 0), bitcoinKey1: key1, bitcoinKey2: key2 }), { ok: false, reason: 'funding-check-failed' });
});

test('cookie-file authentication', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cookie-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, '.cookie'), '__cookie__:secret\n');
  const d = await bitcoindDouble(t, { [`${FUNDING_TXID}:1`]: good });
  const checker = new BitcoindFundingChecker({ url: d.url, auth: { cookieFile: join(dir, '.cookie') } });
  t.like(await checker.check({ scid: scidFromParts(800_000, 1, 1), bitcoinKey1: key1, bitcoinKey2: key2 }), { ok: true });
  t.is(d.auth[0], `Basic ${Buffer.from('__cookie__:secret').toString('base64')}`);
});
