// The targets with a fixed list of hosts: systemd (unit + one environment file per
// member), OpenRC (init script + conf.d + etcd's YAML config per member, as tutorial 002)
// and Docker (a compose file and the same members as `docker run` lines). Each bundle
// also carries etcdctl.env (endpoints and client certificate for etcdctl) and, with a
// root password, the file auth-init reads it from.
import { TSETCD_VERSION } from '../../version.js';
import { shipped, shQuote, type Bundle } from './bundle.js';
import { installScript } from './install-script.js';
import { configYaml, envLines, flagArgs, memberFlags, type FlagList } from './member-config.js';
import { clientUrl, type DeploySpec, type MemberSpec } from './spec.js';

/** Data and WAL directory of a member that shares nothing with the others. */
function memberPaths(s: DeploySpec, m: MemberSpec, pkiDir: string): { dataDir: string; walDir?: string; pkiDir: string } {
  const p: { dataDir: string; walDir?: string; pkiDir: string } = { dataDir: `${s.dataDir}/${m.name}`, pkiDir };
  if (s.walDir !== undefined) p.walDir = `${s.walDir}/${m.name}`;
  return p;
}

/** ETCDCTL_* settings for a shell on a machine that holds the bundle's pki/ folder. */
export function etcdctlEnv(s: DeploySpec, pkiDir: string, endpoints = s.members.map((m) => clientUrl(s, m))): string {
  const lines = [`export ETCDCTL_API=3`, `export ETCDCTL_ENDPOINTS=${endpoints.join(',')}`];
  if (s.tls) lines.push(`export ETCDCTL_CACERT=${pkiDir}/ca.pem`, `export ETCDCTL_CERT=${pkiDir}/client.pem`, `export ETCDCTL_KEY=${pkiDir}/client-key.pem`);
  return lines.join('\n') + '\n';
}

function common(s: DeploySpec, b: Bundle): void {
  // sourced from the bundle folder: its pki/ as an absolute path, so later cds do not break it
  const locate = s.tls ? 'tsetcd_pki="$(cd "$(dirname "${BASH_SOURCE:-$0}")" && pwd)/pki"\n' : '';
  b.set('etcdctl.env', { text: locate + etcdctlEnv(s, '"$tsetcd_pki"') });
  if (s.rootPassword !== undefined) b.set('root-password', { text: s.rootPassword + '\n', mode: 0o600 });
}

function authSteps(s: DeploySpec): string {
  if (s.rootPassword === undefined) return '';
  return [
    '',
    'Once every member runs, turn on authentication (a `root` user with the password in',
    '`root-password`, then `auth enable`); it is safe to run again:',
    '',
    '```sh',
    '. ./etcdctl.env && tsetcdutl deploy auth-init --root-password-file ./root-password',
    '```',
    '',
    'From then on etcdctl needs `--user root:"$(cat root-password)"` (or a user you add).',
  ].join('\n');
}

function checkSteps(s: DeploySpec): string {
  const user = s.rootPassword !== undefined ? ' --user root:"$(cat root-password)"' : '';
  return ['', 'Check it from any machine with this folder:', '', '```sh', '. ./etcdctl.env', `etcdctl${user} endpoint health`, `etcdctl${user} put foo bar && etcdctl${user} get foo`, '```', ''].join('\n');
}

export function systemdBundle(s: DeploySpec): Bundle {
  const b: Bundle = new Map();
  let unit = shipped('systemd/tsetcd.service');
  unit = unit.replace(/^ExecStart=\/usr\/local\/bin\/tsetcd /m, `ExecStart=${s.binDir}/tsetcd `);
  b.set('tsetcd.service', { text: unit });
  for (const m of s.members) {
    const flags = memberFlags(s, m, memberPaths(s, m, `${s.configDir}/pki`));
    b.set(`${m.name}/tsetcd.env`, { text: `# /etc/default/tsetcd of ${m.name} (${m.host}): ETCD_* variables, as etcd reads them\n${envLines(flags)}DAEMON_ARGS=\n` });
  }
  b.set(
    'install.sh',
    {
      text: installScript(s, {
        init: 'systemd',
        sharedFiles: [['tsetcd.service', '/etc/systemd/system/tsetcd.service', '0644']],
        memberFiles: [['{m}/tsetcd.env', '/etc/default/tsetcd']],
        running: '[ -d /run/systemd/system ]',
        start: 'systemctl daemon-reload && systemctl enable --now tsetcd',
        status: 'systemctl status tsetcd',
      }),
      mode: 0o755,
    },
  );
  common(s, b);
  b.set('README.md', { text: staticReadme(s, 'systemd', 'systemctl status tsetcd', 'journalctl -u tsetcd') });
  return b;
}

