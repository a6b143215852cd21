// The peer port. A single member has no peers to talk to yet, but it binds its
// --listen-peer-urls like etcd does (so a port clash fails at start-up) and answers
// the HTTP endpoints operators and joining members query there.
import http from 'node:http';
import { CLUSTER_VERSION, SERVER_VERSION, type EtcdServer } from '../server/server.js';
import type { Logger } from '../pkg/logger.js';

export interface PeerApi {
  close(): Promise<void>;
}

export async function servePeerApi(server: EtcdServer, urls: URL[], logger: Logger): Promise<PeerApi> {
  const servers: http.Server[] = [];
  const handler: http.RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/version') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ etcdserver: SERVER_VERSION, etcdcluster: CLUSTER_VERSION }));
      return;
    }
    if (path === '/members') {
      const members = server.members().map((m) => ({ id: m.id.toString(16), name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs }));
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-Etcd-Cluster-ID': server.clusterId.toString(16) });
      res.end(JSON.stringify(members));
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('404 page not found\n');
  };
  try {
    for (const url of urls) {
      if (url.protocol !== 'http:') throw new Error(`peer URL ${url.href}: only http is served by this build (TLS comes with the security work)`);
      const s = http.createServer(handler);
      const host = url.hostname.replace(/^\[|\]$/g, '');
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen({ host, port: Number(url.port || 2380) }, () => resolve());
      });
      servers.push(s);
      logger.info('serving peer traffic', { address: `${host}:${url.port}` });
    }
  } catch (err) {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    throw err;
  }
  return {
    close: async () => {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections();
            }),
        ),
      );
    },
  };
}
