// Proves the layering of issue 12: the member (server, auth, mvcc, lease, watch,
// coordination, peer, raft, storage, snapshots, shared packages) never imports the API
// layer (src/api), so errors are domain errors mapped to gRPC status only at the edge;
// and gRPC's status codes and framing stay leaf modules that import nothing else of ours.
// Fails naming each offending import.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { importsOf, sourceFiles } from './source.js';

/** the folders under src/ that sit below the API (src/cli, src/dashboard are above it; src/client is the other side of the wire) */
const BELOW_API = ['auth', 'backend', 'bbolt', 'config', 'coordination', 'etcdwal', 'lease', 'mvcc', 'peer', 'pkg', 'pki', 'proto', 'raft', 'server', 'snapshot', 'wal', 'watch'];

/** what the client may take from src/api: the wire's own leaf modules */
const CLIENT_MAY_IMPORT = new Set(['src/api/grpc/status.ts', 'src/api/grpc/framing.ts']);

test('nothing below src/api imports from src/api', () => {
  const files = sourceFiles();
  const below = files.filter((f) => BELOW_API.includes(f.rel.split('/')[1]!));
  assert.ok(below.length > 100, `expected the member's sources, found ${below.length} files`);
  const offending = below.flatMap((f) => importsOf(f).filter((i) => i.startsWith('src/api/')).map((i) => `${f.rel} imports ${i}`));
  assert.deepEqual(offending, []);
});

test('src/client takes only the gRPC wire leaf modules from src/api', () => {
  const offending = sourceFiles('src/client').flatMap((f) => importsOf(f).filter((i) => i.startsWith('src/api/') && !CLIENT_MAY_IMPORT.has(i)).map((i) => `${f.rel} imports ${i}`));
  assert.deepEqual(offending, []);
});

test('gRPC status and framing are leaves: they import nothing of ours but each other', () => {
  const leaves = sourceFiles('src/api/grpc').filter((f) => CLIENT_MAY_IMPORT.has(f.rel));
  assert.equal(leaves.length, CLIENT_MAY_IMPORT.size);
  assert.deepEqual(leaves.flatMap((f) => importsOf(f).filter((i) => !CLIENT_MAY_IMPORT.has(i)).map((i) => `${f.rel} imports ${i}`)), []);
});

test('the import scan sees imports (a planted import below the API is found)', () => {
  const planted = { rel: 'src/server/x.ts', text: "import { GrpcError } from '../api/grpc/status.js';\nexport { y } from './y.js';\n" };
  assert.deepEqual(importsOf(planted), ['src/api/grpc/status.ts', 'src/server/y.ts']);
});

/**
 * Errors are told apart by class and kind, never by their text, in the member and its API:
 * the layers whose failures are domain errors. (Tools and proxies above the wire, src/cli,
 * src/proxy, src/gateway, read the status text a server sent, as etcdctl does.)
 */
const MEMBER_LAYERS = ['api', 'auth', 'backend', 'coordination', 'lease', 'mvcc', 'peer', 'raft', 'server', 'snapshot', 'wal', 'watch'];
const MESSAGE_MATCH = /\.message\s*(===|!==|\.startsWith|\.endsWith|\.includes|\.match)|\.test\([^)]*\.message\)/;

test('no error in the member or its API is recognised by its message text', () => {
  const offending = sourceFiles()
    .filter((f) => MEMBER_LAYERS.includes(f.rel.split('/')[1]!))
    .flatMap((f) => f.text.split('\n').map((line, i) => ({ line, at: `${f.rel}:${i + 1}` })))
    .filter(({ line }) => MESSAGE_MATCH.test(line))
    .map(({ at, line }) => `${at}: ${line.trim()}`);
  assert.deepEqual(offending, []);
  assert.ok(MESSAGE_MATCH.test("if (err.message.startsWith('apply:')) throw err;"), 'the pattern must catch a planted match');
});
