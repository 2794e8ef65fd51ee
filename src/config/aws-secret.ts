import { NodeKeyError } from './node-key.js';

/**
 * Reads a secret string from AWS Secrets Manager with the official SDK, loaded only when this
 * provider is configured (the SDK is an optional dependency: most deployments never need it).
 */
export async function fetchAwsSecret(secretId: string): Promise<string> {
  const moduleName = '@aws-sdk/client-secrets-manager';
  let sdk: {
    SecretsManagerClient: new (options: object) => { send(command: object): Promise<{ SecretString?: string }> };
    GetSecretValueCommand: new (input: { SecretId: string }) => object;
  };
  try {
    sdk = (await import(moduleName)) as typeof sdk;
  } catch {
    throw new NodeKeyError('provider-failed', `node-key.provider = aws-sm needs ${moduleName}: npm install ${moduleName}`);
  }
  try {
    const client = new sdk.SecretsManagerClient({});
    const result = await client.send(new sdk.GetSecretValueCommand({ SecretId: secretId }));
    if (!result.SecretString) throw new Error('the secret has no string value');
    return result.SecretString;
  } catch (error) {
    throw new NodeKeyError('provider-failed', `AWS Secrets Manager ${secretId}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
