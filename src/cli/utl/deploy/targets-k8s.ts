// The Kubernetes targets. `kubernetes` writes plain manifests (StatefulSet, headless and
// client Services, Secrets, PodDisruptionBudget, a kustomization.yaml for kubectl -k);
// `helm` copies the chart shipped in deploy/helm/tsetcd and writes a values file in the
// Bitnami chart's shape plus the certificate Secret it names. Both run the same pod
// command, `tsetcdutl deploy run-member` (run-member.ts), which bootstraps, joins as a
// learner, promotes, and removes members whose pod is gone.
import YAML from 'yaml';
import { shipped, shippedTree, type Bundle } from './bundle.js';
import { dashboardFlags, DEFAULT_DASHBOARD_PORT, tuningFlags, type DeploySpec } from './spec.js';

export const PKI_MOUNT = '/etc/tsetcd/pki';
export const AUTH_MOUNT = '/etc/tsetcd/auth';
export const DATA_MOUNT = '/var/lib/tsetcd';
/** A member's metrics port: plain HTTP /metrics, /health, /livez, /readyz for probes. */
export const METRICS_PORT = 2381;

export const headless = (s: DeploySpec): string => `${s.name}-headless`;
export const peerDomain = (s: DeploySpec): string => `${headless(s)}.${s.namespace}.svc.cluster.local`;

/** Names a single member certificate must cover for every pod, now and after scaling. */
export function k8sMemberHosts(s: DeploySpec): string[] {
  const h = headless(s);
  const ns = s.namespace;
  return [`*.${h}.${ns}.svc.cluster.local`, `*.${h}.${ns}.svc`, `*.${h}`, `${s.name}.${ns}.svc.cluster.local`, `${s.name}.${ns}.svc`, s.name, 'localhost', '127.0.0.1'];
}

/** The files of the certificate Secret, by key. */
export const PKI_SECRET_KEYS: Array<[string, string]> = [
  ['ca.pem', 'ca.pem'],
  ['member.pem', 'k8s-member.pem'],
  ['member-key.pem', 'k8s-member-key.pem'],
  ['client.pem', 'client.pem'],
  ['client-key.pem', 'client-key.pem'],
];

const labels = (s: DeploySpec): Record<string, string> => ({ 'app.kubernetes.io/name': 'tsetcd', 'app.kubernetes.io/instance': s.name });

function runMemberArgs(s: DeploySpec): string[] {
  const args = [
    '--name=$(POD_NAME)',
    `--peer-domain=${headless(s)}.$(POD_NAMESPACE).svc.cluster.local`,
    `--initial-size=${s.members.length}`,
    `--data-dir=${DATA_MOUNT}/data`,
    `--pki-dir=${PKI_MOUNT}`,
    `--client-port=${s.members[0]!.clientPort}`,
    `--peer-port=${s.members[0]!.peerPort}`,
    `--initial-cluster-token=${s.name}`,
    '--remove-missing-after=5m',
  ];
  if (s.tls) args.push('--tls');
  if (s.rootPassword !== undefined) args.push(`--root-password-file=${AUTH_MOUNT}/etcd-root-password`);
  args.push('--', `--listen-metrics-urls=http://0.0.0.0:${METRICS_PORT}`, ...[...dashboardFlags(s, '0.0.0.0'), ...tuningFlags(s)].map(([k, v]) => `--${k}=${v}`));
  return args;
}

