#!/usr/bin/env node
import { describeStartupError } from './role.js';

/** `lncluster <role|command>`: one executable; each role runs as its own OS process. */
const USAGE = `usage: lncluster <command> [options]

roles (long-running processes):
  back       the node's one back: identity, peers, channels, admin API
  front      a stateless front: BOLT 8, init, ping, gossip; forwards channel messages
  balancer   the public port: spreads peers over healthy fronts (PROXY v2), builtin or HAProxy
  demo       a whole cluster on 127.0.0.1 (back + fronts as separate processes)
  tor        keeps the node's onion service published through Tor's control port; reports it to the back

tools:
  keygen     create the cluster certificate (and optionally a node key)
  cli        talk to the back's admin API (getinfo, peers, fronts, connect, disconnect)

Every role takes --network bitcoin|testnet|signet|regtest, --data-dir DIR, --config FILE and any
configuration key as --key value (see config/*.conf).`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'back':
      return (await import('../back/main.js')).runBack(rest);
    case 'front':
      return (await import('../front/main.js')).runFront(rest);
    case 'balancer':
      return (await import('../balancer/main.js')).runBalancer(rest);
    case 'demo':
      return (await import('./demo.js')).runDemo(rest);
    case 'tor':
      return (await import('../tor/main.js')).runTor(rest);
    case 'keygen':
      return (await import('./keygen.js')).runKeygen(rest);
    case 'cli':
      return (await import('./admin-client.js')).runCli(rest);
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(USAGE + '\n');
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command ${command}\n\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const { message, exitCode } = describeStartupError(error);
    const cliExit = (error as { exitCode?: number }).exitCode;
    process.stderr.write(`lncluster: ${message}\n`);
    process.exit(cliExit ?? exitCode);
  },
);
