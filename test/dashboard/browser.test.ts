// The web dashboard in a real headless Chromium (Debian's, driven by puppeteer-core)
// against a 3-member cluster with auth enabled: without credentials the API refuses and
// the page asks for a login; after logging in with the keyboard, keys are browsed and
// edited (etcdctl sees the edits), a watch shows an etcdctl put as it happens, move-leader
// changes the leader the Cluster view shows, and the downloaded snapshot passes
// `etcdctl snapshot status`. The Cluster view has every member's raft status (asked over
// the peer port) and shows a stopped member as unreachable. A read-only user gets views
// without put/delete/maintenance controls, and the member refuses its writes anyway.
// Every form control has a label, and the views fit a phone as well as 1280×800. Screenshots go to dist/test-output/dashboard (or
// $TSETCD_TEST_OUTPUT_DIR/dashboard). Skips, saying why, without Chromium or etcdctl.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import puppeteer, { type Browser, type ElementHandle, type Page } from 'puppeteer-core';
import { Cluster, eventually } from '../e2e/cluster.js';
import { etcdctl, freePort, haveBinary, REPO_ROOT } from '../e2e/harness.js';

const CHROMIUM_CANDIDATES = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => !!p);
const chromium = CHROMIUM_CANDIDATES.find((p) => fs.existsSync(p));
const skip = !chromium ? `no Chromium at ${CHROMIUM_CANDIDATES.join(', ')} (apt-get install chromium)` : !haveBinary('etcdctl') ? 'etcdctl is not installed' : false;
if (skip) console.log(`# skipping the dashboard browser test: ${skip}`);

// page-side callbacks run in the browser; the test build has no DOM typings
declare const document: any; // eslint-disable-line @typescript-eslint/no-explicit-any
declare const window: any; // eslint-disable-line @typescript-eslint/no-explicit-any

const OUT_DIR = path.join(process.env['TSETCD_TEST_OUTPUT_DIR'] ?? path.join(REPO_ROOT, 'dist/test-output'), 'dashboard');
const ROOT = '--user=root:rootpw';
const WAIT_MS = 30_000;

