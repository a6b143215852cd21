// The install script of the systemd and OpenRC bundles: run as root on a member's host,
// it puts tsetcd, tsetcdctl and tsetcdutl where the service file looks (wrappers that
// exec the installed package, so an `npm install -g` or an unpacked release both work),
// creates the `etcd` user and the data directory, copies the member's certificates and
// config, installs the service and starts it when that init system is running.
// ROOT=/path installs into a staging tree instead of / (used by the tests and by
// image builders); nothing is started then.
import { TSETCD_VERSION } from '../../version.js';
import type { DeploySpec } from './spec.js';

export interface InstallFiles {
  /** init system being installed for */
  init: 'systemd' | 'openrc';
  /** bundle path of a member's own file → absolute destination; {m} is the member name */
  memberFiles: Array<[string, string]>;
  /** bundle path of a shared file → absolute destination and mode */
  sharedFiles: Array<[string, string, string]>;
  /** the commands that enable and start the service */
  start: string;
  /** test that this init system runs the machine */
  running: string;
  /** the command that shows the service's state */
  status: string;
}

export function installScript(s: DeploySpec, f: InstallFiles): string {
  const names = s.members.map((m) => m.name).join(' ');
  const copies = [
    ...f.sharedFiles.map(([from, to, mode]) => `put "$here/${from}" "${to}" ${mode}`),
    ...f.memberFiles.map(([from, to]) => `put "$here/${from.replace('{m}', '$member')}" "${to.replace('{m}', '$member')}" 0640`),
  ];
  const tls = s.tls
    ? [
        `put "$here/pki/ca.pem" "${s.configDir}/pki/ca.pem" 0644`,
        `put "$here/pki/$member.pem" "${s.configDir}/pki/$member.pem" 0644`,
        `put "$here/pki/$member-key.pem" "${s.configDir}/pki/$member-key.pem" 0600`,
        `chown etcd:etcd "$ROOT${s.configDir}/pki/$member-key.pem" 2>/dev/null || true`,
      ]
    : [];
  return `#!/bin/sh
# Installs one member of the "${s.name}" cluster for ${f.init}. Run as root on that member's host:
#   sudo ./install.sh MEMBER        (one of: ${names})
# The tsetcd package must be installed first (npm install -g tsetcd-${TSETCD_VERSION}.tgz), or
# TSETCD_HOME must name an unpacked release (tsetcd-${TSETCD_VERSION}-linux-x64/).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
member=\${1:-}
case " ${names} " in *" $member "*) [ -n "$member" ] ;; *) false ;; esac || {
  echo "usage: $0 MEMBER   (one of: ${names})" >&2; exit 2; }
ROOT=\${ROOT:-}
bin_dir=${s.binDir}

if [ -n "\${TSETCD_HOME:-}" ]; then
  pkg=$TSETCD_HOME
else
  found=$(command -v tsetcd) || { echo "tsetcd is not installed: run npm install -g tsetcd-${TSETCD_VERSION}.tgz, or run TSETCD_HOME=/opt/tsetcd-${TSETCD_VERSION}-linux-x64 $0 $member" >&2; exit 1; }
  pkg=$(dirname "$(dirname "$(readlink -f "$found")")")
fi
[ -x "$pkg/bin/tsetcd" ] || { echo "$pkg/bin/tsetcd is missing: TSETCD_HOME must be the folder holding bin/tsetcd" >&2; exit 1; }

put() { # put SRC DEST MODE
  install -D -m "$3" "$1" "$ROOT$2"
}

mkdir -p "$ROOT$bin_dir"
for b in tsetcd tsetcdctl tsetcdutl; do
  [ "$ROOT$bin_dir/$b" -ef "$pkg/bin/$b" ] && continue
  rm -f "$ROOT$bin_dir/$b"
  printf '#!/bin/sh\\nexec "%s" "$@"\\n' "$pkg/bin/$b" > "$ROOT$bin_dir/$b"
  chmod 0755 "$ROOT$bin_dir/$b"
done

if [ -z "$ROOT" ] && ! id etcd >/dev/null 2>&1; then
  useradd --system --home-dir ${s.dataDir} --shell /usr/sbin/nologin etcd 2>/dev/null || adduser -S -D -H -h ${s.dataDir} -s /sbin/nologin etcd
fi
mkdir -p "$ROOT${s.dataDir}"
chmod 0700 "$ROOT${s.dataDir}"
[ -n "$ROOT" ] || chown etcd:etcd "$ROOT${s.dataDir}"
${[...copies, ...tls].join('\n')}

if [ -z "$ROOT" ] && ${f.running}; then
  ${f.start}
  echo "started $member; check it with: ${f.status}"
else
  echo "installed $member under \${ROOT:-/}; start it with: ${f.start}"
fi
`;
}
