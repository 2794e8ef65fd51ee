// /metrics of the back and of a front: valid Prometheus text (strict parser), and the peer gauges
// move when a peer connects and leaves. Also: secrets stay out of every output of a running cluster.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestCluster } from '../helpers/cluster-harness.js';
import { connectPeer } from '../helpers/ln-peer.js';
import { parsePrometheusText, PrometheusTextError, sampleValue, type MetricFamily } from './prometheus-text.js';

async function scrape(url: string): Promise<Map<string, MetricFamily>> {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`${url}: HTTP ${response.status}`);
  const type = response.headers.get('content-type') ?? '';
  if (!/^text\/plain; version=0\.0\.4/.test(type)) throw new Error(`${url}: content-type ${type}`);
  return parsePrometheusText(await response.text());
}

test('the strict parser accepts the format and rejects what Prometheus would', (t) => {
  const good = [
    '# HELP a_total things\\ndone \\\\ here',
    '# TYPE a_total counter',
    'a_total{x="1",y="q\\"uote\\\\"} 3',
    'a_total{x="2",} 4 1700000000000',
    '# TYPE h histogram',
    'h_bucket{le="0.1"} 1',
    'h_bucket{le="+Inf"} 2',
    'h_sum 0.3',
    'h_count 2',
    'g NaN',
    'g4 Nan',
    'g2 -Inf',
    'g3 1.5e-3',
    '',
  ].join('\n');
  const families = parsePrometheusText(good);
  t.is(families.get('a_total')!.help, 'things\ndone \\ here');
  t.is(sampleValue(families, 'a_total', { x: '1', y: 'q"uote\\' }), 3);
  t.is(families.get('h')!.samples.length, 4);
  t.true(Number.isNaN(sampleValue(families, 'g')!));
  for (const [bad, why] of [
    ['a 1', /newline/],
    ['a{x="1} 1\n', /unterminated/],
    ['a{x=1} 1\n', /expected ="/],
    ['a one\n', /not a float/],
    ['a 1\nb 1\na 2\n', /two separate groups/],
    ['a 1\n# TYPE a gauge\n', /after its samples/],
    ['# TYPE a gauge\n# TYPE a counter\n', /second TYPE/],
    ['a{x="1"} 1\na{x="1"} 2\n', /duplicate series/],
    ['# TYPE c counter\nc -1\n', /negative/],
    ['# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\n', /not cumulative/],
    ['# TYPE h histogram\nh_bucket{le="1"} 2\nh_count 2\n', /no le="\+Inf"/],
    ['a{__x="1"} 1\n', /reserved/],
    ['a{x="1",x="2"} 1\n', /twice/],
    ['a 1 1.5\n', /not an integer/],
    ['1a 1\n', /bad sample line/],
  ] as const) {
    t.throws(() => parsePrometheusText(bad), { instanceOf: PrometheusTextError, message: why }, JSON.stringify(bad));
  }
});

test('back and front /metrics parse; peer gauges and handshake counters move with a peer', async (t) => {
  const cluster = await TestCluster.start({ fronts: 2, logLevel: 'info' });
  t.teardown(() => cluster.stop());
  const backMetrics = String(cluster.back.ready['metrics']);
  const frontMetrics = String(cluster.fronts[0]!.ready['metrics']);
  const otherFrontMetrics = String(cluster.fronts[1]!.ready['metrics']);

  const backBefore = await scrape(backMetrics);
  const frontBefore = await scrape(frontMetrics);
  for (const name of ['lncluster_back_fronts', 'lncluster_back_peers', 'lncluster_back_peer_messages_total', 'lncluster_back_front_links_lost_total']) {
    t.true(backBefore.has(name), `back exposes ${name}`);
  }
  for (const name of ['lncluster_front_peers', 'lncluster_front_handshakes_total', 'lncluster_front_peer_messages_total', 'lncluster_front_peer_bytes_total', 'lncluster_front_cluster_link_up']) {
    t.true(frontBefore.has(name), `front exposes ${name}`);
  }
  t.true([...backBefore.keys()].some((name) => /^lncluster_process_cpu_seconds_total$/.test(name)), 'process metrics (CPU, memory, event loop) under lncluster_');
  t.is(backBefore.get('lncluster_back_peers')!.type, 'gauge');
  t.is(frontBefore.get('lncluster_front_handshakes_total')!.type, 'counter');
  t.is(sampleValue(backBefore, 'lncluster_back_fronts'), 2);
  t.is(sampleValue(frontBefore, 'lncluster_front_cluster_link_up'), 1);
  t.is(sampleValue(backBefore, 'lncluster_back_peers', { front: 'front-1', direction: 'inbound' }) ?? 0, 0);
  t.is(sampleValue(frontBefore, 'lncluster_front_peers', { direction: 'inbound' }) ?? 0, 0);
  const handshakesBefore = sampleValue(frontBefore, 'lncluster_front_handshakes_total', { direction: 'inbound', result: 'ok' }) ?? 0;

  const peer = await connectPeer(cluster.nodeId, cluster.frontPort(0));
  await peer.handshakeInit();
  await cluster.waitFor('the back counts the peer', async () =>
    sampleValue(await scrape(backMetrics), 'lncluster_back_peers', { front: 'front-1', direction: 'inbound' }) === 1 || undefined,
  );
  const front = await scrape(frontMetrics);
  t.is(sampleValue(front, 'lncluster_front_peers', { direction: 'inbound' }), 1, 'the front counts its peer');
  t.is(sampleValue(front, 'lncluster_front_handshakes_total', { direction: 'inbound', result: 'ok' }), handshakesBefore + 1);
  // Counted messages are those the front forwards to the back (and gossip): an unknown odd type is one.
  peer.send(Uint8Array.from([0x80, 0x01, 1, 2, 3, 4, 5, 6, 7, 8]));
  const forwarded = await cluster.waitFor('the forwarded message counted', async () => {
    const after = await scrape(frontMetrics);
    return (sampleValue(after, 'lncluster_front_peer_messages_total', { type: 'unknown_32769', direction: 'in' }) ?? 0) >= 1 ? after : undefined;
  });
  t.true((sampleValue(forwarded, 'lncluster_front_peer_bytes_total', { direction: 'in' }) ?? 0) >= 10, 'its bytes counted');
  await cluster.waitFor('the back counts it too', async () =>
    (sampleValue(await scrape(backMetrics), 'lncluster_back_peer_messages_total', { type: 'unknown_32769', direction: 'in' }) ?? 0) >= 1 || undefined,
  );
  t.is(sampleValue(await scrape(otherFrontMetrics), 'lncluster_front_peers', { direction: 'inbound' }) ?? 0, 0, 'the other front has none');

  peer.close();
  await cluster.waitFor('the back drops the peer', async () =>
    sampleValue(await scrape(backMetrics), 'lncluster_back_peers', { front: 'front-1', direction: 'inbound' }) === 0 || undefined,
  );
  t.is(sampleValue(await scrape(frontMetrics), 'lncluster_front_peers', { direction: 'inbound' }), 0);

  // Health and readiness next to the metrics.
  const base = frontMetrics.replace(/\/metrics$/, '');
  t.is((await fetch(`${base}/health`)).status, 200);
  t.deepEqual(await (await fetch(`${base}/ready`)).json(), { ready: true, reasons: [] });
});

test('secrets never appear in a running cluster\'s output, even at log level trace', async (t) => {
  const cluster = await TestCluster.start({ fronts: 1, nodeKeyMode: 'local', logLevel: 'trace' });
  const read = (name: string) => readFileSync(join(cluster.dataDir, name), 'utf8').trim();
  const secrets = { clusterPassword: read('cluster.password'), adminPassword: read('admin.password'), nodeKey: read('node_key') };
  t.teardown(() => cluster.stop());
  const peer = await connectPeer(cluster.nodeId, cluster.frontPort(0));
  await peer.handshakeInit();
  await cluster.waitFor('peer listed', async () => ((await cluster.api('peers')) as unknown[]).length === 1 || undefined);
  const outputs = [cluster.back.stderr(), cluster.fronts[0]!.stderr(), JSON.stringify(cluster.back.ready), JSON.stringify(cluster.fronts[0]!.ready)];
  for (const command of ['getinfo', 'fronts', 'peers']) {
    const result = await cluster.cliRaw(command);
    t.is(result.code, 0, result.stderr);
    outputs.push(result.stdout, result.stderr);
  }
  peer.close();
  const all = outputs.join('\n');
  t.true(all.includes(cluster.nodeId), 'the outputs were captured');
  for (const [name, secret] of Object.entries(secrets)) {
    t.true(secret.length >= 16, `${name} is a real secret`);
    t.false(all.toLowerCase().includes(secret.toLowerCase()), `${name} appears nowhere`);
  }
});