test('dashboard in a browser: login, keys, watch, move-leader, snapshot, refusal, a11y, phone', { skip, timeout: 300_000 }, async (t) => {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const dashboardPorts = new Map<string, number>();
  for (const name of ['m1', 'm2', 'm3']) dashboardPorts.set(name, await freePort());
  // --metrics=extensive: the Metrics view's latency chart reads the gRPC handling histogram
  const cluster = await Cluster.start({ extraArgs: ['--metrics=extensive'], memberArgs: (m) => [`--listen-dashboard-urls=http://127.0.0.1:${dashboardPorts.get(m.name)}`] });
  let browser: Browser | undefined;
  try {
    const leader = await cluster.waitLeader();
    const ep = leader.clientUrl;
    for (const args of [['user', 'add', 'root:rootpw'], ['auth', 'enable']]) assertOk(await etcdctl(ep, args), args);
    const base = `http://127.0.0.1:${dashboardPorts.get(leader.name)}`;

    // without credentials: the API refuses and nothing leaks
    assert.equal((await fetch(`${base}/api/snapshot`)).status, 401, 'snapshot download refused without credentials');
    const range = await fetch(`${base}/api/v3/kv/range`, { method: 'POST', headers: { 'X-Tsetcd-Dashboard': '1' }, body: '{"key":"YQ=="}' });
    assert.equal(range.status, 401, 'key reads refused without credentials');
    assert.equal((await fetch(`${base}/api/metrics`)).status, 401, 'metrics refused without credentials');
    const forged = await fetch(`${base}/api/v3/kv/put`, { method: 'POST', body: '{"key":"YQ==","value":"Yg=="}' });
    assert.equal(forged.status, 403, 'a state-changing call without the dashboard header (a cross-site form) is refused');

    browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    const page = await browser.newPage();
    page.setDefaultTimeout(WAIT_MS);
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('dialog', (d) => void d.accept());
    await page.setViewport({ width: 1280, height: 800 });

    await t.test('asks for a login, and a wrong password is refused', async () => {
      await page.goto(`${base}/#/keys/app/`);
      await page.waitForSelector('form[aria-label="Log in"]');
      await shot(page, 'login');
      await assertLabelled(page);
      await page.type('input[name=name]', 'root');
      await page.type('input[name=password]', 'wrong');
      await page.keyboard.press('Enter');
      const alert = await page.waitForSelector('[role=alert]');
      assert.match(String(await alert!.evaluate((e) => e.textContent)), /authentication failed/);
    });

    await t.test('logs in with the keyboard alone', async () => {
      await page.reload();
      await page.waitForSelector('form[aria-label="Log in"]');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('name')), 'name', 'Tab reaches the user name first');
      await page.keyboard.type('root');
      await page.keyboard.press('Tab');
      await page.keyboard.type('rootpw');
      await page.keyboard.press('Enter');
      await page.waitForSelector('nav[aria-label=Views]');
      assert.match(await text(page, 'header'), /root \(root\)/);
    });

    await t.test('browses the key tree and edits keys, as etcdctl sees them', async () => {
      assertOk(await etcdctl(ep, [ROOT, 'put', 'app/config/db', '{"host":"x","port":5432}']), ['put']);
      assertOk(await etcdctl(ep, [ROOT, 'put', 'app/name', 'hello']), ['put']);
      await page.goto(`${base}/#/keys/app/`);
      await page.reload();
      await waitText(page, 'nav[aria-label="Key tree"]', /config\/ \(1\)/);
      await clickByText(page, 'nav[aria-label="Key tree"] button', 'name');
      await waitText(page, 'pre[aria-label=Value]', /^hello$/);
      await page.click('nav[aria-label="Key tree"] a[href="#/keys/app%2Fconfig%2F"]');
      await clickByText(page, 'nav[aria-label="Key tree"] button', 'db');
      await page.select('select', 'json');
      await waitText(page, 'pre[aria-label=Value]', /"port": 5432/);
      await shot(page, 'keys');
      await assertLabelled(page);

      await page.goto(`${base}/#/keys/app/`);
      await setField(page, 'form[aria-label="Put a key"] input[name=key]', 'app/edited');
      await setField(page, 'form[aria-label="Put a key"] textarea[name=value]', 'from the browser');
      await page.click('form[aria-label="Put a key"] button[type=submit]');
      await waitText(page, '[role=status]', /Put app\/edited/);
      assert.equal((await etcdctl(ep, [ROOT, 'get', 'app/edited', '--print-value-only'])).stdout, 'from the browser\n');

      await clickByText(page, 'nav[aria-label="Key tree"] button', 'name');
      await clickByText(page, 'section[aria-label="Key app/name"] button', 'Delete');
      await waitText(page, '[role=status]', /Deleted app\/name/);
      assert.equal((await etcdctl(ep, [ROOT, 'get', 'app/name'])).stdout, '', 'the key is gone for etcdctl too');
    });

    await t.test('shows an etcdctl put in the watch view as it happens', async () => {
      await page.goto(`${base}/#/watch/app/`);
      await page.reload();
      await waitText(page, '[role=status]', /Watching “app\/” from revision/);
      // the view has no polling: an event can only appear because the member pushed it
      const putDoneMs = Date.now();
      assertOk(await etcdctl(ep, [ROOT, 'put', 'app/live', 'v1']), ['put']);
      await waitText(page, 'ol[aria-label="Watch events"]', /PUT app\/live = v1/);
      t.diagnostic(`watch event shown ${Date.now() - putDoneMs} ms after etcdctl put started`);
      await shot(page, 'watch');
      await assertLabelled(page);
    });

    await t.test('moves the leader and the Cluster view follows', async () => {
      const oldLeaderId = leader.id;
      await page.goto(`${base}/#/cluster`);
      await page.reload();
      await waitText(page, '#leader-id', new RegExp(`^${oldLeaderId}$`));
      // every member's own raft status, not just this member's
      await page.waitForFunction(() => document.querySelectorAll('table[aria-label=Members] tbody tr').length === 3);
      const rows = await page.$$eval('table[aria-label=Members] tbody tr', (trs: any[]) => trs.map((tr) => [...tr.cells].map((c: any) => c.innerText)));
      for (const cells of rows) {
        assert.match(cells[3], /^\d+$/, `raft term of ${cells[1]}: ${cells.join(' | ')}`);
        assert.match(cells[4], /^\d+$/, 'raft index');
        assert.match(cells[6], /\d( kB| MB| B)$/, 'db size');
        assert.match(cells[8], /^3\.\d+\.\d+$/, 'version');
      }
      assert.equal(new Set(rows.map((c) => c[3])).size, 1, 'one term across the members');
      await shot(page, 'cluster');
      await page.goto(`${base}/#/maintenance`);
      const target = await page.waitForFunction(() => document.querySelectorAll('select option[value]:not([value=""])').length >= 2 && document.querySelector('select option:not([value=""])').value);
      const targetId = BigInt(String(await target.jsonValue())).toString(16);
      await page.select('select', String(await target.jsonValue()));
      await clickByText(page, 'button', 'Move leader');
      await waitText(page, '[role=status]', /Leadership moved to/);
      await shot(page, 'maintenance');
      await assertLabelled(page);
      await page.goto(`${base}/#/cluster`);
      await waitText(page, '#leader-id', new RegExp(`^${targetId}$`));
      await waitText(page, 'ol[aria-label="Leader timeline"]', new RegExp(`${targetId}`));
      const newLeader = await cluster.waitLeader();
      assert.equal(newLeader.id, targetId, 'the cluster agrees the leader moved');
    });

    await t.test('downloads a snapshot that etcdctl snapshot status accepts', async () => {
      const downloads = fs.mkdtempSync(path.join(cluster.tmpDir, 'downloads-'));
      const cdp = await page.createCDPSession();
      await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
      await page.goto(`${base}/#/maintenance`);
      await clickByText(page, 'button', 'Download snapshot');
      await waitText(page, '[role=status]', /Snapshot downloaded/);
      const file = path.join(downloads, 'snapshot.db');
      await eventually('the download is written', WAIT_MS, async () => (fs.existsSync(file) ? true : undefined));
      const status = await etcdctl(ep, ['snapshot', 'status', file, '-w', 'json']);
      assertOk(status, ['snapshot', 'status']);
      assert.ok(JSON.parse(status.stdout).totalKey > 0, `snapshot status: ${status.stdout}`);
    });

    await t.test('the other views render for root', async () => {
      const lease = await etcdctl(ep, [ROOT, 'lease', 'grant', '600']);
      const leaseId = /lease ([0-9a-f]+) granted/.exec(lease.stdout)?.[1];
      assert.ok(leaseId, lease.stdout + lease.stderr);
      assertOk(await etcdctl(ep, [ROOT, 'put', 'app/leased', 'x', `--lease=${leaseId}`]), ['put']);
      await page.goto(`${base}/#/leases`);
      await clickByText(page, 'button', leaseId);
      await waitText(page, `dl[aria-label="Lease ${leaseId}"]`, /app\/leased/);
      await shot(page, 'leases');
      await page.goto(`${base}/#/auth`);
      await waitText(page, 'table[aria-label=Users]', /root/);
      await shot(page, 'users');
      await assertLabelled(page);
      await page.goto(`${base}/#/metrics`);
      await page.waitForSelector('figure.chart canvas');
      await waitText(page, 'main', /Leader changes seen: \d+/);
      await page.waitForSelector('figure[aria-label="Request latency, unary gRPC (ms)"] canvas');
      assert.doesNotMatch(await text(page, 'main'), /needs the member started with --metrics=extensive/, 'the handling histogram is there');
      await shot(page, 'metrics');
    });

    await t.test('fits a phone-sized viewport', async () => {
      await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true });
      for (const view of ['cluster', 'keys/app/', 'watch/app/', 'metrics', 'maintenance']) {
        await page.goto(`${base}/#/${view}`);
        await page.reload();
        await page.waitForSelector('main#view h1');
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 0, `#/${view} is ${overflow}px wider than the phone screen`);
        await shot(page, `phone-${view.replace(/\W+/g, '-').replace(/-$/, '')}`);
      }
      await page.setViewport({ width: 1280, height: 800 });
    });

    await t.test('after logging out, the member refuses again', async () => {
      await page.goto(`${base}/#/cluster`);
      await clickByText(page, 'header button', 'Log out');
      await page.waitForSelector('form[aria-label="Log in"]');
      const status = await page.evaluate(async () => (await fetch('/api/v3/maintenance/status', { method: 'POST', headers: { 'X-Tsetcd-Dashboard': '1' }, body: '{}' })).status);
      assert.equal(status, 401);
    });
    await t.test('a read-only user sees read-only views, and the member refuses its writes anyway', async () => {
      for (const args of [
        ['user', 'add', 'reader:readpw'],
        ['role', 'add', 'ro'],
        ['role', 'grant-permission', 'ro', 'read', 'app/', '--prefix'],
        ['user', 'grant-role', 'reader', 'ro'],
      ]) {
        assertOk(await etcdctl(ep, [ROOT, ...args]), args);
      }
      await page.goto(`${base}/#/keys/app/`);
      await page.reload();
      await page.waitForSelector('form[aria-label="Log in"]');
      await page.type('input[name=name]', 'reader');
      await page.type('input[name=password]', 'readpw');
      await page.keyboard.press('Enter');
      await page.waitForSelector('nav[aria-label=Views]');
      assert.match(await text(page, 'header'), /reader/);
      assert.doesNotMatch(await text(page, 'header'), /\(root\)/);
      await waitText(page, '[role=note]', /Read-only: reader's roles grant no write permission/);
      assert.equal(await page.$('form[aria-label="Put a key"]'), null, 'no put form');
      await clickByText(page, 'nav[aria-label="Key tree"] button', 'edited');
      await waitText(page, 'pre[aria-label=Value]', /^from the browser$/);
      assert.deepEqual(await page.$$eval('section[aria-label="Key app/edited"] button', (bs: any[]) => bs.map((b) => b.innerText)), [], 'no delete button');
      await shot(page, 'readonly-keys');
      await page.goto(`${base}/#/maintenance`);
      await waitText(page, '[role=note]', /Read-only: snapshot, defragment/);
      assert.deepEqual(await page.$$eval('main#view button, main#view input, main#view select', (els: any[]) => els.map((e) => e.outerHTML)), [], 'no maintenance controls');
      await shot(page, 'readonly-maintenance');
      await page.goto(`${base}/#/auth`);
      await waitText(page, 'table[aria-label=Users]', /reader\s+ro/);
      assert.equal(await page.$('form[aria-label="Add a user"]'), null);

      // what the hidden controls would have sent, sent anyway from the page: refused
      const refused = await page.evaluate(async () => {
        const call = async (path: string, body: unknown) => {
          const res = await fetch(`/api/v3${path}`, { method: 'POST', headers: { 'X-Tsetcd-Dashboard': '1' }, body: JSON.stringify(body) });
          return [res.status, ((await res.json()) as { error?: string }).error];
        };
        return [
          await call('/kv/put', { key: btoa('app/edited'), value: btoa('changed') }),
          await call('/kv/deleterange', { key: btoa('app/edited') }),
          await call('/maintenance/defragment', {}),
          [(await fetch('/api/snapshot')).status, ''],
        ];
      });
      assert.deepEqual(refused, [
        [403, 'etcdserver: permission denied'],
        [403, 'etcdserver: permission denied'],
        [403, 'etcdserver: permission denied'],
        [403, ''],
      ]);
      assert.equal((await etcdctl(ep, [ROOT, 'get', 'app/edited', '--print-value-only'])).stdout, 'from the browser\n', 'nothing changed');
    });

    await t.test('the Cluster view shows a stopped member as unreachable', async () => {
      const victim = cluster.running.find((m) => m.name !== leader.name)!;
      await cluster.stop(victim);
      await page.goto(`${base}/#/cluster`);
      await page.reload();
      await waitText(page, `table[aria-label=Members] tr[data-member="${victim.id}"]`, /unreachable: /);
      const answering = await page.$$eval('table[aria-label=Members] tbody tr:not([data-member="' + victim.id + '"])', (trs: any[]) => trs.map((tr) => tr.cells[3].innerText));
      assert.equal(answering.length, 2);
      for (const term of answering) assert.match(term, /^\d+$/, 'the others still answer');
      await shot(page, 'cluster-member-down');
    });
    assert.deepEqual(pageErrors, [], 'no script errors on the page');
  } finally {
    await browser?.close();
    await cluster.destroy();
  }
});

