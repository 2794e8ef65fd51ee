import { createPrivateKey, createPublicKey, randomBytes, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ClusterCredentialsError } from './errors.js';
import { refuseOverwrite, writeSecretFile } from './files.js';
import { installReflectMetadataShim } from './reflect-shim.js';

/**
 * The cluster certificate: one self-signed ECDSA P-256 certificate shared by the back and every front.
 * Both ends of a cluster link present it and accept only it (or another trusted one during a rotation),
 * so holding the certificate's key is what makes a process part of the cluster.
 */

export const CLUSTER_CERTIFICATE_COMMON_NAME = 'lncluster cluster';
const DEFAULT_VALIDITY_DAYS = 3650;
const DAY_MS = 24 * 60 * 60 * 1000;
const MIN_PASSWORD_LENGTH = 8;

export interface ClusterCertificateOptions {
  /** Protects the private key (PKCS#8, AES-256-CBC). */
  password: string;
  commonName?: string;
  validityDays?: number;
  /** Start of validity; defaults to now minus one hour so small clock skews between hosts do not matter. */
  notBefore?: Date;
}

export interface ClusterCertificatePem {
  certificatePem: string;
  /** Encrypted PKCS#8 PEM ("ENCRYPTED PRIVATE KEY"). */
  encryptedKeyPem: string;
  /** SHA-256 fingerprint, uppercase hex with colons, as node's X509Certificate.fingerprint256 prints it. */
  fingerprint256: string;
}

let x509Module: Promise<typeof import('@peculiar/x509')> | undefined;
/** Loaded lazily: only keygen needs it, and tsyringe (its dependency) needs the Reflect shim first. */
function loadX509(): Promise<typeof import('@peculiar/x509')> {
  installReflectMetadataShim();
  x509Module ??= import('@peculiar/x509').then((x509) => {
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    return x509;
  });
  return x509Module;
}

function checkPassword(password: string): void {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH) {
    throw new ClusterCredentialsError('bad-password', `the key password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  }
}

/** Creates the certificate and its encrypted key in memory. */
export async function createClusterCertificate(options: ClusterCertificateOptions): Promise<ClusterCertificatePem> {
  checkPassword(options.password);
  const x509 = await loadX509();
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const notBefore = options.notBefore ?? new Date(Date.now() - 60 * 60 * 1000);
  const notAfter = new Date(notBefore.getTime() + (options.validityDays ?? DEFAULT_VALIDITY_DAYS) * DAY_MS);
  type X509Keys = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'];
  const x509Keys = keys as unknown as X509Keys;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    // Positive 128-bit serial (top bit cleared so the DER INTEGER stays positive).
    serialNumber: randomSerial(),
    // The random OU makes each certificate's subject unique. OpenSSL finds trust anchors by subject
    // name; two trusted self-signed certificates with the same subject (during a rotation) make it
    // pick the wrong one and fail with "self-signed certificate".
    name: `CN=${options.commonName ?? CLUSTER_CERTIFICATE_COMMON_NAME}, OU=${randomBytes(8).toString('hex')}`,
    notBefore,
    notAfter,
    signingAlgorithm: algorithm,
    keys: x509Keys,
    extensions: [
      // CA:true lets OpenSSL accept this self-signed certificate as its own trust anchor.
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '127.0.0.1' },
        { type: 'ip', value: '::1' },
      ]),
      await x509.SubjectKeyIdentifierExtension.create(x509Keys.publicKey),
    ],
  });
  const pkcs8 = new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const encryptedKeyPem = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' })
    .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: options.password })
    .toString();
  pkcs8.fill(0);
  const certificatePem = certificate.toString('pem') + '\n';
  return { certificatePem, encryptedKeyPem, fingerprint256: new X509Certificate(certificatePem).fingerprint256 };
}

function randomSerial(): string {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  return serial.toString('hex');
}

export interface WriteClusterCertificateOptions extends ClusterCertificateOptions {
  certFile: string;
  keyFile: string;
  /** Replace existing files; without it nothing is written when either file exists. */
  force?: boolean;
}

/** Creates the certificate and writes both files (mode 0600). Fails with 'file-exists' unless `force`. */
export async function writeClusterCertificate(options: WriteClusterCertificateOptions): Promise<ClusterCertificatePem> {
  const force = options.force ?? false;
  await refuseOverwrite([options.certFile, options.keyFile], force);
  const created = await createClusterCertificate(options);
  await writeSecretFile(options.keyFile, created.encryptedKeyPem, force);
  await writeSecretFile(options.certFile, created.certificatePem, force);
  return created;
}

/** What TLS needs, already decrypted and checked. */
export interface ClusterCredentials {
  /** This process's certificate (PEM). */
  certificatePem: string;
  /** Its private key, decrypted, PEM (kept in memory only). */
  keyPem: string;
  /** Certificates accepted from the other end: ours plus any extra during a rotation (PEM). */
  trustedPems: string[];
  /** SHA-256 fingerprints of `trustedPems` (node's colon format), for pinning. */
  trustedFingerprints: string[];
  /** Our own certificate's fingerprint. */
  fingerprint256: string;
}

export interface LoadClusterCredentialsOptions {
  certFile: string;
  keyFile: string;
  password: string;
  /** Extra certificates to trust besides our own (a rotation: old and new both trusted for a while). */
  extraTrustedCertFiles?: readonly string[];
}

async function readRequired(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ClusterCredentialsError('missing-file', `${what} ${path} does not exist`, path);
    throw new ClusterCredentialsError(
      what.includes('key') ? 'unreadable-key' : 'unreadable-certificate',
      `cannot read ${what} ${path}: ${(error as Error).message}`,
      path,
    );
  }
}

function parseCertificate(pem: string, path: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new ClusterCredentialsError('unreadable-certificate', `${path} is not a PEM certificate: ${(error as Error).message}`, path);
  }
}

function decryptKey(pem: string, password: string, path: string): KeyObject {
  if (!pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')) {
    throw new ClusterCredentialsError('unreadable-key', `${path} is not an encrypted PKCS#8 PEM key`, path);
  }
  try {
    return createPrivateKey({ key: pem, format: 'pem', passphrase: password });
  } catch (error) {
    const message = (error as Error).message;
    // OpenSSL reports a wrong passphrase as a decryption failure of the PKCS#8 envelope.
    if (/bad decrypt|decrypt|passphrase/i.test(message)) {
      throw new ClusterCredentialsError('wrong-password', `wrong password for ${path}`, path);
    }
    throw new ClusterCredentialsError('unreadable-key', `cannot read key ${path}: ${message}`, path);
  }
}