export function openrcBundle(s: DeploySpec): Bundle {
  const b: Bundle = new Map();
  b.set('tsetcd.initd', { text: shipped('openrc/tsetcd.initd').replace('${TSETCD_BIN:-/usr/local/bin/tsetcd}', `\${TSETCD_BIN:-${s.binDir}/tsetcd}`), mode: 0o755 });
  b.set('tsetcd.confd', { text: shipped('openrc/tsetcd.confd').replace(/\/etc\/tsetcd\/conf\.yml/g, `${s.configDir}/conf.yml`) });
  for (const m of s.members) {
    const flags = memberFlags(s, m, memberPaths(s, m, `${s.configDir}/pki`));
    b.set(`${m.name}/conf.yml`, { text: `# ${s.configDir}/conf.yml of ${m.name} (${m.host}): etcd's config file\n${configYaml(flags)}` });
  }
  b.set('install.sh', {
    text: installScript(s, {
      init: 'openrc',
      sharedFiles: [
        ['tsetcd.initd', '/etc/init.d/tsetcd', '0755'],
        ['tsetcd.confd', '/etc/conf.d/tsetcd', '0644'],
      ],
      memberFiles: [['{m}/conf.yml', `${s.configDir}/conf.yml`]],
      running: 'command -v rc-service >/dev/null',
      start: 'rc-update add tsetcd default && rc-service tsetcd start',
      status: 'rc-service tsetcd status',
    }),
    mode: 0o755,
  });
  common(s, b);
  b.set('README.md', { text: staticReadme(s, 'OpenRC', 'rc-service tsetcd status', 'tail /var/log/tsetcd/tsetcd.log') });
  return b;
}

function staticReadme(s: DeploySpec, init: string, status: string, logs: string): string {
  const rows = s.members.map((m) => `| ${m.name} | ${m.host} | ${clientUrl(s, m)} |`).join('\n');
  return `# ${s.name}: ${s.members.length} tsetcd members under ${init}

| member | host | client URL |
|---|---|---|
${rows}

On each member's host, with this folder copied there (\`pki/ca-key.pem\` can stay behind:
members never need the CA's key) and tsetcd installed
(\`npm install -g tsetcd-${TSETCD_VERSION}.tgz\`, or \`sudo TSETCD_HOME=/opt/tsetcd-${TSETCD_VERSION}-linux-x64 ./install.sh ...\`
for the release tarball with its own Node.js, unpacked in /opt):

\`\`\`sh
sudo ./install.sh ${s.members[0]!.name}     # the member that runs on this host
\`\`\`

It installs tsetcd, tsetcdctl and tsetcdutl into ${s.binDir}, the member's settings and
certificates into ${s.configDir}, and starts the service. \`${status}\` shows it,
\`${logs}\` its log. Start the members within a minute or so of each other: each waits
for a quorum before it serves.
${authSteps(s)}
${checkSteps(s)}
\`pki/\` holds the CA (keep \`ca-key.pem\` safe and off the members), each member's certificate
and the client certificate, with the cfssl JSON that made them.
`;
}

const dockerMemberPaths = (s: DeploySpec, m: MemberSpec) => memberPaths(s, m, '/etc/tsetcd/pki');

function dockerFlags(s: DeploySpec, m: MemberSpec): FlagList {
  return memberFlags(s, m, dockerMemberPaths(s, m), { bindAll: true, metricsUrl: `http://0.0.0.0:${m.peerPort + 1}` });
}

