// What the logged-in user may change, so read-only users get read-only views. The member
// decides every call anyway (a hidden button is a courtesy, not the check); this only
// reads the user's own roles and their permissions, which etcd lets any user read.
import { useEffect, useState } from 'preact/hooks';
import { decBytes, v3 } from './api.js';

/** authpb.Permission.Type: READ is 0 and left out of JSON; names or numbers otherwise */
const WRITES = new Set(['WRITE', 'READWRITE', 1, 2]);

function compare(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** etcd's interval rules: no range end is one key, "\0" is every key from key on. */
function covers(perm, key) {
  if (perm.end.length === 0) return compare(key, perm.key) === 0;
  if (perm.end.length === 1 && perm.end[0] === 0) return compare(key, perm.key) >= 0;
  return compare(key, perm.key) >= 0 && compare(key, perm.end) < 0;
}

async function loadWriteRanges(user) {
  const { roles = [] } = await v3('/auth/user/get', { name: user });
  const perms = await Promise.all(roles.map((role) => v3('/auth/role/get', { role }).then((r) => r.perm || [])));
  return perms.flat().filter((p) => WRITES.has(p.permType)).map((p) => ({ key: decBytes(p.key), end: decBytes(p.range_end) }));
}

/**
 * {root, anyWrite, canWrite(keyBase64)}: everything for root or with auth off; for other
 * users, the key ranges their roles may write (none while loading or when unreadable).
 */
export function usePermissions(session) {
  const all = !session.authEnabled || session.root;
  const [ranges, setRanges] = useState([]);
  useEffect(() => {
    if (all) return;
    let live = true;
    loadWriteRanges(session.user).then((r) => live && setRanges(r), () => live && setRanges([]));
    return () => {
      live = false;
    };
  }, [session.user, all]);
  return {
    root: all,
    anyWrite: all || ranges.length > 0,
    canWrite: (keyB64) => all || ranges.some((p) => covers(p, decBytes(keyB64))),
  };
}
