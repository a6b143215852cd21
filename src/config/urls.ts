// URL handling with etcd's rules: each URL needs an http, https, unix or unixs
// scheme, an explicit host:port and no path. Parsing follows Go's net/url
// closely enough to reject the same inputs with the same words, and the
// normalised text is what Go's URL.String() prints (no trailing slash).

import { isIP } from 'node:net';
import { goQuote } from './goparse.js';

export interface GoUrl {
  /** lower-cased scheme */
  readonly scheme: string;
  /** host:port as written (IPv6 in brackets) */
  readonly host: string;
  /** host without the port and without IPv6 brackets */
  readonly hostname: string;
  readonly port: string;
  /** the URL as etcd prints it */
  readonly text: string;
}

export type UrlResult = { readonly ok: true; readonly url: GoUrl } | { readonly ok: false; readonly message: string };
export type UrlListResult =
  | { readonly ok: true; readonly urls: GoUrl[] }
  | { readonly ok: false; readonly message: string };

const SCHEMES = new Set(['http', 'https', 'unix', 'unixs']);

/** Characters Go's net/url lets through unescaped in a host. */
const HOST_CHAR = /^[A-Za-z0-9\-._~!$&'()*+,;=:[\]<>"]$/;

type RawParse = { ok: true; scheme: string; authority: string | null; path: string; query: string; fragment: string } | { ok: false; reason: string };

/** The part of Go's url.Parse that matters for etcd's URL flags. */
function goUrlParse(raw: string): RawParse {
  if (/[\x00-\x1f\x7f]/.test(raw)) return { ok: false, reason: 'net/url: invalid control character in URL' };
  const hash = raw.indexOf('#');
  const fragment = hash >= 0 ? raw.slice(hash + 1) : '';
  let rest = hash >= 0 ? raw.slice(0, hash) : raw;
  const schemeEnd = findSchemeEnd(rest);
  if (schemeEnd === 0) return { ok: false, reason: 'missing protocol scheme' };
  const scheme = schemeEnd > 0 ? rest.slice(0, schemeEnd).toLowerCase() : '';
  if (schemeEnd > 0) rest = rest.slice(schemeEnd + 1);
  let query = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    query = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  if (!rest.startsWith('/')) {
    if (scheme !== '') return { ok: true, scheme, authority: null, path: '', query, fragment };
    const firstSegment = rest.split('/')[0]!;
    if (firstSegment.includes(':')) return { ok: false, reason: 'first path segment in URL cannot contain colon' };
    return { ok: true, scheme, authority: null, path: rest, query, fragment };
  }
  if (!rest.startsWith('//') || (scheme === '' && rest.startsWith('///'))) {
    return { ok: true, scheme, authority: null, path: rest, query, fragment };
  }
  const slash = rest.indexOf('/', 2);
  const authority = slash >= 0 ? rest.slice(2, slash) : rest.slice(2);
  const path = slash >= 0 ? rest.slice(slash) : '';
  const hostErr = checkAuthority(authority);
  if (hostErr !== undefined) return { ok: false, reason: hostErr };
  return { ok: true, scheme, authority, path, query, fragment };
}

/** Index of the ':' ending a scheme, -1 when the text has no scheme, 0 when it starts with ':'. */
function findSchemeEnd(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (/[A-Za-z]/.test(c)) continue;
    if (/[0-9+\-.]/.test(c)) {
      if (i === 0) return -1;
      continue;
    }
    if (c === ':') return i;
    return -1;
  }
  return -1;
}

function checkAuthority(authority: string): string | undefined {
  const at = authority.lastIndexOf('@');
  const host = at >= 0 ? authority.slice(at + 1) : authority;
  let portPart = '';
  if (host.startsWith('[')) {
    const close = host.lastIndexOf(']');
    if (close < 0) return "missing ']' in host";
    portPart = host.slice(close + 1);
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0) portPart = host.slice(colon);
  }
  if (portPart !== '' && !/^:[0-9]*$/.test(portPart)) return `invalid port ${goQuote(portPart)} after host`;
  for (let i = 0; i < host.length; i++) {
    const c = host[i]!;
    if (c === '%') {
      if (!/^[0-9A-Fa-f]{2}$/.test(host.slice(i + 1, i + 3))) {
        return `invalid URL escape ${goQuote(host.slice(i, i + 3))}`;
      }
      continue;
    }
    if (c.charCodeAt(0) < 0x80 && !HOST_CHAR.test(c)) return `invalid character ${goQuote(c)} in host name`;
  }
  return undefined;
}

/** net.SplitHostPort; undefined when the text is not host:port. */
export function splitHostPort(hostport: string): { host: string; port: string } | undefined {
  const colon = hostport.lastIndexOf(':');
  if (colon < 0) return undefined;
  let host: string;
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    if (end < 0 || end + 1 !== colon) return undefined;
    host = hostport.slice(1, end);
  } else {
    host = hostport.slice(0, colon);
    if (host.includes(':')) return undefined;
  }
  const afterOpen = hostport.startsWith('[') ? hostport.slice(1) : hostport;
  if (afterOpen.includes('[')) return undefined;
  const closeAt = hostport.startsWith('[') ? hostport.indexOf(']') + 1 : 0;
  if (hostport.slice(closeAt).includes(']')) return undefined;
  return { host, port: hostport.slice(colon + 1) };
}

