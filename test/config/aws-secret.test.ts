// node-key.provider = aws-sm through the official AWS SDK, against a local stand-in of the Secrets
// Manager API (AWS JSON 1.1: POST /, X-Amz-Target secretsmanager.GetSecretValue). The SDK finds it
// through AWS_ENDPOINT_URL_SECRETS_MANAGER, as it would a VPC endpoint: no test branch in our code.
import test from 'ava';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config/load.js';
import { loadNodeKey, NodeKeyError } from '../../src/config/node-key.js';
import { defaultCrypto } from '../../src/lightning/crypto/index.js';

const SECRET = '42'.repeat(32);

test.serial('aws-sm: the node key comes from Secrets Manager; an unknown secret is a clear error', async (t) => {
  const requests: Array<{ target: string | undefined; body: { SecretId?: string } }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const parsed = JSON.parse(body || '{}') as { SecretId?: string };
      requests.push({ target: req.headers['x-amz-target'] as string | undefined, body: parsed });
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      if (parsed.SecretId === 'lncluster/node-key') {
        res.end(JSON.stringify({ ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:lncluster/node-key', Name: parsed.SecretId, SecretString: SECRET }));
      } else {
        res.statusCode = 400;
        res.setHeader('x-amzn-errortype', 'ResourceNotFoundException');
        res.end(JSON.stringify({ __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." }));
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const saved = { ...process.env };
  t.teardown(() => {
    for (const key of ['AWS_ENDPOINT_URL_SECRETS_MANAGER', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });
  process.env['AWS_ENDPOINT_URL_SECRETS_MANAGER'] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env['AWS_REGION'] = 'eu-west-1';
  process.env['AWS_ACCESS_KEY_ID'] = 'AKIDEXAMPLE';
  process.env['AWS_SECRET_ACCESS_KEY'] = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

  const { config } = loadConfig({ argv: ['--node-key.provider', 'aws-sm', '--node-key.aws-secret', 'lncluster/node-key'], env: {} });
  const key = await loadNodeKey(config);
  t.deepEqual(key.nodeId, defaultCrypto().publicKey(Uint8Array.from(Buffer.from(SECRET, 'hex'))));
  t.is(requests[0]!.target, 'secretsmanager.GetSecretValue');
  t.is(requests[0]!.body.SecretId, 'lncluster/node-key');

  const missing = loadConfig({ argv: ['--node-key.provider', 'aws-sm', '--node-key.aws-secret', 'nope'], env: {} }).config;
  const error = await t.throwsAsync(loadNodeKey(missing), { instanceOf: NodeKeyError });
  t.is(error?.code, 'provider-failed');
  t.regex(error!.message, /AWS Secrets Manager nope: .*can't find the specified secret/);
  t.notRegex(error!.message, new RegExp(SECRET));
});
