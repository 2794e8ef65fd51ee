/**
 * The status page's static files, kept as strings so the build needs no asset step. The script is
 * plain ES2020 for the browser; it builds every cell with textContent (never innerHTML), because
 * peer addresses, front ids and log messages come from outside.
 */

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lncluster status</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/status/app.css">
<script src="/status/app.js" defer></script>
</head>
<body>
<header>
  <h1>lncluster</h1>
  <span id="state" class="badge" data-state="loading">loading…</span>
</header>
<section class="identity">
  <div><span class="label">node id</span> <code id="node-id">n/a</code></div>
  <div><span class="label">network</span> <span id="network">n/a</span></div>
  <div><span class="label">onion address</span> <code id="onion">n/a</code></div>
  <div><span class="label">updated</span> <span id="updated">never</span></div>
</section>
<section class="cards">
  <div class="card"><div class="label">fronts</div><div class="value" id="front-count">n/a</div></div>
  <div class="card"><div class="label">peers</div><div class="value" id="peer-count">n/a</div></div>
  <div class="card"><div class="label">gossip table</div><div class="value" id="gossip-size">n/a</div></div>
  <div class="card"><div class="label">gossip sync</div><div class="value" id="gossip-sync">n/a</div></div>
</section>
<h2>Fronts</h2>
<table id="fronts">
  <thead><tr><th>front</th><th>listen</th><th>health</th><th>key</th><th>peers</th><th>handshakes</th><th>dials</th><th>in</th><th>out</th><th>linked since</th></tr></thead>
  <tbody></tbody>
</table>
<h2>Peers per front</h2>
<table id="peers">
  <thead><tr><th>front</th><th>node id</th><th>direction</th><th>address</th><th>connected since</th></tr></thead>
  <tbody></tbody>
</table>
<p id="peers-more" class="note" hidden></p>
<h2>Recent warnings and errors</h2>
<table id="errors">
  <thead><tr><th>time</th><th>level</th><th>module</th><th>message</th><th>details</th></tr></thead>
  <tbody></tbody>
