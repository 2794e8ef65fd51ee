import test from 'ava';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runKeygen } from '../../src/cli/keygen.js';
import {
  ClusterCredentialsError,
  clusterFilePaths,
  loadClusterCredentials,
  loadClusterCredentialsFromDataDir,
  writeClusterCertificate,
  type ClusterCredentialsErrorCode,
} from '../../src/cluster/index.js';
import { loadConfig } from '../../src/config/load.js';
import { loadNodeKey } from '../../src/config/node-key.js';
import { defaultCrypto } from '../../src/lightning/crypto/index.js';

const PASSWORD = 'correct horse battery';

async function tempDir(t: import('ava').ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lncluster-cert-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

async function errorCode(promise: Promise<unknown>): Promise<ClusterCredentialsErrorCode | string> {
  try {
    await promise;
    return 'no error';
  } catch (error) {
    return error instanceof ClusterCredentialsError ? error.code : `other: ${String(error)}`;
  }
}

/** Runs keygen with stdout/stderr captured. */
async function keygen(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string) => ((stdout += chunk), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => ((stderr += chunk), true)) as typeof process.stderr.write;
  try {
    return { code: await runKeygen(args), stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

test('the certificate is a 10-year self-signed ECDSA P-256 with the cluster name and loopback SANs; files are 0600', async (t) => {
  const dir = await tempDir(t);
  const certFile = join(dir, 'c.crt');
  const keyFile = join(dir, 'c.key');
  const created = await writeClusterCertificate({ certFile, keyFile, password: PASSWORD });
  t.is(await mode(certFile), 0o600);
  t.is(await mode(keyFile), 0o600);
  const certificate = new X509Certificate(await readFile(certFile));
  t.regex(certificate.subject, /CN=lncluster cluster/);
  t.is(certificate.subject, certificate.issuer);
  t.true(certificate.verify(certificate.publicKey), 'self-signed');
  t.is(certificate.publicKey.asymmetricKeyType, 'ec');
  t.is(certificate.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  for (const name of ['DNS:localhost', 'IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1']) t.true(certificate.subjectAltName?.includes(name), name);
  const years = (Date.parse(certificate.validTo) - Date.parse(certificate.validFrom)) / (365.25 * 24 * 3600 * 1000);
  t.true(years > 9.9 && years < 10.1, `${years} years`);
  t.is(certificate.fingerprint256, created.fingerprint256);
  const keyPem = await readFile(keyFile, 'utf8');
  t.true(keyPem.startsWith('-----BEGIN ENCRYPTED PRIVATE KEY-----'));
  t.throws(() => createPrivateKey(keyPem), undefined, 'the key cannot be read without the password');
  const credentials = await loadClusterCredentials({ certFile, keyFile, password: PASSWORD });
  t.is(credentials.fingerprint256, created.fingerprint256);
  t.deepEqual(credentials.trustedFingerprints, [created.fingerprint256]);
  t.true(createPrivateKey(credentials.keyPem).asymmetricKeyType === 'ec');
});

test('loading reports typed errors: wrong password, missing file, unreadable certificate, key of another certificate', async (t) => {
  const dir = await tempDir(t);
  const a = { certFile: join(dir, 'a.crt'), keyFile: join(dir, 'a.key') };
  const b = { certFile: join(dir, 'b.crt'), keyFile: join(dir, 'b.key') };
  await writeClusterCertificate({ ...a, password: PASSWORD });
  await writeClusterCertificate({ ...b, password: PASSWORD });
  t.is(await errorCode(loadClusterCredentials({ ...a, password: 'not the password' })), 'wrong-password');
  t.is(await errorCode(loadClusterCredentials({ ...a, certFile: join(dir, 'nope.crt'), password: PASSWORD })), 'missing-file');
  t.is(await errorCode(loadClusterCredentials({ ...a, keyFile: join(dir, 'nope.key'), password: PASSWORD })), 'missing-file');
  const garbage = join(dir, 'garbage.crt');
  await writeFile(garbage, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  t.is(await errorCode(loadClusterCredentials({ ...a, certFile: garbage, password: PASSWORD })), 'unreadable-certificate');
  t.is(await errorCode(loadClusterCredentials({ certFile: a.certFile, keyFile: b.keyFile, password: PASSWORD })), 'key-mismatch');
  t.is(await errorCode(loadClusterCredentials({ ...a, keyFile: a.certFile, password: PASSWORD })), 'unreadable-key');
  t.is(
    await errorCode(loadClusterCredentials({ ...a, password: PASSWORD, extraTrustedCertFiles: [join(dir, 'missing.crt')] })),
    'missing-file',
  );
  const rotation = await loadClusterCredentials({ ...a, password: PASSWORD, extraTrustedCertFiles: [b.certFile] });
  t.is(rotation.trustedPems.length, 2);
  t.is(await errorCode(writeClusterCertificate({ certFile: join(dir, 'x.crt'), keyFile: join(dir, 'x.key'), password: 'short' })), 'bad-password');
});

test('existing files are never overwritten without force, and force resets the mode', async (t) => {
  const dir = await tempDir(t);
  const files = { certFile: join(dir, 'c.crt'), keyFile: join(dir, 'c.key') };
  const first = await writeClusterCertificate({ ...files, password: PASSWORD });
  const before = await readFile(files.keyFile, 'utf8');
  t.is(await errorCode(writeClusterCertificate({ ...files, password: PASSWORD })), 'file-exists');
  t.is(await readFile(files.keyFile, 'utf8'), before);
  // Only the key exists: still refused, and the certificate is not created either.
  await rm(files.certFile);
  t.is(await errorCode(writeClusterCertificate({ ...files, password: PASSWORD })), 'file-exists');
  await t.throwsAsync(stat(files.certFile));
  await chmod(files.keyFile, 0o644);
  const second = await writeClusterCertificate({ ...files, password: PASSWORD, force: true });
  t.not(second.fingerprint256, first.fingerprint256);
  t.is(await mode(files.keyFile), 0o600);
  t.is(await mode(files.certFile), 0o600);
});

test('lncluster keygen writes certificate, key, password and node key (0600), refuses to overwrite, --force replaces', async (t) => {
  const dir = join(await tempDir(t), 'data');
  const run = await keygen(['--data-dir', dir, '--node-key', '--json']);
  t.is(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout) as { fingerprint256: string; nodeId: string; passwordGenerated: boolean };
  t.true(result.passwordGenerated);
  const paths = clusterFilePaths(dir);
  for (const file of Object.values(paths)) t.is(await mode(file), 0o600, file);
  t.is((await stat(dir)).mode & 0o777, 0o700);
  const credentials = await loadClusterCredentialsFromDataDir(dir);
  t.is(credentials.fingerprint256, result.fingerprint256);
  // The roles read the node key through loadNodeKey: the file keygen wrote must be what they accept.
  const nodeKey = await loadNodeKey(loadConfig({ argv: ['--node-key.file', paths.nodeKeyFile], env: {} }).config);
  t.is(nodeKey.secret.length, 32);
  t.is(Buffer.from(nodeKey.nodeId).toString('hex'), result.nodeId);
  t.is(Buffer.from(defaultCrypto().publicKey(nodeKey.secret)).toString('hex'), result.nodeId);

  const snapshot = await Promise.all(Object.values(paths).map((file) => readFile(file, 'utf8')));
  const again = await keygen(['--data-dir', dir, '--node-key']);
  t.is(again.code, 1);
  t.regex(again.stderr, /already exists/);
  t.deepEqual(await Promise.all(Object.values(paths).map((file) => readFile(file, 'utf8'))), snapshot);

  const forced = await keygen(['--data-dir', dir, '--force', '--json']);
  t.is(forced.code, 0, forced.stderr);
  t.not((JSON.parse(forced.stdout) as { fingerprint256: string }).fingerprint256, result.fingerprint256);
  t.is(await readFile(paths.nodeKeyFile, 'utf8'), snapshot[3], 'without --node-key the node key is kept');
});

test('lncluster keygen with --password-file uses that password and writes no password file', async (t) => {
  const root = await tempDir(t);
  const dir = join(root, 'data');
  const passwordFile = join(root, 'pw');
  await writeFile(passwordFile, 'my own password\n', { mode: 0o600 });
  const run = await keygen(['--data-dir', dir, '--password-file', passwordFile]);
  t.is(run.code, 0, run.stderr);
  t.regex(run.stdout, /fingerprint:/);
  await t.throwsAsync(stat(clusterFilePaths(dir).passwordFile));
  await t.throwsAsync(stat(clusterFilePaths(dir).nodeKeyFile));
  const paths = clusterFilePaths(dir);
  await loadClusterCredentials({ certFile: paths.certFile, keyFile: paths.keyFile, password: 'my own password' });
  t.is((await keygen(['--data-dir', join(root, 'other'), '--password-file', join(root, 'missing')])).code, 1);
  t.is((await keygen(['--bogus'])).code, 2);
  t.is((await keygen(['--help'])).code, 0);
});
