// etcdctl's --write-out formats: simple (plain values), json (Go's encoding/json of the
// response), fields ("Name" : value lines), protobuf (the response bytes) and table
// (member and endpoint listings only). A format a command does not support ends it
// with "<format> not supported as output format" (exit 4).
import type { DeleteRangeResponse, MemberListResponse, PutResponse, RangeResponse, ResponseHeader, StatusResponse } from '../../proto/etcdserverpb.js';
import type { KeyValue } from '../../proto/mvccpb.js';
import type { Answer } from './client.js';
import { goJson, goJsonStruct, goQuote, humanizeBytes } from './gofmt.js';
import { CtlExit, ExitCode, type Io } from './io.js';
import { renderTable } from './table.js';

export const OUTPUT_FORMATS = ['simple', 'json', 'fields', 'protobuf', 'table'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface EndpointHealth {
  endpoint: string;
  health: boolean;
  /** Go duration text */
  took: string;
  error: string;
}

export interface EndpointStatus {
  endpoint: string;
  status: StatusResponse;
}

export interface PrintOptions {
  /** --hex: keys and values as \xNN escapes (simple format only) */
  hex: boolean;
  /** --print-value-only */
  valueOnly: boolean;
}

const NL = '\n';

export function unsupported(format: OutputFormat): never {
  throw new CtlExit(ExitCode.BadFeature, `${format} not supported as output format`);
}

function hexEscaped(b: Uint8Array): Buffer {
  return Buffer.from([...b].map((x) => '\\x' + x.toString(16).padStart(2, '0')).join(''));
}

export class Printer {
  constructor(
    readonly format: OutputFormat,
    readonly io: Io,
    readonly opts: PrintOptions,
  ) {}

  line(s: string): void {
    this.io.out(s + NL);
  }

  simpleKv(kv: KeyValue): void {
    const key = this.opts.hex ? hexEscaped(kv.key) : Buffer.from(kv.key);
    const value = this.opts.hex ? hexEscaped(kv.value) : Buffer.from(kv.value);
    if (!this.opts.valueOnly) this.io.out(Buffer.concat([key, Buffer.from(NL)]));
    this.io.out(Buffer.concat([value, Buffer.from(NL)]));
  }

  fieldsKv(prefix: string, kv: KeyValue): void {
    this.line(`"${prefix}Key" : ${goQuote(kv.key)}`);
    this.line(`"${prefix}CreateRevision" : ${kv.create_revision}`);
    this.line(`"${prefix}ModRevision" : ${kv.mod_revision}`);
    this.line(`"${prefix}Version" : ${kv.version}`);
    this.line(`"${prefix}Value" : ${goQuote(kv.value)}`);
    this.line(`"${prefix}Lease" : ${kv.lease}`);
  }

  fieldsHeader(h: ResponseHeader | undefined): void {
    this.line(`"ClusterID" : ${h?.cluster_id ?? 0n}`);
    this.line(`"MemberID" : ${h?.member_id ?? 0n}`);
    this.line(`"Revision" : ${h?.revision ?? 0}`);
    this.line(`"RaftTerm" : ${h?.raft_term ?? 0}`);
  }

  /** --print-value-only, checked by get once the answer is in */
  printValuesOnly(): void {
    this.opts.valueOnly = true;
  }

  /** the shared cases: json and protobuf print the response itself; table has no form */
  whole(ans: Answer<unknown>): boolean {
    switch (this.format) {
      case 'json':
        this.line(goJson(ans.msg));
        return true;
      case 'protobuf':
        this.io.out(ans.raw);
        return true;
      case 'table':
        return unsupported(this.format);
      default:
        return false;
    }
  }

  get(ans: Answer<RangeResponse>): void {
    if (this.whole(ans)) return;
    const r = ans.msg;
    if (this.format === 'simple') {
      for (const kv of r.kvs) this.simpleKv(kv);
      return;
    }
    this.fieldsHeader(r.header);
    for (const kv of r.kvs) this.fieldsKv('', kv);
    this.line(`"More" : ${r.more}`);
    this.line(`"Count" : ${r.count}`);
  }

  put(ans: Answer<PutResponse>): void {
    if (this.whole(ans)) return;
    const r = ans.msg;
    if (this.format === 'simple') {
      this.line('OK');
      if (r.prev_kv) this.simpleKv(r.prev_kv);
      return;
    }
    this.fieldsHeader(r.header);
    if (r.prev_kv) this.fieldsKv('Prev', r.prev_kv);
  }

  del(ans: Answer<DeleteRangeResponse>): void {
    if (this.whole(ans)) return;
    const r = ans.msg;
    if (this.format === 'simple') {
      this.line(String(r.deleted));
      for (const kv of r.prev_kvs) this.simpleKv(kv);
      return;
    }
    this.fieldsHeader(r.header);
    this.line(`"Deleted" : ${r.deleted}`);
    for (const kv of r.prev_kvs) this.fieldsKv('Prev', kv);
  }

  memberList(ans: Answer<MemberListResponse>): void {
    const r = ans.msg;
    const headers = ['ID', 'Status', 'Name', 'Peer Addrs', 'Client Addrs', 'Is Learner'];
    const rows = r.members.map((m) => [
      m.ID.toString(16),
      m.name === '' ? 'unstarted' : 'started',
      m.name,
      m.peerURLs.join(','),
      m.clientURLs.join(','),
      String(m.isLearner),
    ]);
    switch (this.format) {
      case 'simple':
        for (const row of rows) this.line(row.join(', '));
        return;
      case 'table':
        this.io.out(renderTable(headers, rows));
        return;
      case 'fields':
        this.fieldsHeader(r.header);
        for (const m of r.members) {
          this.line(`"ID" : ${m.ID}`);
          this.line(`"Name" : ${goQuote(m.name)}`);
          for (const u of m.peerURLs) this.line(`"PeerURL" : ${goQuote(u)}`);
          for (const u of m.clientURLs) this.line(`"ClientURL" : ${goQuote(u)}`);
          this.line(`"IsLearner" : ${m.isLearner}`);
          this.line('');
        }
        return;
      default:
        this.whole(ans);
    }
  }

  endpointHealth(list: EndpointHealth[]): void {
    switch (this.format) {
      case 'simple':
        for (const h of list) {
          this.io.err(
            h.error === ''
              ? `${h.endpoint} is healthy: successfully committed proposal: took = ${h.took}\n`
              : `${h.endpoint} is unhealthy: failed to commit proposal: ${h.error}\n`,
          );
        }
        return;
      case 'json': {
        const items = list.map((h) => {
          const fields: Array<[string, unknown]> = [
            ['endpoint', h.endpoint],
            ['health', h.health],
            ['took', h.took],
          ];
          if (h.error !== '') fields.push(['error', h.error]); // `json:"error,omitempty"`
          return goJsonStruct(fields);
        });
        this.line('[' + items.join(',') + ']');
        return;
      }
      case 'fields':
        for (const h of list) {
          this.line(`"Endpoint" : ${goQuote(h.endpoint)}`);
          this.line(`"Health" : ${h.health}`);
          this.line(`"Took" : ${h.took}`);
          this.line(`"Error" : ${h.error}`);
          this.line('');
        }
        return;
      case 'table':
        this.io.out(renderTable(['endpoint', 'health', 'took', 'error'], list.map((h) => [h.endpoint, String(h.health), h.took, h.error])));
        return;
      default:
        unsupported(this.format);
    }
  }

  endpointStatus(list: EndpointStatus[]): void {
    const headers = ['endpoint', 'ID', 'version', 'db size', 'is leader', 'is learner', 'raft term', 'raft index', 'raft applied index', 'errors'];
    const rows = list.map(({ endpoint, status: s }) => [
      endpoint,
      (s.header?.member_id ?? 0n).toString(16),
      s.version,
      humanizeBytes(s.dbSize),
      String(s.leader === (s.header?.member_id ?? 0n)),
      String(s.isLearner),
      String(s.raftTerm),
      String(s.raftIndex),
      String(s.raftAppliedIndex),
      s.errors.join(', '),
    ]);
    switch (this.format) {
      case 'simple':
        for (const row of rows) this.line(row.join(', '));
        return;
      case 'json':
        this.line('[' + list.map((e) => goJsonStruct([['Endpoint', e.endpoint], ['Status', e.status]])).join(',') + ']');
        return;
      case 'fields':
        for (const { endpoint, status: s } of list) {
          this.fieldsHeader(s.header);
          this.line(`"Version" : ${goQuote(s.version)}`);
          this.line(`"DBSize" : ${s.dbSize}`);
          this.line(`"Leader" : ${s.leader}`);
          this.line(`"IsLearner" : ${s.isLearner}`);
          this.line(`"RaftIndex" : ${s.raftIndex}`);
          this.line(`"RaftTerm" : ${s.raftTerm}`);
          this.line(`"RaftAppliedIndex" : ${s.raftAppliedIndex}`);
          this.line(`"Errors" : [${s.errors.join(' ')}]`);
          this.line(`"Endpoint" : ${goQuote(endpoint)}`);
          this.line('');
        }
        return;
      case 'table':
        this.io.out(renderTable(headers, rows));
        return;
      default:
        unsupported(this.format);
    }
  }
}
