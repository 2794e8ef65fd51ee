import { chmod, stat, writeFile } from 'node:fs/promises';
import { ClusterCredentialsError } from './errors.js';

/** Secrets are written owner-only. */
export const SECRET_FILE_MODE = 0o600;

export async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Fails with 'file-exists' (before anything is written) when any of the files exists and `force` is off. */
export async function refuseOverwrite(paths: readonly string[], force: boolean): Promise<void> {
  if (force) return;
  for (const path of paths) {
    if (await fileExists(path)) {
      throw new ClusterCredentialsError('file-exists', `${path} already exists (use --force to overwrite)`, path);
    }
  }
}

/**
 * Writes a file readable by its owner only. `wx` makes a concurrent creator lose instead of both writing;
 * with `force` an existing file is replaced and its mode reset (writeFile keeps the old mode otherwise).
 */
export async function writeSecretFile(path: string, data: string, force: boolean): Promise<void> {
  try {
    await writeFile(path, data, { mode: SECRET_FILE_MODE, flag: force ? 'w' : 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new ClusterCredentialsError('file-exists', `${path} already exists (use --force to overwrite)`, path);
    }
    throw error;
  }
  await chmod(path, SECRET_FILE_MODE);
}