function statefulSet(s: DeploySpec): object {
  const client = s.members[0]!.clientPort;
  const peer = s.members[0]!.peerPort;
  const mounts: object[] = [{ name: 'data', mountPath: DATA_MOUNT }];
  const volumes: object[] = [];
  if (s.tls) {
    mounts.push({ name: 'pki', mountPath: PKI_MOUNT, readOnly: true });
    volumes.push({ name: 'pki', secret: { secretName: `${s.name}-pki`, defaultMode: 0o440 } });
  }
  if (s.rootPassword !== undefined) {
    mounts.push({ name: 'auth', mountPath: AUTH_MOUNT, readOnly: true });
    volumes.push({ name: 'auth', secret: { secretName: s.name, defaultMode: 0o440 } });
  }
  const probe = (path: string, periodSeconds: number, failureThreshold: number): object => ({ httpGet: { path, port: 'metrics' }, periodSeconds, failureThreshold, timeoutSeconds: 5 });
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: s.name, namespace: s.namespace, labels: labels(s) },
    spec: {
      serviceName: headless(s),
      replicas: s.members.length,
      // the first members must all start before any is ready: it takes a quorum to be ready
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'RollingUpdate' },
      selector: { matchLabels: labels(s) },
      template: {
        metadata: { labels: labels(s) },
        spec: {
          securityContext: { runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, runAsNonRoot: true },
          terminationGracePeriodSeconds: 30,
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: labels(s) } } }],
            },
          },
          containers: [
            {
              name: 'tsetcd',
              image: s.image,
              imagePullPolicy: 'IfNotPresent',
              command: ['tsetcdutl', 'deploy', 'run-member'],
              args: runMemberArgs(s),
              env: [
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
              ],
              ports: [
                { name: 'client', containerPort: client },
                { name: 'peer', containerPort: peer },
                { name: 'metrics', containerPort: METRICS_PORT },
                ...(s.dashboardPort ? [{ name: 'dashboard', containerPort: s.dashboardPort }] : []),
              ],
              // liveness: a member that lost quorum is alive; give it minutes before a restart
              livenessProbe: { ...probe('/livez', 10, 30), initialDelaySeconds: 30 },
              readinessProbe: probe('/readyz', 5, 3),
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '1Gi' } },
              volumeMounts: mounts,
            },
          ],
          volumes,
        },
      },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: s.storageSize } } } }],
    },
  };
}

function services(s: DeploySpec): object[] {
  const ports = [
    { name: 'client', port: s.members[0]!.clientPort, targetPort: 'client' },
    { name: 'peer', port: s.members[0]!.peerPort, targetPort: 'peer' },
  ];
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: headless(s), namespace: s.namespace, labels: labels(s) },
      // members must find each other before they are ready
      spec: { clusterIP: 'None', publishNotReadyAddresses: true, selector: labels(s), ports },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: s.name, namespace: s.namespace, labels: labels(s) }, spec: { type: 'ClusterIP', selector: labels(s), ports: [ports[0]] } },
  ];
}

function pdb(s: DeploySpec): object {
  return { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: s.name, namespace: s.namespace, labels: labels(s) }, spec: { maxUnavailable: 1, selector: { matchLabels: labels(s) } } };
}

/** The certificate Secret; `pki` maps a key (ca.pem...) to the file's text. */
export function pkiSecret(s: DeploySpec, pki: Map<string, string>): object {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: `${s.name}-pki`, namespace: s.namespace, labels: labels(s) }, type: 'Opaque', stringData: Object.fromEntries(pki) };
}

function passwordSecret(s: DeploySpec): object {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: s.name, namespace: s.namespace, labels: labels(s) }, type: 'Opaque', stringData: { 'etcd-root-password': s.rootPassword } };
}

const doc = (o: object): string => YAML.stringify(o, { lineWidth: 0 });

export function kubernetesBundle(s: DeploySpec, pki: Map<string, string>): Bundle {
  const b: Bundle = new Map();
  const files: string[] = [];
  const add = (name: string, objects: object[], mode?: number): void => {
    b.set(name, { text: objects.map(doc).join('---\n'), ...(mode !== undefined ? { mode } : {}) });
    files.push(name);
  };
  // a namespace of its own is created with the rest (kubectl applies it first)
  if (s.namespace !== 'default') add('namespace.yaml', [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: s.namespace } }]);
  if (s.tls) add('secret-pki.yaml', [pkiSecret(s, pki)], 0o600);
  if (s.rootPassword !== undefined) add('secret-auth.yaml', [passwordSecret(s)], 0o600);
  add('services.yaml', services(s));
  add('statefulset.yaml', [statefulSet(s)]);
  add('pdb.yaml', [pdb(s)]);
  b.set('kustomization.yaml', { text: doc({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: files }) });
  b.set('README.md', { text: k8sReadme(s, 'kubectl apply -k .', `kubectl delete -k .`) });
  return b;
}

