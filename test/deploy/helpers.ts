// Shared pieces of the deployment tests: the repository root, running
// `tsetcdutl deploy`, and the real etcdctl inside a lab host with the generated client
// certificate.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lab } from './lab.js';

/** dist/test/deploy → the repository root */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

export function deployTool(args: string[]): string {
  return execFileSync(process.execPath, [path.join(REPO, 'bin/tsetcdutl'), 'deploy', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

/** etcdctl run in `host` with the client certificate of `pkiDir`. */
export function etcdctlIn(lab: Lab, host: string, pkiDir: string): (args: string[]) => { code: number; out: string; err: string } {
  return (args) =>
    lab.run(host, 'etcdctl', ['--dial-timeout=3s', '--command-timeout=10s', `--cacert=${pkiDir}/ca.pem`, `--cert=${pkiDir}/client.pem`, `--key=${pkiDir}/client-key.pem`, ...args], { ...process.env, ETCDCTL_API: '3' }, 30_000);
}
