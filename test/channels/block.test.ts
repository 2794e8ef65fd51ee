import test from 'ava';
import { blockHash, parseBlock, serializeBlock } from '../../src/back/channels/block.js';
import { fakeFundingTransaction, TestChain } from '../helpers/ldk-test-chain.js';

test('parseBlock splits legacy and segwit transactions and rejects truncation', async (t) => {
  const chain = new TestChain();
  const funding = fakeFundingTransaction(new Uint8Array(34).fill(7, 2).fill(0, 0, 1).fill(32, 1, 2), 123_456n);
  chain.broadcast([funding]);
  chain.mine(1);
  const tip = await chain.tip();
  const block = await chain.block(tip.hash);
  const parsed = parseBlock(block);
  t.deepEqual(blockHash(parsed.header), tip.hash);
  t.is(parsed.txs.length, 2);
  t.deepEqual(Uint8Array.from(parsed.txs[1]!.tx), funding);
  t.is(parsed.txs[1]!.index, 1);
  t.deepEqual(serializeBlock(parsed.header, parsed.txs.map((x) => x.tx)), Uint8Array.from(block));
  t.throws(() => parseBlock(block.subarray(0, block.length - 1)), { message: /truncated/ });
  t.throws(() => parseBlock(Uint8Array.from([...block, 0])), { message: /trailing/ });
});