export function helmBundle(s: DeploySpec, pki: Map<string, string>): Bundle {
  const b: Bundle = new Map();
  for (const rel of shippedTree('helm/tsetcd')) b.set(`tsetcd/${rel}`, { text: shipped(`helm/tsetcd/${rel}`) });
  const [registry, repository, tag] = splitImage(s.image);
  const values: Record<string, unknown> = {
    replicaCount: s.members.length,
    image: { registry, repository, tag },
    auth: {
      rbac: { create: s.rootPassword !== undefined, rootPassword: s.rootPassword ?? '' },
      client: { secureTransport: s.tls, existingSecret: s.tls ? `${s.name}-pki` : '' },
      peer: { secureTransport: s.tls },
    },
    persistence: { size: s.storageSize },
    dashboard: { enabled: s.dashboardPort !== 0 },
    containerPorts: { client: s.members[0]!.clientPort, peer: s.members[0]!.peerPort, metrics: METRICS_PORT, dashboard: s.dashboardPort || DEFAULT_DASHBOARD_PORT },
  };
  const tuning = Object.fromEntries(tuningFlags(s).map(([k, v]) => [k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()), /^\d+$/.test(v) ? Number(v) : v]));
  Object.assign(values, tuning);
  b.set('values.yaml', { text: `# helm install ${s.name} ./tsetcd -n ${s.namespace} -f values.yaml\n${doc(values)}`, mode: 0o600 });
  if (s.tls) b.set('secret-pki.yaml', { text: doc(pkiSecret(s, pki)), mode: 0o600 });
  const ns = s.namespace === 'default' ? '' : `kubectl get namespace ${s.namespace} >/dev/null 2>&1 || kubectl create namespace ${s.namespace}\n`;
  const secret = s.tls ? 'kubectl apply -f secret-pki.yaml\n' : '';
  b.set('README.md', { text: k8sReadme(s, `${ns}${secret}helm install ${s.name} ./tsetcd --namespace ${s.namespace} -f values.yaml`, `helm uninstall ${s.name} --namespace ${s.namespace}`) });
  return b;
}

/** registry/repository:tag → its three parts (the Bitnami values split them). */
export function splitImage(image: string): [string, string, string] {
  const colon = image.lastIndexOf(':');
  const slash = image.indexOf('/');
  const hasTag = colon > image.lastIndexOf('/');
  const name = hasTag ? image.slice(0, colon) : image;
  const tag = hasTag ? image.slice(colon + 1) : 'latest';
  const first = name.slice(0, slash);
  if (slash > 0 && (first.includes('.') || first.includes(':') || first === 'localhost')) return [first, name.slice(slash + 1), tag];
  return ['docker.io', name, tag];
}

function k8sReadme(s: DeploySpec, install: string, uninstall: string): string {
  const auth = s.rootPassword !== undefined;
  const tlsFlags = s.tls ? ` --cacert ${PKI_MOUNT}/ca.pem --cert ${PKI_MOUNT}/client.pem --key ${PKI_MOUNT}/client-key.pem` : '';
  const endpoint = `${s.tls ? 'https' : 'http'}://${s.name}:${s.members[0]!.clientPort}`;
  return `# ${s.name}: a ${s.members.length}-member tsetcd StatefulSet in namespace ${s.namespace}

The image ${s.image} must be in a registry the cluster pulls from (build it with
\`docker build -f deploy/docker/Dockerfile -t ${s.image} .\` from the tsetcd source).

\`\`\`sh
${install}
kubectl -n ${s.namespace} rollout status statefulset/${s.name}
${auth ? `export ROOT_PASSWORD=$(kubectl -n ${s.namespace} get secret ${s.name} -o jsonpath='{.data.etcd-root-password}' | base64 -d)\n` : ''}kubectl -n ${s.namespace} exec ${s.name}-0 -- etcdctl${tlsFlags} --endpoints ${endpoint}${auth ? ' --user "root:$ROOT_PASSWORD"' : ''} endpoint health
\`\`\`

Members are the pods ${s.name}-0 ... reached as \`<pod>.${peerDomain(s)}\`; clients use the
Service \`${s.name}:${s.members[0]!.clientPort}\`. Each pod runs \`tsetcdutl deploy run-member\`:

- a pod that restarts keeps its volume, its data and its member identity;
- \`kubectl -n ${s.namespace} scale statefulset/${s.name} --replicas=5\` adds members: each new pod
  joins as a learner and is promoted once it has caught up;
- scaling down removes members: the leader removes a member whose pod name has not
  resolved in DNS for 5 minutes (\`--remove-missing-after\`);
- a pod whose volume was lost removes its old member and joins again as a new one.

Uninstall: \`${uninstall}\` (the volumes stay; delete the PVCs \`data-${s.name}-N\` to drop the data).
`;
}
