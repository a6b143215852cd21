// Proves the container target with a real container engine (podman, no Docker daemon
// here): a Debian base made offline-from-mirror with mmdebstrap plus this machine's
// Node.js is imported; deploy/docker/Dockerfile builds the image from the package that
// tools/release.mjs assembles (APP_STAGE, so no npm download inside the build); the
// image runs as uid 10001 with etcd/etcdctl names and a health check. Then the members of
// the generated compose file run as containers, each joined to its own lab network
// namespace (its IP from the compose file), with volumes and `--restart unless-stopped`:
// etcdctl writes through one and reads through another with the client certificate and
// root password; a member whose process is killed is restarted by podman with its data;
// `podman stop` (docker stop) ends a member cleanly, with exit status 0.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import YAML from 'yaml';
import { Lab, labUnavailable, waitFor } from './lab.js';
import { deployTool, etcdctlIn, hasCommand, REPO } from './helpers.js';

const BASE = `localhost/tsetcd-test-node:${process.version.slice(1)}`;

function podman(args: string[], timeoutMs = 300_000): { code: number; out: string; err: string } {
  const r = spawnSync('podman', args, { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status ?? 1, out: r.stdout ?? '', err: r.stderr ?? String(r.error) };
}

/**
 * The global podman flags and run limits this machine accepts. Some sandboxes forbid
 * raising resource limits (no CAP_SYS_RESOURCE) or run cgroups in a hybrid mode crun
 * refuses; runc with limits at or below the current ones works there.
 */
function engineFlags(image: string): { global: string[]; limits: string[] } | string {
  const tries = [
    { global: [], limits: [] },
    { global: ['--runtime', 'runc'], limits: ['--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=4096:4096'] },
  ];
  let last = '';
  for (const t of tries) {
    const r = podman([...t.global, 'run', '--rm', ...t.limits, image, 'true'], 120_000);
    if (r.code === 0) return t;
    last = r.err.trim().split('\n').pop() ?? '';
  }
  return `podman cannot run a container here: ${last}`;
}

/** The Debian + Node.js base image, made once and kept in podman's store. */
function ensureBase(tmp: string): string | undefined {
  if (podman(['image', 'exists', BASE]).code === 0) return undefined;
  const tar = path.join(tmp, 'debian.tar');
  const r = spawnSync('mmdebstrap', ['--variant=minbase', '--quiet', 'bookworm', tar], { encoding: 'utf8', timeout: 540_000 });
  if (r.status !== 0) return `mmdebstrap could not make a Debian base: ${(r.stderr || String(r.error)).trim().split('\n').pop()}`;
  const ctx = path.join(tmp, 'basectx');
  fs.mkdirSync(ctx);
  fs.copyFileSync(process.execPath, path.join(ctx, 'node'));
  fs.writeFileSync(path.join(ctx, 'Containerfile'), `FROM localhost/tsetcd-test-debian:bookworm\nCOPY node /usr/local/bin/node\n`);
  for (const args of [['import', tar, 'localhost/tsetcd-test-debian:bookworm'], ['build', '-q', '-t', BASE, ctx]]) {
    const p = podman(args);
    if (p.code !== 0) return `podman ${args[0]} failed: ${p.err.trim().split('\n').pop()}`;
  }
  return undefined;
}

const skip =
  labUnavailable() ??
  (hasCommand('etcdctl') ? undefined : 'etcdctl is not installed') ??
  (hasCommand('podman') ? undefined : 'podman is not installed (apt-get install -y podman runc)') ??
  (hasCommand('mmdebstrap') ? undefined : 'mmdebstrap is not installed');

test('docker: the image builds, and the compose members run as containers with TLS and auth', { skip, timeout: 900_000 }, async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsetcd-deploy-docker-'));
  const lab = new Lab('10.235.6');
  const id = lab.id;
  const image = `localhost/tsetcd:${id}`;
  const appImage = `localhost/tsetcd-test-app:${id}`;
  const containers: string[] = [];
  after(() => {
    for (const c of containers) podman(['rm', '-f', '-t', '0', c]);
    for (const c of containers) podman(['volume', 'rm', '-f', `${c}-data`]);
    podman(['rmi', '-f', image, appImage]);
    lab.cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  const baseProblem = ensureBase(tmp);
  if (baseProblem) return t.skip(baseProblem);
  const engine = engineFlags(BASE);
  if (typeof engine === 'string') return t.skip(engine);
  const g = engine.global;

  // the package, as the Dockerfile's build stage would assemble it
  const rel = execFileSync(process.execPath, [path.join(REPO, 'tools/release.mjs'), '--no-node', '--out', path.join(tmp, 'rel')], { stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();
  fs.mkdirSync(path.join(tmp, 'appfs/out'), { recursive: true });
  fs.renameSync(path.join(rel, 'lib/tsetcd'), path.join(tmp, 'appfs/out/tsetcd'));
  execFileSync('tar', ['-C', path.join(tmp, 'appfs'), '-cf', path.join(tmp, 'app.tar'), 'out']);
  assert.equal(podman(['import', path.join(tmp, 'app.tar'), appImage]).code, 0);
  const build = podman([...g, 'build', '--format', 'docker', ...engine.limits, '-f', path.join(REPO, 'deploy/docker/Dockerfile'), '--build-arg', `NODE_IMAGE=${BASE}`, '--build-arg', `APP_STAGE=${appImage}`, '-t', image, REPO], 600_000);
  assert.equal(build.code, 0, build.err);

  const inImage = (...cmd: string[]): string => {
    const r = podman([...g, 'run', '--rm', ...engine.limits, image, ...cmd]);
    assert.equal(r.code, 0, r.err);
    return r.out.trim();
  };
  assert.equal(inImage('id', '-u'), '10001');
  assert.match(inImage('etcd', '--version'), /tsetcd Version: /);
  assert.match(inImage('etcdctl', 'version'), /tsetcdctl version: /);
  const inspect = JSON.parse(podman(['image', 'inspect', image]).out)[0];
  assert.equal(inspect.Config.StopSignal, 'SIGTERM');
  // podman keeps HEALTHCHECK in docker-format images only, as Docker builds them
  assert.ok((inspect.Healthcheck ?? inspect.Config?.Healthcheck)?.Test?.length, 'the image has a health check');

  // the compose file's members, each in its own namespace at its own IP
  const names = ['m1', 'm2', 'm3'];
  const ips = names.map((n, i) => lab.addHost(n, 31 + i));
  lab.addHost('client', 100);
  const out = path.join(tmp, 'out');
  deployTool(['docker', `--members=${names.map((n, i) => `${n}=${ips[i]}`).join(',')}`, '--tls', '--root-password=s3cret', `--out=${out}`, `--image=${image}`, `--name=${id}`]);
  const compose = YAML.parse(fs.readFileSync(path.join(out, 'compose.yaml'), 'utf8'));
  execFileSync('chown', ['-R', '10001:10001', path.join(out, 'pki')]); // as the bundle's README says
  const ctr = (n: string): string => `${id}-${n}`;
  for (const n of names) {
    const svc = compose.services[n];
    containers.push(ctr(n));
    const vol = svc.volumes.map((v: string) => v.replace(/^\.\//, `${out}/`).replace(/^(m\d)-data:/, `${ctr(n)}-data:`));
    const r = podman([...g, 'run', '-d', ...engine.limits, '--name', ctr(n), '--network', `ns:/run/netns/${lab.id}${n}`, '--restart', svc.restart, ...vol.flatMap((v: string) => ['-v', v]), svc.image, ...svc.command]);
    assert.equal(r.code, 0, r.err);
  }
  const ctl = etcdctlIn(lab, 'client', path.join(out, 'pki'));
  const endpoint = (i: number): string => `--endpoints=https://${ips[i]}:2379`;
  const logs = (): string => names.map((n) => `--- ${n}\n${podman(['logs', '--tail', '30', ctr(n)]).err.slice(-3000)}`).join('\n');
  try {
    await waitFor('a healthy cluster', () => ctl([`--endpoints=${ips.map((ip) => `https://${ip}:2379`).join(',')}`, 'endpoint', 'health']).code === 0 || undefined);
    assert.equal(podman([...g, 'healthcheck', 'run', ctr('m1')]).code, 0, 'the image health check passes');
    const env = { ...process.env, ETCDCTL_ENDPOINTS: `https://${ips[0]}:2379`, ETCDCTL_CACERT: path.join(out, 'pki/ca.pem'), ETCDCTL_CERT: path.join(out, 'pki/client.pem'), ETCDCTL_KEY: path.join(out, 'pki/client-key.pem') };
    const init = lab.run('client', process.execPath, [path.join(REPO, 'bin/tsetcdutl'), 'deploy', 'auth-init', `--root-password-file=${path.join(out, 'root-password')}`], env);
    assert.equal(init.code, 0, init.err);
    const auth = '--user=root:s3cret';
    assert.match(ctl([endpoint(0), '--user=root:wrong', 'get', 'x']).err, /authentication failed/);
    assert.equal(ctl([endpoint(0), auth, 'put', 'greeting', 'hello']).code, 0);
    assert.equal(ctl([endpoint(1), auth, 'get', 'greeting', '--print-value-only']).out.trim(), 'hello');

    // the member process dies: podman's restart policy brings the container back
    const pid = Number(podman(['inspect', '-f', '{{.State.Pid}}', ctr('m2')]).out.trim());
    assert.ok(pid > 0);
    process.kill(pid, 'SIGKILL');
    assert.equal(ctl([endpoint(0), auth, 'put', 'while-m2-down', 'yes']).code, 0);
    assert.equal(ctl([endpoint(2), auth, 'get', 'while-m2-down', '--print-value-only']).out.trim(), 'yes');
    await waitFor('m2 back with the data', () => ctl([endpoint(1), auth, 'get', 'while-m2-down', '--print-value-only']).out.trim() === 'yes' || undefined);

    // docker stop: SIGTERM, and a clean exit
    assert.equal(podman([...g, 'stop', '-t', '30', ctr('m3')]).code, 0);
    assert.equal(podman(['inspect', '-f', '{{.State.ExitCode}}', ctr('m3')]).out.trim(), '0');
  } catch (err) {
    console.log(logs());
    throw err;
  }
});
