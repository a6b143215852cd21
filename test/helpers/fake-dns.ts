// A tiny authoritative DNS server on loopback UDP for discovery tests: answers SRV and A
// queries from a table, NXDOMAIN for anything else. Point tsetcd at it with
// TSETCD_DNS_SERVERS=127.0.0.1:<port> (src/pkg/dns.ts), never through /etc/resolv.conf.
import dgram from 'node:dgram';

export interface SrvAnswer {
  priority?: number;
  weight?: number;
  port: number;
  target: string;
}

export interface DnsTable {
  srv?: Record<string, SrvAnswer[]>;
  a?: Record<string, string[]>;
}

const TYPE_A = 1;
const TYPE_SRV = 33;

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter((l) => l !== '');
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
}

function readQuestion(msg: Buffer): { name: string; type: number; end: number } {
  const labels: string[] = [];
  let pos = 12;
  while (msg[pos]! !== 0) {
    const len = msg[pos]!;
    labels.push(msg.subarray(pos + 1, pos + 1 + len).toString());
    pos += 1 + len;
  }
  pos++;
  return { name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(pos), end: pos + 4 };
}

function answer(type: number, rdata: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0); // the question's name
  head.writeUInt16BE(type, 2);
  head.writeUInt16BE(1, 4); // IN
  head.writeUInt32BE(5, 6); // TTL
  head.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([head, rdata]);
}

function respond(msg: Buffer, table: DnsTable): Buffer {
  const q = readQuestion(msg);
  const answers: Buffer[] = [];
  if (q.type === TYPE_SRV) {
    for (const r of table.srv?.[q.name] ?? []) {
      const fixed = Buffer.alloc(6);
      fixed.writeUInt16BE(r.priority ?? 0, 0);
      fixed.writeUInt16BE(r.weight ?? 0, 2);
      fixed.writeUInt16BE(r.port, 4);
      answers.push(answer(TYPE_SRV, Buffer.concat([fixed, encodeName(r.target)])));
    }
  } else if (q.type === TYPE_A) {
    for (const ip of table.a?.[q.name] ?? []) answers.push(answer(TYPE_A, Buffer.from(ip.split('.').map(Number))));
  }
  const head = Buffer.alloc(12);
  msg.copy(head, 0, 0, 2); // ID
  head.writeUInt16BE(0x8500 | (answers.length === 0 ? 3 : 0), 2); // response, authoritative, RD; NXDOMAIN when empty
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(answers.length, 6);
  return Buffer.concat([head, msg.subarray(12, q.end), ...answers]);
}

export interface FakeDns {
  /** "127.0.0.1:<port>", for TSETCD_DNS_SERVERS or Resolver#setServers */
  readonly server: string;
  /** every question asked, as "TYPE name" */
  readonly asked: string[];
  close(): Promise<void>;
}

export async function startFakeDns(table: DnsTable): Promise<FakeDns> {
  const sock = dgram.createSocket('udp4');
  const asked: string[] = [];
  sock.on('message', (msg, rinfo) => {
    try {
      const q = readQuestion(msg);
      asked.push(`${q.type === TYPE_SRV ? 'SRV' : q.type === TYPE_A ? 'A' : q.type} ${q.name}`);
      sock.send(respond(msg, table), rinfo.port, rinfo.address);
    } catch {
      /* a malformed query gets no answer */
    }
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  return {
    server: `127.0.0.1:${sock.address().port}`,
    asked,
    close: () => new Promise((resolve) => sock.close(() => resolve())),
  };
}
