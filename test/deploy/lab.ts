// A throw-away network of "hosts" for the deployment tests: one network namespace per
// host, each with its own IP on a bridge that lives in a hub namespace of its own, so the
// tests never add an address to the machine's namespace. Names resolve through a per-host
// /etc/hosts (ip netns exec binds /etc/netns/<ns>/* over /etc), with `hosts: files` only,
// so a name that is not listed fails at once as "not found", as a deleted pod's does.
// Everything is removed by cleanup(), also called at process exit.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Why this machine cannot run the lab, or undefined when it can. */
export function labUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const probe = `tsdp${randomBytes(3).toString('hex')}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return `cannot create a network namespace: ${(err as Error).message.split('\n')[0]}`;
  }
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

export interface Proc {
  child: ChildProcess;
  log: string[];
  exited: Promise<number | null>;
}

export class Lab {
  readonly id = `tsd${randomBytes(3).toString('hex')}`;
  private readonly hub: string;
  private readonly hosts = new Map<string, { ns: string; ip: string }>();
  private readonly names = new Map<string, string>();
  private readonly procs = new Set<ChildProcess>();
  private links = 0;
  private readonly exitHook = (): void => this.cleanup();

  constructor(readonly subnet: string) {
    this.hub = `${this.id}hub`;
    ip('netns', 'add', this.hub);
    ip('-n', this.hub, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', this.hub, 'link', 'set', 'br0', 'up');
    process.once('exit', this.exitHook);
  }

  /** A host named `name` at `<subnet>.<last>`. */
  addHost(name: string, last: number): string {
    const ns = `${this.id}${name}`.slice(0, 30);
    const addr = `${this.subnet}.${last}`;
    const veth = `v${this.id.slice(3)}${this.links++}`;
    ip('netns', 'add', ns);
    // known before it is wired up, so cleanup() finds it even if wiring fails
    this.hosts.set(name, { ns, ip: addr });
    ip('-n', this.hub, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('-n', this.hub, 'link', 'set', veth, 'master', 'br0', 'up');
    ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    this.writeResolver();
    return addr;
  }

  /** Unplugs a host and drops its names, as when a pod is deleted. */
  removeHost(name: string): void {
    const h = this.hosts.get(name);
    if (!h) return;
    this.hosts.delete(name);
    for (const [n, a] of [...this.names]) if (a === h.ip) this.names.delete(n);
    this.deleteNs(h.ns);
    this.writeResolver();
  }

  /** DNS names every host resolves (kube-dns for the k8s tests). */
  setName(name: string, addr: string | undefined): void {
    if (addr === undefined) this.names.delete(name);
    else this.names.set(name, addr);
    this.writeResolver();
  }

  private writeResolver(): void {
    const lines = ['127.0.0.1 localhost', '::1 localhost', ...[...this.names].map(([n, a]) => `${a} ${n}`)];
    for (const { ns } of this.hosts.values()) {
      const dir = `/etc/netns/${ns}`;
      fs.mkdirSync(dir, { recursive: true });
      // rewritten in place: a running process sees this file through a bind mount of its
      // inode, which a rename would leave behind with the old names
      fs.writeFileSync(path.join(dir, 'hosts'), lines.join('\n') + '\n');
      fs.writeFileSync(path.join(dir, 'nsswitch.conf'), 'hosts: files\n');
    }
  }

  ipOf(name: string): string {
    return this.hosts.get(name)!.ip;
  }

  /** Runs a command inside a host's namespace (in a mount namespace of its own). */
  spawn(host: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Proc {
    const h = this.hosts.get(host);
    if (!h) throw new Error(`no host ${host}`);
    const child = spawn('ip', ['netns', 'exec', h.ns, cmd, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.procs.add(child);
    const log: string[] = [];
    const keep = (d: Buffer): void => {
      log.push(d.toString());
      if (log.length > 400) log.splice(0, 100);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => (this.procs.delete(child), resolve(code))));
    return { child, log, exited };
  }

  /** Runs a command in a host's namespace to completion. */
  run(host: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 60_000): { code: number; out: string; err: string } {
    const h = this.hosts.get(host)!;
    try {
      const out = execFileSync('ip', ['netns', 'exec', h.ns, cmd, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs }).toString();
      return { code: 0, out, err: '' };
    } catch (err) {
      const e = err as { status?: number; stdout?: Buffer; stderr?: Buffer };
      return { code: e.status ?? 1, out: e.stdout?.toString() ?? '', err: e.stderr?.toString() ?? String(err) };
    }
  }

  /** Kills a process group started by spawn and waits for it. */
  async kill(p: Proc, sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      try {
        process.kill(-p.child.pid!, sig);
      } catch {
        // already gone
      }
    }
    await p.exited;
  }

  /** Pids of every process inside a host's namespace (daemons that left our process group too). */
  pidsIn(host: string): number[] {
    const h = this.hosts.get(host);
    if (!h) return [];
    return pidsOfNs(h.ns);
  }

  private deleteNs(ns: string): void {
    for (const pid of pidsOfNs(ns)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    try {
      ip('netns', 'del', ns);
    } catch {
      // already gone
    }
    fs.rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
  }

  cleanup(): void {
    for (const c of this.procs) {
      try {
        process.kill(-c.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.procs.clear();
    for (const { ns } of this.hosts.values()) this.deleteNs(ns);
    this.hosts.clear();
    this.deleteNs(this.hub);
    process.removeListener('exit', this.exitHook);
  }
}

function pidsOfNs(ns: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', ns], { stdio: 'pipe' }).toString().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 120_000, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}
