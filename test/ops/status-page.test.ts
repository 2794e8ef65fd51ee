// The back's status page in a real headless Chromium (Debian's `chromium`): a cluster of real
// processes, a peer, the page opened with the admin password, a screenshot, the expected elements,
// and a live refresh when a second peer arrives.
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { TestCluster } from '../helpers/cluster-harness.js';
import { connectPeer } from '../helpers/ln-peer.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// Without chromium the browser test is skipped on a developer's machine, but CI must have it.
const haveChromium = existsSync(CHROMIUM);
const browserTest = haveChromium || process.env['CI'] === 'true' ? test.serial : test.serial.skip;
if (!haveChromium) console.warn(`status page browser test: ${CHROMIUM} not found (apt-get install chromium)${process.env['CI'] === 'true' ? '; CI=true, so it fails' : '; skipped'}`);

function adminOf(cluster: TestCluster): { url: string; password: string } {
  const info = JSON.parse(readFileSync(join(cluster.dataDir, 'admin.json'), 'utf8')) as { adminUrl: string };
  return { url: info.adminUrl, password: readFileSync(join(cluster.dataDir, 'admin.password'), 'utf8').trim() };
}

/** PNG width and height from the IHDR chunk: proves the file is a real image of a real page. */
function pngSize(file: string): { width: number; height: number } {
  const bytes = readFileSync(file);
  if (bytes.subarray(0, 8).toString('hex') !== '89504e470d0a1a0a' || bytes.subarray(12, 16).toString() !== 'IHDR') throw new Error(`${file} is not a PNG`);
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

test.serial('the page and its data need the admin password; wrong methods and the page assets are handled', async (t) => {
  const cluster = await TestCluster.start({ fronts: 1, logLevel: 'info' });
  t.teardown(() => cluster.stop());
  const { url, password } = adminOf(cluster);
  for (const path of ['/', '/status', '/status/app.js', '/status/app.css', '/api/recent-errors']) {
    const anonymous = await fetch(url + path);
    t.is(anonymous.status, 401, `${path} without a password`);
    t.regex(anonymous.headers.get('www-authenticate') ?? '', /^Basic realm="lncluster"/, `${path} asks for HTTP Basic`);
    const wrong = await fetch(url + path, { headers: { authorization: 'Basic ' + Buffer.from('admin:not-the-password').toString('base64') } });
    t.is(wrong.status, 401, `${path} with a wrong password`);
  }
  const basic = { authorization: 'Basic ' + Buffer.from(`any-user:${password}`).toString('base64') };
  const page = await fetch(url + '/', { headers: basic });
  t.is(page.status, 200);
  t.regex(page.headers.get('content-type') ?? '', /^text\/html/);
  t.regex(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  t.is(page.headers.get('cache-control'), 'no-store');
  t.regex(await page.text(), /<table id="fronts">/);
  t.is((await fetch(url + '/status/app.js', { headers: basic })).headers.get('content-type'), 'text/javascript; charset=utf-8');
  t.is((await fetch(url + '/', { method: 'POST', headers: basic })).status, 405);
  const recent = (await (await fetch(url + '/api/recent-errors', { headers: basic })).json()) as { entries: unknown[]; capacity: number };
  t.true(Array.isArray(recent.entries));
  t.is(recent.capacity, 50);
  // The admin API behind it still answers.
  t.is(((await (await fetch(url + '/api/getinfo', { headers: basic })).json()) as { nodeId: string }).nodeId, cluster.nodeId);
});

browserTest('headless Chromium: fronts, peers, node id, recent errors; screenshot; live refresh', async (t) => {
  t.timeout(120_000);
  const cluster = await TestCluster.start({ fronts: 2, logLevel: 'info' });
  const scratch = mkdtempSync(join(tmpdir(), 'lncluster-status-page-'));
  let context: BrowserContext | undefined;
  t.teardown(async () => {
    await context?.close().catch(() => undefined);
    await cluster.stop();
    if (process.env['KEEP_SCREENSHOTS'] !== '1') rmSync(scratch, { recursive: true, force: true });
  });
  const { url, password } = adminOf(cluster);

  const first = await connectPeer(cluster.nodeId, cluster.frontPort(0));
  await first.handshakeInit();
  await cluster.waitFor('the first peer listed', async () => ((await cluster.api('peers')) as unknown[]).length === 1 || undefined);
  // Something for "recent errors": a cluster-port connection that is not TLS is rejected with a warning.
  await new Promise<void>((resolve) => {
    const [host, port] = [cluster.clusterAddress.slice(0, cluster.clusterAddress.lastIndexOf(':')), Number(cluster.clusterAddress.slice(cluster.clusterAddress.lastIndexOf(':') + 1))];
    const socket = tcpConnect({ host, port }, () => socket.end('this is not a TLS client hello\r\n\r\n'));
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
  });

  context = await chromium.launchPersistentContext(join(scratch, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    httpCredentials: { username: 'operator', password },
    viewport: { width: 1280, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const failedRequests: string[] = [];
  page.on('response', (response) => {
    if (response.status() >= 400 && response.status() !== 401) failedRequests.push(`${response.status()} ${response.url()}`);
  });
  const consoleErrors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });

  await page.goto(url + '/');
  await page.locator('#state[data-state="live"]').waitFor({ timeout: 20_000 });
  await page.locator('#fronts tbody tr').nth(1).waitFor({ timeout: 20_000 });

  t.is(await page.locator('#node-id').textContent(), cluster.nodeId, 'the node id');
  t.is(await page.locator('#network').textContent(), 'regtest');
  t.is(await page.locator('#front-count').textContent(), '2');
  t.is(await page.locator('#peer-count').textContent(), '1', 'the peer count');
  t.deepEqual((await page.locator('#fronts tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-front')))).sort(), ['front-1', 'front-2'], 'both fronts');
  t.is(await page.locator('#fronts tr[data-front="front-1"] td[data-health]').textContent(), 'healthy');
  t.is(await page.locator('#fronts tr[data-front="front-1"] td').nth(4).textContent(), '1', 'front-1 carries the peer');
  t.is(await page.locator('#fronts tr[data-front="front-2"] td').nth(4).textContent(), '0');
  t.is(await page.locator(`#peers tr[data-peer="${first.nodeId}"] td`).first().textContent(), 'front-1', 'the peer listed under its front');
  t.is(await page.locator('#onion').textContent(), 'n/a', 'no onion service in this cluster');
  // Gossip figures come from getinfo when the back reports them; otherwise the page says n/a.
  const info = (await cluster.api('getinfo')) as { gossip?: { channels?: number; nodes?: number } };
  const gossipSize = (await page.locator('#gossip-size').textContent()) ?? '';
  if (typeof info.gossip?.channels === 'number') t.regex(gossipSize, /^\d+ channels, \d+ nodes$/, 'the table size from getinfo');
  else t.is(gossipSize, 'n/a');
  await page.locator('#errors tbody tr').first().waitFor({ timeout: 10_000 });
  t.regex((await page.locator('#errors tbody').textContent()) ?? '', /cluster connection rejected/, 'the rejected cluster connection is among the recent warnings');

  const screenshot = join(scratch, 'status-page.png');
  await page.screenshot({ path: screenshot, fullPage: true });
  t.true(statSync(screenshot).size > 10_000, 'a screenshot with content');
  const size = pngSize(screenshot);
  t.is(size.width, 1280);
  t.true(size.height >= 600);
  t.log(`screenshot: ${screenshot}${process.env['KEEP_SCREENSHOTS'] === '1' ? '' : ' (removed; KEEP_SCREENSHOTS=1 keeps it)'}`);

  // Live: a second peer on the other front shows up without a reload.
  const second = await connectPeer(cluster.nodeId, cluster.frontPort(1));
  await second.handshakeInit();
  await page.locator('#peer-count', { hasText: /^2$/ }).waitFor({ timeout: 15_000 });
  t.is(await page.locator('#fronts tr[data-front="front-2"] td').nth(4).textContent(), '1');
  // And leaves again.
  first.close();
  await page.locator('#peer-count', { hasText: /^1$/ }).waitFor({ timeout: 15_000 });
  second.close();

  t.deepEqual(failedRequests, [], 'every request of the page succeeded');
  t.deepEqual(consoleErrors.filter((m) => !/401/.test(m)), [], 'no script errors');
});
