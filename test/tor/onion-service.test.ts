import test from 'ava';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  OnionServiceError,
  addOnionCommand,
  readOnionKeyFile,
  writeOnionKeyFile,
} from '../../src/tor/onion-service.js';

const KEY = 'ED25519-V3:CJOxc88kB8DlhMXniW/tVSdqEw+2LOLWulrDLrpztHye5pIR9HpdXua/8BC2W7ggUFAx8nnZpW9mf0/PDCG22A==';

test('ADD_ONION command lines', (t) => {
  t.is(
    addOnionCommand({ key: 'new', ports: [{ virtualPort: 9735, target: '127.0.0.1:9736' }] }),
    'ADD_ONION NEW:ED25519-V3 Port=9735,127.0.0.1:9736',
  );
  t.is(
    addOnionCommand({
      key: KEY,
      detach: true,
      maxStreams: 10,
      ports: [
        { virtualPort: 9735, target: '10.0.0.1:9735' },
        { virtualPort: 9735, target: 'unix:/run/lncluster/onion.sock' },
        { virtualPort: 9735, target: '[::1]:9735' },
      ],
    }),
    `ADD_ONION ${KEY} Flags=Detach MaxStreams=10 Port=9735,10.0.0.1:9735 Port=9735,unix:/run/lncluster/onion.sock Port=9735,[::1]:9735`,
  );
});

test('bad ports, targets and keys are refused before reaching Tor', (t) => {
  const bad = (request: Parameters<typeof addOnionCommand>[0]): string =>
    t.throws(() => addOnionCommand(request), { instanceOf: OnionServiceError })!.code;
  t.is(bad({ key: 'new', ports: [] }), 'bad-port');
  t.is(bad({ key: 'new', ports: [{ virtualPort: 0, target: '127.0.0.1:1' }] }), 'bad-port');
  t.is(bad({ key: 'new', ports: [{ virtualPort: 9735, target: '127.0.0.1:9736 Flags=Detach' }] }), 'bad-port');
  t.is(bad({ key: 'new', ports: [{ virtualPort: 9735, target: '127.0.0.1:70000' }] }), 'bad-port');
  t.is(bad({ key: 'ED25519-V3:AAAA', ports: [{ virtualPort: 9735, target: '127.0.0.1:1' }] }), 'bad-key');
});

test('key file: absent => undefined, written 0600, group-readable refused', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lncluster-onion-key-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'onion.key');
  t.is(await readOnionKeyFile(file), undefined);
  await writeOnionKeyFile(file, KEY);
  t.is((await stat(file)).mode & 0o777, 0o600);
  t.is(await readFile(file, 'utf8'), `${KEY}\n`);
  t.is(await readOnionKeyFile(file), KEY);
  await chmod(file, 0o640);
  t.is((await t.throwsAsync(readOnionKeyFile(file), { instanceOf: OnionServiceError }))!.code, 'insecure-key-file');
  await writeFile(file, 'garbage\n', { mode: 0o600 });
  await chmod(file, 0o600);
  t.is((await t.throwsAsync(readOnionKeyFile(file), { instanceOf: OnionServiceError }))!.code, 'bad-key');
});