function spki(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

/** Reads and checks the certificate, decrypts the key, checks they belong together. */
export async function loadClusterCredentials(options: LoadClusterCredentialsOptions): Promise<ClusterCredentials> {
  const certificatePem = await readRequired(options.certFile, 'certificate');
  const certificate = parseCertificate(certificatePem, options.certFile);
  const encryptedKey = await readRequired(options.keyFile, 'key');
  const key = decryptKey(encryptedKey, options.password, options.keyFile);
  if (!spki(createPublicKey(key)).equals(spki(certificate.publicKey))) {
    throw new ClusterCredentialsError('key-mismatch', `${options.keyFile} is not the key of ${options.certFile}`, options.keyFile);
  }
  const trusted = [{ pem: certificatePem, certificate }];
  for (const file of options.extraTrustedCertFiles ?? []) {
    const pem = await readRequired(file, 'certificate');
    trusted.push({ pem, certificate: parseCertificate(pem, file) });
  }
  return {
    certificatePem,
    keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    trustedPems: trusted.map((entry) => entry.pem),
    trustedFingerprints: trusted.map((entry) => entry.certificate.fingerprint256),
    fingerprint256: certificate.fingerprint256,
  };
}

/** Builds credentials from in-memory PEMs (tests, or a caller that keeps secrets elsewhere). */
export function clusterCredentialsFromPem(options: {
  certificatePem: string;
  encryptedKeyPem: string;
  password: string;
  extraTrustedPems?: readonly string[];
}): ClusterCredentials {
  const certificate = parseCertificate(options.certificatePem, '(certificate)');
  const key = decryptKey(options.encryptedKeyPem, options.password, '(key)');
  if (!spki(createPublicKey(key)).equals(spki(certificate.publicKey))) {
    throw new ClusterCredentialsError('key-mismatch', 'the key does not belong to the certificate');
  }
  const trustedPems = [options.certificatePem, ...(options.extraTrustedPems ?? [])];
  return {
    certificatePem: options.certificatePem,
    keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    trustedPems,
    trustedFingerprints: trustedPems.map((pem, index) => parseCertificate(pem, `(trusted ${index})`).fingerprint256),
    fingerprint256: certificate.fingerprint256,
  };
}
