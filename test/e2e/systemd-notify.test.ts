// Type=notify: with $NOTIFY_SOCKET set, tsetcd tells systemd READY=1 once the member has
// joined its cluster, as etcd does. A small python3 program plays systemd's side of the
// socket (a unix datagram socket Node.js cannot open), including systemd-notify's barrier.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { etcdctl, freePorts, haveBinary, startMember, TSETCD_BIN, waitUntil } from './harness.js';

// Prints each datagram on one line; closes file descriptors passed along (the barrier
// systemd-notify waits on) so that it returns at once.
const FAKE_SYSTEMD = `
import array, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    msg, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(64))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(data[: len(data) - len(data) % 4])
            for fd in fds:
                os.close(fd)
    print(msg.decode().replace("\\n", " "), flush=True)
`;

test('READY=1 reaches $NOTIFY_SOCKET once the member serves, as etcd sends it', async (t) => {
  for (const tool of ['python3', 'systemd-notify']) assert.ok(haveBinary(tool), `${tool} is needed for this test (apt-get install -y python3 systemd)`);
  const { dir, cleanup } = tempDir();
  const socketPath = path.join(dir, 'notify.sock');
  const fake = spawn('python3', ['-c', FAKE_SYSTEMD, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  let received = '';
  fake.stdout.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
  t.after(() => {
    fake.kill();
    cleanup();
  });
  await waitUntil(async () => received.includes('listening'), undefined, 'the fake systemd socket', 10000);

  const ports = await freePorts();
  const member = await startMember({
    bin: TSETCD_BIN,
    dataDir: path.join(dir, 'data'),
    ports,
    env: { ...process.env, NOTIFY_SOCKET: socketPath },
    waitHealthy: false,
  });
  try {
    await waitUntil(async () => received.includes('READY=1'), member.exited, 'READY=1 on the notify socket', 20000);
    // by then the member answers, and says it told systemd
    const health = await etcdctl(`http://127.0.0.1:${ports.client}`, ['endpoint', 'health']);
    assert.equal(health.code, 0, health.stderr);
    await waitUntil(async () => fs.readFileSync(member.logPath, 'utf8').includes('successfully notified init daemon'), member.exited, 'the log line');
    assert.match(received, /READY=1/);
  } finally {
    await member.stop();
  }
});

test('without systemd-notify on PATH the member still serves and logs why it could not notify', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const ports = await freePorts();
  const member = await startMember({
    bin: TSETCD_BIN,
    dataDir: path.join(dir, 'data'),
    ports,
    // node itself stays reachable by its absolute path (bin/tsetcd's shebang needs "node")
    env: { ...process.env, PATH: path.dirname(process.execPath), NOTIFY_SOCKET: path.join(dir, 'nobody-listens.sock') },
  });
  try {
    await waitUntil(async () => fs.readFileSync(member.logPath, 'utf8').includes('failed to notify init daemon'), member.exited, 'the log line');
    assert.equal((await etcdctl(`http://127.0.0.1:${ports.client}`, ['put', 'k', 'v'])).stdout, 'OK\n');
  } finally {
    await member.stop();
  }
});