</table>
<h2>Node</h2>
<dl id="info"></dl>
<footer>read-only; refreshed every 2 s from the admin API</footer>
</body>
</html>
`;

export const STATUS_PAGE_CSS = `
:root { color-scheme: light dark; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --muted: #6e7781; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; max-width: 78rem; }
header { display: flex; align-items: center; gap: 1rem; }
h1 { font-size: 1.4rem; margin: 0; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
code { font-family: ui-monospace, monospace; word-break: break-all; }
.label { color: var(--muted); font-size: .85rem; }
.identity { display: grid; gap: .25rem; margin: 1rem 0; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; }
.card { border: 1px solid #8884; border-radius: 6px; padding: .6rem 1rem; min-width: 9rem; }
.card .value { font-size: 1.4rem; font-variant-numeric: tabular-nums; }
#gossip-size, #gossip-sync { font-size: 1rem; max-width: 28rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #8883; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.mono { font-family: ui-monospace, monospace; word-break: break-all; }
#errors td:first-child { white-space: nowrap; }
.badge { border-radius: 999px; padding: .1rem .6rem; font-size: .8rem; border: 1px solid currentColor; }
[data-state="live"], [data-health="healthy"] { color: var(--ok); }
[data-state="loading"], [data-health="draining"], [data-level="warn"] { color: var(--warn); }
[data-state="error"], [data-health="unhealthy"], [data-level="error"], [data-level="fatal"] { color: var(--bad); }
.note, footer { color: var(--muted); font-size: .85rem; }
footer { margin-top: 2rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dt { color: var(--muted); }
dd { margin: 0; word-break: break-all; }
`;

export const STATUS_PAGE_JS = `'use strict';
(function () {
  var REFRESH_MS = 2000;
  var MAX_PEER_ROWS = 200;

  function byId(id) { return document.getElementById(id); }
  function text(id, value) { byId(id).textContent = value === undefined || value === null || value === '' ? 'n/a' : String(value); }

  function getJson(path) {
    return fetch(path, { credentials: 'same-origin', cache: 'no-store', headers: { accept: 'application/json' } }).then(function (response) {
      if (!response.ok) throw new Error(path + ': HTTP ' + response.status);
      return response.json();
    });
  }

  /** The first of several dotted paths that is present in obj (getinfo grows as features land). */
  function pick(obj, paths) {
    for (var i = 0; i < paths.length; i++) {
      var value = paths[i].split('.').reduce(function (o, k) { return o !== null && typeof o === 'object' ? o[k] : undefined; }, obj);
      if (value !== undefined && value !== null) return value;
    }
    return undefined;
  }

  function describe(value) {
    if (value === undefined || value === null) return 'n/a';
    if (typeof value !== 'object') return String(value);
    if (Array.isArray(value)) return value.length === 0 ? '(none)' : value.map(describe).join(', ');
    return Object.keys(value).map(function (k) { return k + ' ' + describe(value[k]); }).join(' · ');
  }

  function bytesPerSecond(n) {
    if (typeof n !== 'number') return 'n/a';
    var units = ['B/s', 'kB/s', 'MB/s', 'GB/s'];
    var i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return (i === 0 ? String(n) : n.toFixed(1)) + ' ' + units[i];
  }

  function since(iso) {
    var t = Date.parse(iso);
    if (isNaN(t)) return 'n/a';
    var s = Math.max(0, Math.round((Date.now() - t) / 1000));
    var ago = s < 60 ? s + ' s' : s < 3600 ? Math.floor(s / 60) + ' min' : s < 86400 ? Math.floor(s / 3600) + ' h' : Math.floor(s / 86400) + ' d';
    return ago + ' ago';
  }

  function row(cells, attributes) {
    var tr = document.createElement('tr');
    Object.keys(attributes || {}).forEach(function (name) { tr.setAttribute(name, attributes[name]); });
    cells.forEach(function (cell) {
      var td = document.createElement('td');
      if (cell !== null && typeof cell === 'object') {
        td.textContent = cell.text === undefined || cell.text === null ? 'n/a' : String(cell.text);
        if (cell.className) td.className = cell.className;
        Object.keys(cell.data || {}).forEach(function (k) { td.setAttribute('data-' + k, cell.data[k]); });
      } else td.textContent = cell === undefined || cell === null ? 'n/a' : String(cell);
      tr.appendChild(td);
    });
    return tr;
  }

  function fill(tableId, rows) {
    var body = byId(tableId).tBodies[0];
    body.replaceChildren.apply(body, rows);
  }

  function health(front) {
    if (front.draining) return 'draining';
    return front.healthy ? 'healthy' : 'unhealthy';
  }

  function renderInfo(info) {
    text('node-id', info.nodeId);
    text('network', info.network);
    text('onion', pick(info, ['onionAddress', 'onion', 'tor.onionAddress', 'tor.address']));
    var size = pick(info, ['gossip.table', 'gossip.size', 'routingTable', 'gossip']);
    var channels = pick(info, ['gossip.channels', 'routingTable.channels', 'gossip.table.channels', 'graph.channels']);
    var nodes = pick(info, ['gossip.nodes', 'routingTable.nodes', 'gossip.table.nodes', 'graph.nodes']);
    text('gossip-size', channels !== undefined || nodes !== undefined
      ? (channels === undefined ? 'n/a' : channels) + ' channels, ' + (nodes === undefined ? 'n/a' : nodes) + ' nodes'
      : size === undefined ? undefined : describe(size));
    var sync = pick(info, ['gossip.sync', 'gossip.syncProgress', 'gossipSync', 'sync', 'progress']);
    var load = pick(info, ['gossip.load', 'routingTable.load']);
    var parts = [];
    if (sync !== undefined) parts.push(describe(sync));
    if (load !== undefined) parts.push('table load: ' + describe(load));
    text('gossip-sync', parts.join(' · '));
    var list = byId('info');
    var items = [];
    Object.keys(info).sort().forEach(function (key) {
      var dt = document.createElement('dt');
      dt.textContent = key;
      var dd = document.createElement('dd');
      dd.textContent = describe(info[key]);
      items.push(dt, dd);
    });
    list.replaceChildren.apply(list, items);
  }

  function renderFronts(fronts, peers) {
    text('front-count', fronts.length);
    text('peer-count', peers.length);
    fill('fronts', fronts.map(function (f) {
      var load = f.load || {};
      return row([
        f.id,
        f.listen,
        { text: health(f), data: { health: health(f) } },
        f.keyless ? 'keyless' : 'local key',
        { text: f.peers, className: 'num' },
        { text: load.handshakesInProgress, className: 'num' },
        { text: load.dialsInProgress, className: 'num' },
        { text: bytesPerSecond(load.bytesInPerSecond), className: 'num' },
        { text: bytesPerSecond(load.bytesOutPerSecond), className: 'num' },
        since(f.connectedAt),
      ], { 'data-front': String(f.id) });
    }));
    var sorted = peers.slice().sort(function (a, b) { return String(a.front).localeCompare(String(b.front)) || String(a.nodeId).localeCompare(String(b.nodeId)); });
    fill('peers', sorted.slice(0, MAX_PEER_ROWS).map(function (p) {
      return row([p.front, { text: p.nodeId, className: 'mono' }, p.direction, p.address, since(p.connectedAt)], { 'data-peer': String(p.nodeId) });
    }));
    var more = byId('peers-more');
    more.hidden = sorted.length <= MAX_PEER_ROWS;
    more.textContent = sorted.length > MAX_PEER_ROWS ? 'and ' + (sorted.length - MAX_PEER_ROWS) + ' more (lncluster cli peers lists them all)' : '';
  }

  function renderErrors(recent) {
    var entries = (recent.entries || []).slice().reverse();
    fill('errors', entries.map(function (e) {
      var details = Object.keys(e.fields || {}).map(function (k) { return k + '=' + e.fields[k]; }).join(' ');
      return row([e.time, { text: e.level, data: { level: e.level } }, e.module || '', e.msg, details]);
    }));
  }

  function setState(state, label) {
    var badge = byId('state');
    badge.setAttribute('data-state', state);
    badge.textContent = label;
  }

  function refresh() {
    Promise.all([getJson('/api/getinfo'), getJson('/api/fronts'), getJson('/api/peers'), getJson('/api/recent-errors')])
      .then(function (results) {
        renderInfo(results[0]);
        renderFronts(results[1], results[2]);
        renderErrors(results[3]);
        text('updated', new Date().toLocaleTimeString());
        setState('live', 'live');
      })
      .catch(function (error) { setState('error', 'cannot reach the back: ' + error.message); })
      .then(function () { setTimeout(refresh, REFRESH_MS); });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', refresh);
  else refresh();
})();
`;
