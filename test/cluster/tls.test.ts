import test from 'ava';
import { once } from 'node:events';
import { webcrypto } from 'node:crypto';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { ClusterClient, installReflectMetadataShim, type ClusterConnectionRejected, type ClusterCredentials, type ClusterServer } from '../../src/cluster/index.js';
import { CHAIN_HASH, newCredentials, nextFront, NODE_ID, sharedCredentials, socketClosed, startServer, withTimeout } from './helpers.js';

const hello = { frontId: 'front-1', listenAddresses: ['127.0.0.1:9735'], capacity: 100, holdsNodeKey: true };

function client(port: number, credentials: ClusterCredentials, frontId = 'front-1') {
  return new ClusterClient({ host: '127.0.0.1', port, credentials, hello: { ...hello, frontId }, backoff: { initialMs: 50, maxMs: 200 } });
}

/** A raw TLS client that presents `cert` (or nothing), trusting the server's certificate. */
function rawClient(port: number, trust: ClusterCredentials, cert?: { certificatePem: string; keyPem: string }): TLSSocket {
  const socket = tlsConnect({
    host: '127.0.0.1',
    port,
    ca: trust.trustedPems,
    checkServerIdentity: () => undefined,
    servername: 'lncluster',
    ...(cert ? { cert: cert.certificatePem, key: cert.keyPem } : {}),
  });
  socket.on('error', () => undefined);
  return socket;
}

async function expectRejected(t: import('ava').ExecutionContext, server: ClusterServer, socket: TLSSocket): Promise<ClusterConnectionRejected> {
  const [[rejected]] = await withTimeout(Promise.all([once(server, 'rejected'), socketClosed(socket)]), 10_000, 'rejection');
  t.pass();
  return rejected as ClusterConnectionRejected;
}

async function expectServerStillServes(t: import('ava').ExecutionContext, server: ClusterServer, port: number, credentials: ClusterCredentials) {
  const c = client(port, credentials, 'after-rejection');
  t.teardown(() => c.stop());
  const front = nextFront(server);
  c.start();
  const up = await withTimeout(c.waitUntilUp(), 10_000, 'a legitimate client after a rejection');
  t.is((await front).frontId, 'after-rejection');
  t.deepEqual(up.welcome.nodeId, NODE_ID);
  c.stop();
}

test('mutual TLS 1.3 with the cluster certificate: hello and welcome are exchanged', async (t) => {
  const credentials = await sharedCredentials();
  const { server, port } = await startServer(credentials);
  t.teardown(() => server.close());
  const c = client(port, credentials);
  const frontPromise = nextFront(server);
  c.start();
  const up = await withTimeout(c.waitUntilUp(), 10_000, 'up');
  const front = await frontPromise;
  t.is(front.frontId, 'front-1');
  t.deepEqual(front.hello.listenAddresses, ['127.0.0.1:9735']);
  t.is(front.hello.capacity, 100);
  t.true(front.hello.holdsNodeKey);
  t.deepEqual(up.welcome.chainHash, CHAIN_HASH);
  t.is(up.welcome.linkDeadAfterMs, 3000);
  const socket = up.link.socket as TLSSocket;
  t.is(socket.getProtocol(), 'TLSv1.3');
  t.is(socket.getPeerCertificate().fingerprint256, credentials.fingerprint256);
  t.is((front.link.socket as TLSSocket).getPeerCertificate().fingerprint256, credentials.fingerprint256);
  t.is(server.frontLinks.get('front-1'), front.link);
  c.stop();
});

test('a client without a certificate is rejected and the server keeps serving', async (t) => {
  const credentials = await sharedCredentials();
  const { server, port } = await startServer(credentials);
  t.teardown(() => server.close());
  await expectRejected(t, server, rawClient(port, credentials));
  await expectServerStillServes(t, server, port, credentials);
});

test('a client with another self-signed certificate is rejected and the server keeps serving', async (t) => {
  const credentials = await sharedCredentials();
  const stranger = await newCredentials();
  const { server, port } = await startServer(credentials);
  t.teardown(() => server.close());
  await expectRejected(t, server, rawClient(port, credentials, stranger));
  // The same through ClusterClient: it never comes up, it reports failures and keeps retrying.
  const c = client(port, stranger, 'stranger');
  c.start();
  const [failed] = await withTimeout(once(c, 'connect-failed'), 10_000, 'connect-failed');
  t.truthy(failed.error);
  t.false(c.isUp);
  c.stop();
  await expectServerStillServes(t, server, port, credentials);
});

test('a certificate merely signed by the cluster certificate is refused by the fingerprint pin', async (t) => {
  const credentials = await sharedCredentials();
  const { server, port } = await startServer(credentials);
  t.teardown(() => server.close());
  installReflectMetadataShim();
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const der = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const issuerKey = await webcrypto.subtle.importKey('pkcs8', der(credentials.keyPem), algorithm, false, ['sign']);
  const leafKeys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  type Params = Parameters<typeof x509.X509CertificateGenerator.create>[0];
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: '0102',
    subject: 'CN=impostor',
    issuer: new x509.X509Certificate(credentials.certificatePem).subject,
    notBefore: new Date(Date.now() - 3_600_000),
    notAfter: new Date(Date.now() + 3_600_000),
    signingAlgorithm: algorithm,
    publicKey: leafKeys.publicKey,
    signingKey: issuerKey,
    extensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])],
  } as unknown as Params);
  const leafKeyPem = `-----BEGIN PRIVATE KEY-----\n${Buffer.from(await webcrypto.subtle.exportKey('pkcs8', leafKeys.privateKey)).toString('base64')}\n-----END PRIVATE KEY-----\n`;
  const socket = rawClient(port, credentials, { certificatePem: leaf.toString('pem'), keyPem: leafKeyPem });
  const rejected = await expectRejected(t, server, socket);
  t.regex(rejected.error.message, /not pinned/);
  await expectServerStillServes(t, server, port, credentials);
});

test('the client refuses a back whose certificate it does not trust', async (t) => {
  const credentials = await sharedCredentials();
  const otherBack = await newCredentials();
  const { server, port } = await startServer(otherBack);
  t.teardown(() => server.close());
  let fronts = 0;
  server.on('front', () => fronts++);
  const c = client(port, credentials);
  c.start();
  const [failed] = await withTimeout(once(c, 'connect-failed'), 10_000, 'connect-failed');
  c.stop();
  t.truthy(failed.error);
  t.is(fronts, 0);
});

test('rotation: with both certificates trusted, a back on the old one and a front on the new one connect', async (t) => {
  const oldIdentity = await sharedCredentials();
  const newIdentity = await newCredentials([oldIdentity.certificatePem]);
  const back: ClusterCredentials = {
    ...oldIdentity,
    trustedPems: [...oldIdentity.trustedPems, newIdentity.certificatePem],
    trustedFingerprints: [...oldIdentity.trustedFingerprints, newIdentity.fingerprint256],
  };
  const { server, port } = await startServer(back);
  t.teardown(() => server.close());
  const c = client(port, newIdentity, 'rotated');
  t.teardown(() => c.stop());
  c.on('connect-failed', (failed) => t.log('connect failed:', failed.error.message));
  const front = nextFront(server);
  c.start();
  await withTimeout(c.waitUntilUp(), 10_000, 'up');
  const accepted = await front;
  t.is((accepted.link.socket as TLSSocket).getPeerCertificate().fingerprint256, newIdentity.fingerprint256);
  c.stop();
});