function assertOk(r: { code: number | null; stdout: string; stderr: string }, args: string[]): void {
  assert.equal(r.code, 0, `etcdctl ${args.join(' ')}: ${r.stderr}${r.stdout}`);
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(OUT_DIR, `${name}.png`) as `${string}.png`, fullPage: true });
}

async function text(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (e) => e.innerText);
}

/** Waits until some element matching selector has text matching re. */
async function waitText(page: Page, selector: string, re: RegExp): Promise<void> {
  try {
    await page.waitForFunction((sel, src, flags) => [...document.querySelectorAll(sel)].some((e) => new RegExp(src, flags).test(e.innerText.trim())), {}, selector, re.source, re.flags);
  } catch (err) {
    const seen = await page.$$eval(selector, (els: any[]) => els.map((e) => e.innerText).join(' | ')).catch(() => '(none)');
    throw new Error(`waiting for ${selector} to show ${re}: saw "${seen}" (${(err as Error).message})`);
  }
}

async function clickByText(page: Page, selector: string, label: string): Promise<void> {
  const handle = await page
    .waitForFunction((sel, want) => [...document.querySelectorAll(sel)].find((e) => e.innerText.trim() === want), {}, selector, label)
    .catch(async (err: Error) => {
      const seen = await page.$eval('main', (e) => e.innerText).catch(() => '(no main)');
      throw new Error(`waiting for ${selector} "${label}": page shows "${seen}" (${err.message})`);
    });
  const element = handle.asElement() as ElementHandle | null;
  assert.ok(element, `${selector} "${label}" is an element`);
  await element.click();
}

async function setField(page: Page, selector: string, value: string): Promise<void> {
  await page.click(selector, { count: 3 });
  await page.keyboard.press('Backspace');
  await page.type(selector, value);
}

/** Every form control on the page has an accessible name (a <label> or aria-label). */
async function assertLabelled(page: Page): Promise<void> {
  const unlabelled = await page.$$eval('input, select, textarea', (els) =>
    els.filter((e) => !(e.labels?.length || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby'))).map((e) => e.outerHTML),
  );
  assert.deepEqual(unlabelled, [], 'form controls without a label');
}
