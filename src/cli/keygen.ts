import { parseArgs } from 'node:util';
import { ClusterCredentialsError } from '../cluster/errors.js';
import { generateClusterFiles } from '../cluster/data-dir.js';
import { CONFIG_KEYS } from '../config/keys.js';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeSecretFile } from '../cluster/files.js';

/** Used when neither --data-dir nor LNCLUSTER_DATA_DIR is given: the roles' own default. */
export const DEFAULT_DATA_DIR = CONFIG_KEYS['data-dir'].default;

const USAGE = `usage: lncluster keygen [--data-dir DIR] [--password-file FILE] [--node-key] [--force] [--json]

Creates the cluster certificate (cluster.crt) and its password-protected key (cluster.key) in DIR,
every file mode 0600. Copy the three cluster files to every host of the cluster.

  --data-dir DIR        where to write (default: $LNCLUSTER_DATA_DIR or ./${DEFAULT_DATA_DIR})
  --password-file FILE  read the key password from FILE; without it a random password is
                        generated into DIR/cluster.password
  --node-key            also create the node's secret key (DIR/node.key, hex)
  --force               overwrite existing files (otherwise nothing is written if any exists)
  --json                print the result as one JSON line
`;

/** `lncluster keygen`: returns the process exit code (0 ok, 1 failure, 2 usage). */
export async function runKeygen(args: string[]): Promise<number> {
  let values: { 'data-dir'?: string; 'password-file'?: string; 'node-key'?: boolean; force?: boolean; json?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        'data-dir': { type: 'string' },
        'password-file': { type: 'string' },
        'node-key': { type: 'boolean' },
        force: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const dataDir = values['data-dir'] ?? process.env['LNCLUSTER_DATA_DIR'] ?? DEFAULT_DATA_DIR;
  try {
    const result = await generateClusterFiles({
      dataDir,
      ...(values['password-file'] !== undefined ? { passwordFile: values['password-file'] } : {}),
      nodeKey: values['node-key'] ?? false,
      force: values.force ?? false,
    });
    // The back's admin API password, so that a back can start on this data dir right away.
    const adminPasswordFile = join(dataDir, 'admin.password');
    const adminPasswordCreated = !existsSync(adminPasswordFile);
    if (adminPasswordCreated) await writeSecretFile(adminPasswordFile, randomBytes(24).toString('base64url') + '\n', false);
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({
          certFile: result.certFile,
          keyFile: result.keyFile,
          passwordFile: result.passwordFile,
          passwordGenerated: result.passwordGenerated,
          fingerprint256: result.fingerprint256,
          adminPasswordFile,
          ...(result.nodeId ? { nodeKeyFile: result.nodeKeyFile, nodeId: result.nodeId } : {}),
        })}\n`,
      );
    } else {
      const lines = [
        `cluster certificate: ${result.certFile}`,
        `cluster key:         ${result.keyFile} (encrypted)`,
        `key password:        ${result.passwordFile}${result.passwordGenerated ? ' (generated)' : ''}`,
        `fingerprint:         ${result.fingerprint256}`,
        `admin password:      ${adminPasswordFile}${adminPasswordCreated ? ' (generated)' : ' (kept)'}`,
        ...(result.nodeId ? [`node key:            ${result.nodeKeyFile}`, `node id:             ${result.nodeId}`] : []),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    return 0;
  } catch (error) {
    const message = error instanceof ClusterCredentialsError ? error.message : `keygen failed: ${(error as Error).message}`;
    process.stderr.write(`lncluster keygen: ${message}\n`);
    return 1;
  }
}
