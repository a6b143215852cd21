// Runs the pods of a rendered StatefulSet the way the kubelet would, without Kubernetes:
// each pod is a lab host (its own network namespace and IP) named
// <pod>.<headless service domain> in every host's /etc/hosts, its command and args come
// from the manifest with $(POD_NAME)/$(POD_NAMESPACE) expanded, and its volumes are
// folders: the Secrets' stringData written out, the PersistentVolumeClaim a folder that
// survives the pod unless the test deletes it. The only rewrite is of mount paths to
// those folders.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { Lab, Proc } from './lab.js';
import { REPO } from './helpers.js';

interface Container {
  command: string[];
  args: string[];
  volumeMounts: Array<{ name: string; mountPath: string }>;
}

export interface StatefulSetDocs {
  name: string;
  namespace: string;
  serviceName: string;
  container: Container;
  /** volume name → secret name */
  secretVolumes: Map<string, string>;
  /** secret name → key → text */
  secrets: Map<string, Map<string, string>>;
}

/** Reads the StatefulSet and Secrets out of YAML documents (a manifest folder or helm output). */
export function readStatefulSet(yamlText: string): StatefulSetDocs {
  const docs = YAML.parseAllDocuments(yamlText).map((d) => d.toJS() as Record<string, any>).filter((d) => d);
  const sts = docs.find((d) => d['kind'] === 'StatefulSet');
  if (!sts) throw new Error('no StatefulSet in the manifests');
  const secrets = new Map<string, Map<string, string>>();
  for (const d of docs.filter((x) => x['kind'] === 'Secret')) {
    const data = new Map<string, string>(Object.entries(d['stringData'] ?? {}));
    for (const [k, v] of Object.entries(d['data'] ?? {})) data.set(k, Buffer.from(String(v), 'base64').toString('utf8'));
    secrets.set(d['metadata']['name'], data);
  }
  const spec = sts['spec'];
  const c = spec['template']['spec']['containers'][0];
  const secretVolumes = new Map<string, string>();
  for (const v of spec['template']['spec']['volumes'] ?? []) if (v['secret']) secretVolumes.set(v['name'], v['secret']['secretName']);
  return {
    name: sts['metadata']['name'],
    namespace: sts['metadata']['namespace'] ?? 'default',
    serviceName: spec['serviceName'],
    container: { command: c['command'] ?? [], args: c['args'] ?? [], volumeMounts: c['volumeMounts'] ?? [] },
    secretVolumes,
    secrets,
  };
}

export class PodRunner {
  readonly pods = new Map<number, Proc>();
  constructor(
    readonly lab: Lab,
    readonly sts: StatefulSetDocs,
    readonly root: string,
    readonly subnet: string,
    /** test-only argument rewrites (a shorter clean-up delay) */
    readonly tweak: (args: string[]) => string[] = (a) => a,
  ) {}

  podName(i: number): string {
    return `${this.sts.name}-${i}`;
  }

  fqdn(i: number): string {
    return `${this.podName(i)}.${this.sts.serviceName}.${this.sts.namespace}.svc.cluster.local`;
  }

  volumeDir(i: number): string {
    return path.join(this.root, `pvc-data-${this.podName(i)}`);
  }

  /** Creates pod i (a new host, with the same IP each time) and starts its container. */
  start(i: number): Proc {
    const pod = this.podName(i);
    this.lab.addHost(pod, 10 + i);
    this.lab.setName(this.fqdn(i), `${this.subnet}.${10 + i}`);
    const mounts = new Map<string, string>();
    for (const m of this.sts.container.volumeMounts) {
      const secret = this.sts.secretVolumes.get(m.name);
      let dir: string;
      if (secret !== undefined) {
        dir = path.join(this.root, `${pod}-${m.name}`);
        fs.mkdirSync(dir, { recursive: true });
        for (const [k, v] of this.sts.secrets.get(secret) ?? []) fs.writeFileSync(path.join(dir, k), v, { mode: 0o440 });
      } else {
        dir = this.volumeDir(i);
        fs.mkdirSync(dir, { recursive: true });
      }
      mounts.set(m.mountPath, dir);
    }
    const expand = (s: string): string => {
      let out = s.replace(/\$\(POD_NAME\)/g, pod).replace(/\$\(POD_NAMESPACE\)/g, this.sts.namespace);
      for (const [from, to] of mounts) out = out.split(from).join(to);
      return out;
    };
    const [cmd, ...rest] = this.sts.container.command.map(expand);
    const args = this.tweak([...rest, ...this.sts.container.args.map(expand)]);
    if (cmd !== 'tsetcdutl') throw new Error(`unexpected container command ${cmd}`);
    const p = this.lab.spawn(pod, process.execPath, [path.join(REPO, 'bin/tsetcdutl'), ...args]);
    this.pods.set(i, p);
    return p;
  }

  /** Deletes pod i: kills its container and removes its host and DNS name. */
  async delete(i: number): Promise<void> {
    const p = this.pods.get(i);
    if (p) await this.lab.kill(p);
    this.pods.delete(i);
    this.lab.removeHost(this.podName(i));
  }

  logs(): string {
    return [...this.pods].map(([i, p]) => `--- ${this.podName(i)}\n${p.log.join('').slice(-4000)}`).join('\n');
  }
}