/** The /24 (or given) subnet all member IPs fall in, when they are IPv4 addresses. */
function subnet(s: DeploySpec): string | undefined {
  const prefixes = new Set(s.members.map((m) => (/^\d+\.\d+\.\d+\.\d+$/.test(m.host) ? m.host.split('.').slice(0, 3).join('.') : '')));
  if (prefixes.size !== 1 || prefixes.has('')) return undefined;
  return `${[...prefixes][0]}.0/24`;
}

export function dockerBundle(s: DeploySpec): Bundle {
  const b: Bundle = new Map();
  const net = subnet(s);
  const services = s.members.map((m) => {
    const lines = [
      `  ${m.name}:`,
      `    image: ${s.image}`,
      `    hostname: ${m.name}`,
      `    restart: unless-stopped`,
      `    command:`,
      `      - tsetcd`,
      ...flagArgs(dockerFlags(s, m)).map((a) => `      - ${JSON.stringify(a)}`),
      `    volumes:`,
      `      - ${m.name}-data:${s.dataDir}`,
      ...(s.tls ? [`      - ./pki:/etc/tsetcd/pki:ro`] : []),
      `    networks:`,
      `      ${s.name}:`,
      ...(net ? [`        ipv4_address: ${m.host}`] : [`        aliases: [${m.host}]`]),
    ];
    return lines.join('\n');
  });
  const compose = [
    `# docker compose up -d: the ${s.name} cluster, one container per member`,
    'services:',
    ...services,
    'volumes:',
    ...s.members.map((m) => `  ${m.name}-data: {}`),
    'networks:',
    `  ${s.name}:`,
    ...(net ? ['    ipam:', '      config:', `        - subnet: ${net}`] : []),
    '',
  ].join('\n');
  b.set('compose.yaml', { text: compose });
  b.set('docker-run.sh', { text: dockerRun(s, net), mode: 0o755 });
  common(s, b);
  b.set('README.md', { text: dockerReadme(s) });
  return b;
}

function dockerRun(s: DeploySpec, net: string | undefined): string {
  const lines = ['#!/bin/sh', `# The compose file's members as docker run commands (podman takes them too).`, 'set -eu', 'cd "$(dirname "$0")"', `docker network create ${net ? `--subnet ${net} ` : ''}${s.name} 2>/dev/null || true`];
  for (const m of s.members) {
    const parts = [
      'docker run -d',
      `--name ${m.name}`,
      `--hostname ${m.name}`,
      `--network ${s.name}`,
      ...(net ? [`--ip ${m.host}`] : [`--network-alias ${m.host}`]),
      '--restart unless-stopped',
      `-v ${m.name}-data:${s.dataDir}`,
      ...(s.tls ? ['-v "$PWD/pki:/etc/tsetcd/pki:ro"'] : []),
      s.image,
      'tsetcd',
      ...flagArgs(dockerFlags(s, m)).map(shQuote),
    ];
    lines.push(parts.join(' \\\n  '));
  }
  return lines.join('\n') + '\n';
}

function dockerReadme(s: DeploySpec): string {
  const first = s.members[0]!;
  return `# ${s.name}: ${s.members.length} tsetcd members in containers

Build the image once (from the tsetcd source tree), then start the members:

\`\`\`sh
docker build -f deploy/docker/Dockerfile -t ${s.image} .
${s.tls ? 'sudo chown -R 10001:10001 pki      # the image runs as uid 10001, which must read the keys\n' : ''}docker compose up -d               # or: ./docker-run.sh
\`\`\`

The containers run as uid 10001, keep their data in the volumes \`<member>-data\`, are
restarted by Docker when they die, and \`docker stop\` shuts a member down cleanly.
etcdctl inside a container (the image names tsetcdctl \`etcdctl\` too):

\`\`\`sh
docker exec ${first.name} etcdctl ${s.tls ? '--cacert /etc/tsetcd/pki/ca.pem --cert /etc/tsetcd/pki/client.pem --key /etc/tsetcd/pki/client-key.pem ' : ''}--endpoints ${clientUrl(s, first)} endpoint health
\`\`\`
${authSteps(s)}
${checkSteps(s)}`;
}
