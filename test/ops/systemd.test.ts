// The systemd unit examples: hardened, restart policy and stop signal set, secrets as credentials,
// environment names that are real configuration keys; `systemd-analyze verify` when it is installed.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_KEYS, LEGACY_ENV } from '../../src/config/keys.js';
import { envNameOf } from '../../src/config/load.js';
import { repoRoot } from './config-reference.js';

const root = repoRoot();
const UNITS = { back: 'lncluster-back.service', front: 'lncluster-front@.service', balancer: 'lncluster-balancer.service', tor: 'lncluster-tor.service' } as const;
const REQUIRED = [
  /^User=lncluster$/m,
  /^NoNewPrivileges=yes$/m,
  /^ProtectSystem=strict$/m,
  /^ProtectHome=yes$/m,
  /^PrivateTmp=yes$/m,
  /^CapabilityBoundingSet=$/m,
  /^ReadWritePaths=\/var\/lib\/lncluster$/m,
  /^StateDirectory=lncluster$/m,
  /^Restart=on-failure$/m,
  /^RestartPreventExitStatus=2$/m,
  /^KillSignal=SIGTERM$/m,
  /^TimeoutStopSec=\d+s$/m,
  /^LoadCredential=[a-z-]+:\/etc\/lncluster\/[a-z_.-]+$/m,
];
const KNOWN_ENV = new Set([...Object.keys(CONFIG_KEYS).map(envNameOf), ...Object.keys(LEGACY_ENV)]);

for (const [role, unit] of Object.entries(UNITS)) {
  test(`${unit}: hardened, restarts on failure, stops with SIGTERM, secrets as credentials`, (t) => {
    const text = readFileSync(join(root, 'config', 'systemd', unit), 'utf8');
    for (const pattern of REQUIRED) t.regex(text, pattern, `${unit} has ${pattern.source}`);
    t.regex(text, new RegExp(`^ExecStart=/usr/bin/node /opt/lncluster/dist/src/cli/main\\.js ${role} --config /etc/lncluster/${role}\\.conf`, 'm'));
    t.true(existsSync(join(root, 'config', `${role}.conf`)), `config/${role}.conf exists`);
    const main = readFileSync(join(root, 'src', 'cli', 'main.ts'), 'utf8');
    t.regex(main, new RegExp(`case '${role}':`), `lncluster ${role} is a command`);
    for (const match of text.matchAll(/^#?Environment=([A-Z_]+)=/gm)) t.true(KNOWN_ENV.has(match[1]!), `${unit}: ${match[1]} is a configuration variable`);
    // Credentials are read from %d, never copied into the data dir or the unit.
    for (const match of text.matchAll(/^LoadCredential=([a-z-]+):/gm)) t.regex(text, new RegExp(`=%d/${match[1]}$`, 'm'), `${unit}: credential ${match[1]} is used`);
    t.notRegex(text, /^MemoryDenyWriteExecute=yes/m, 'V8 needs W+X memory');
    if (role === 'front') t.regex(text, /--front\.id %i/, 'the instance name is the front id');
  });
}

const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));
(analyze ? test : test.skip)('systemd-analyze verify accepts every unit', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lncluster-units-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const unit of Object.values(UNITS)) {
    const name = unit.replace('@.service', '@front-1.service');
    copyFileSync(join(root, 'config', 'systemd', unit), join(dir, unit));
    const result = spawnSync(analyze!, ['verify', '--man=no', join(dir, name)], { encoding: 'utf8' });
    const output = `${result.stdout}${result.stderr}`;
    t.notRegex(output, /Unknown key|Unknown section|Invalid|Failed to parse|bad-setting/i, `${unit}: ${output}`);
  }
});
