/**
 * Chain hashes as BOLT messages carry them: the genesis block hash in internal byte order
 * (the reverse of how block explorers print it).
 */
export type Network = 'bitcoin' | 'testnet' | 'signet' | 'regtest';

const GENESIS_HEX: Record<Network, string> = {
  bitcoin: '6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000',
  testnet: '43497fd7f826957108f4a30fd9cec3aeba79972084e90ead01ea330900000000',
  signet: 'f61eee3b63a380a477a063af32b2bbc97c9ff9f01f2c4225e973988108000000',
  regtest: '06226e46111a0b59caaf126043eb5bbf28c34f3a5e332a1fc7b2b73cf188910f',
};

export function chainHash(network: Network): Uint8Array {
  return Uint8Array.from(Buffer.from(GENESIS_HEX[network], 'hex'));
}

export function networkOfChainHash(hash: Uint8Array): Network | undefined {
  const hex = Buffer.from(hash).toString('hex');
  return (Object.keys(GENESIS_HEX) as Network[]).find((n) => GENESIS_HEX[n] === hex);
}