/** One URL as etcd's types.NewURLs checks it (the input is trimmed first). */
export function parseEtcdUrl(input: string): UrlResult {
  const text = input.trim();
  const p = goUrlParse(text);
  if (!p.ok) return { ok: false, message: `parse ${goQuote(text)}: ${p.reason}` };
  if (!SCHEMES.has(p.scheme)) {
    return { ok: false, message: `URL scheme must be http, https, unix, or unixs: ${text}` };
  }
  const authority = p.authority ?? '';
  const at = authority.lastIndexOf('@');
  const host = at >= 0 ? authority.slice(at + 1) : authority;
  const hp = splitHostPort(host);
  if (hp === undefined) return { ok: false, message: `URL address does not have the form "host:port": ${text}` };
  if (p.path !== '') return { ok: false, message: `URL must not contain a path: ${text}` };
  let printed = `${p.scheme}://${authority}`;
  if (p.query !== '' || text.includes('?')) printed += `?${p.query}`;
  if (p.fragment !== '') printed += `#${p.fragment}`;
  // Go took it, but the server works with WHATWG URLs. An empty http(s) host
  // passes here because etcd's own validation rejects it with a better message.
  const emptyWebHost = hp.host === '' && !p.scheme.startsWith('unix');
  if (!emptyWebHost && !URL.canParse(printed)) return { ok: false, message: `parse ${goQuote(text)}: invalid URL` };
  return { ok: true, url: { scheme: p.scheme, host, hostname: hp.host, port: hp.port, text: printed } };
}

/** A comma-separated list, as etcd's URL flags take it; sorted like etcd sorts it. */
export function parseEtcdUrlList(text: string): UrlListResult {
  const urls: GoUrl[] = [];
  for (const part of text.split(',')) {
    const r = parseEtcdUrl(part);
    if (!r.ok) return r;
    urls.push(r.url);
  }
  urls.sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
  return { ok: true, urls };
}

/** The WHATWG URL for a URL etcd accepted. */
export function toWhatwgUrl(text: string): URL {
  return new URL(text);
}

/**
 * etcd's name=url,name=url parsing (types.NewURLsMap): empty items are skipped,
 * a name may repeat to give a member several URLs, and each member's URLs are
 * checked and sorted. Members keep the order their names first appear in.
 */
export function parseUrlsMap(
  text: string,
): { ok: true; members: Map<string, GoUrl[]> } | { ok: false; message: string } {
  const raw = new Map<string, string[]>();
  for (const item of text.split(',')) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    const name = eq >= 0 ? item.slice(0, eq) : item;
    const value = eq >= 0 ? item.slice(eq + 1) : '';
    const list = raw.get(name) ?? [];
    list.push(value);
    raw.set(name, list);
  }
  const members = new Map<string, GoUrl[]>();
  for (const [name, list] of raw) {
    const r = parseEtcdUrlList(list.join(','));
    if (!r.ok) return r;
    const hostless = r.urls.find((u) => u.hostname === '');
    if (hostless !== undefined) return { ok: false, message: `unexpected empty host (${hostless.text})` };
    members.set(name, r.urls);
  }
  return { ok: true, members };
}

/** types.URLsMap.String(): every name=url pair, sorted. */
export function urlsMapText(members: ReadonlyMap<string, readonly string[]>): string {
  const pairs: string[] = [];
  for (const [name, urls] of members) for (const u of urls) pairs.push(`${name}=${u}`);
  return pairs.sort().join(',');
}

/** etcd's checkBindURLs: listeners need an IP or localhost (unix sockets are exempt). */
export function bindUrlProblem(urls: readonly string[]): string | undefined {
  for (const text of urls) {
    const r = parseEtcdUrl(text);
    if (!r.ok) return r.message;
    const u = r.url;
    if (u.scheme === 'unix' || u.scheme === 'unixs') continue;
    if (u.hostname === 'localhost') continue;
    if (isIP(u.hostname) === 0 || u.hostname.includes('%')) return `expected IP in URL for binding (${u.text})`;
  }
  return undefined;
}

/** etcd's checkHostURLs: advertised URLs need a non-empty host. */
export function hostUrlProblem(urls: readonly string[]): string | undefined {
  for (const text of urls) {
    const r = parseEtcdUrl(text);
    if (!r.ok) return r.message;
    if (r.url.hostname === '') return `unexpected empty host (${r.url.text})`;
  }
  return undefined;
}

/** true when the host is an IP literal, i.e. comparing it needs no DNS. */
export function isIpHost(text: string): boolean {
  const r = parseEtcdUrl(text);
  return r.ok && (isIP(r.url.hostname) !== 0 || r.url.scheme.startsWith('unix'));
}
