// The dashboard in headless Chromium against a real netguardd (run by e2e/run.sh inside the
// sensor namespace): Live loads; an nmap scan's alert appears on the open page within 2 s
// without a reload; a token-less change is refused; a block made on the Forensics page drops
// the attacker's traffic and shows on Blocks with hits, and one click on Forensics lifts it;
// feedback and a model reload go through with the token; Models shows the shipped bundle; Map
// draws the public peer's country from the test .mmdb; no page's cards overflow at a laptop
// (1366x768) or wall-display (2560x1440) size. Screenshots of every page go to $ARTIFACTS.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const run = promisify(execFile);
const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run this through e2e/run.sh)`);
  return v;
};
const BASE = env('BASE_URL');
const TOKEN = env('TOKEN');
const PEER_NS = env('PEER_NS');
const PEER_IF = env('PEER_IF');
const SENSOR_IP = env('SENSOR_IP');
const ATTACKER = env('ATTACKER_IP');
const BYSTANDER = env('BYSTANDER_IP');
const PUBLIC = env('PUBLIC_IP');
const MMDB = process.env.MMDB ?? '';
const NETGUARDD = env('NETGUARDD');
const DAEMON_ARGS = env('DAEMON_ARGS').trim().split('\n');
const STATE = env('STATE');
const ARTIFACTS = env('ARTIFACTS');

const step = (text) => console.log(`[e2e ${new Date().toISOString().slice(11, 23)}] ${text}`);
const shot = (page, name) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

// A web server in the sensor namespace: the attacker's and the bystander's target.
const server = http.createServer((_, res) => res.end('netguard-e2e-ok'));
await new Promise((resolve) => server.listen(0, SENSOR_IP, resolve));
const port = server.address().port;

/** What overflows horizontally: the page itself, or a card (Mantine Paper) whose content is wider than it. */
const overflows = (page) =>
  page.evaluate(() => {
    const found = [];
    const root = document.documentElement;
    if (root.scrollWidth > root.clientWidth + 1) {
      found.push(`the page is ${root.scrollWidth}px wide in a ${root.clientWidth}px window`);
    }
    for (const card of document.querySelectorAll('.mantine-Paper-root')) {
      const right = card.getBoundingClientRect().right;
      if (card.scrollWidth > card.clientWidth + 1 || right > root.clientWidth + 1) {
        const title = card.querySelector('h1, h2, h3, h4, h5, h6, p')?.textContent ?? card.className;
        found.push(
          `card "${title}": content ${card.scrollWidth}px in ${card.clientWidth}px, right edge ${right}px`,
        );
      }
    }
    return found;
  });

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 100 ms until it is true, for at most `ms`; throws `what` otherwise. */
async function until(check, ms, what) {
  for (let waited = 0; waited < ms; waited += 100) {
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${what} within ${ms} ms`);
}

/**
 * Stops the agent (SIGTERM, as systemd does) and starts it again with the same arguments, in this
 * (the sensor's) network namespace; its pid goes to $STATE/daemon.pid for run.sh's cleanup.
 */
async function restartAgent() {
  process.kill(Number(env('DAEMON_PID')), 'SIGTERM');
  const log = path.join(STATE, 'netguardd.log');
  await until(
    async () => fs.readFileSync(log, 'utf8').includes('] stopped;'),
    15000,
    'the agent did not stop',
  );
  const out = fs.openSync(path.join(STATE, 'netguardd-restarted.log'), 'a');
  const child = spawn(NETGUARDD, DAEMON_ARGS, { stdio: ['ignore', out, out] });
  fs.writeFileSync(path.join(STATE, 'daemon.pid'), String(child.pid));
  child.unref();
  await until(
    async () => (await (await fetch(`${BASE}/api/v1/GetStatus`)).json()).interfaces[0]?.tcEgress === true,
    20000,
    'the restarted agent did not serve its status with the interface attached',
  );
}

/** Resolves when both live streams of the Live page are open. */
const streamsLive = (page) =>
  page.waitForFunction(
    () =>
      [...document.querySelectorAll('[data-testid=stream-state]')].filter((e) => e.textContent === 'live')
        .length === 2,
  );

/** nmap SYN scan of the sensor from `source` in the peer namespace. */
const scanFrom = (source) =>
  run('ip', [
    'netns',
    'exec',
    PEER_NS,
    'timeout',
    '30',
    'nmap',
    '-sS',
    '-Pn',
    '-n',
    '-p',
    '1-200',
    '--max-retries',
    '0',
    '-S',
    source,
    '-e',
    PEER_IF,
    SENSOR_IP,
  ]);

/** curl from `source` in the peer namespace; true when the page came back. */
async function reaches(source) {
  try {
    const { stdout } = await run('ip', [
      'netns',
      'exec',
      PEER_NS,
      'curl',
      '-s',
      '--noproxy',
      '*',
      '--interface',
      source,
      '--connect-timeout',
      '2',
      '--max-time',
      '4',
      `http://${SENSOR_IP}:${port}/`,
    ]);
    return stdout === 'netguard-e2e-ok';
  } catch {
    return false;
  }
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu'],
});
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.setDefaultTimeout(15000);
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  step('Live page loads');
  await page.goto(`${BASE}/live`);
  await page.getByTestId('live-page').waitFor();
  await page.getByTestId('kpi-packets').waitFor();
  await page.getByTestId('capture-table').getByText('ebpf').waitFor();
  // Both live streams are open before the scan starts.
  await streamsLive(page);
  assert.ok(await reaches(BYSTANDER), 'the bystander reaches the sensor before any block');
  assert.ok(await reaches(ATTACKER), 'the attacker reaches the sensor before the block');

  step('nmap scan from the attacker; its alert must appear on the open page');
  const scan = await scanFrom(ATTACKER);
  const scanned = Date.now();
  const row = page.getByTestId('live-alert').filter({ hasText: 'PortScan' }).filter({ hasText: ATTACKER });
  await row
    .first()
    .waitFor({ timeout: 2000 })
    .catch(async (e) => {
      await shot(page, 'live-failed');
      throw new Error(
        `no PortScan alert from ${ATTACKER} on the Live page within 2 s of nmap's end: ${e}\n${scan.stdout}`,
      );
    });
  step(`alert visible ${Date.now() - scanned} ms after nmap ended (no reload)`);
  await row.first().getByText('T1046').waitFor();
  // The KPIs saw the scan: alerts in the last minute (the per-second rates are back to 0 by now).
  const kpiAbove0 = (id) =>
    page.waitForFunction((t) => {
      const v = document.querySelector(`[data-testid=${t}-value]`)?.textContent ?? '0';
      return v !== '0' && v !== '';
    }, id);
  await kpiAbove0('kpi-alerts');
  await page.waitForTimeout(1500); // a few samples for the charts
  await shot(page, 'live');

  step('Alerts page: list, detail with evidence and MITRE link');
  await page.goto(`${BASE}/alerts`);
  // The rule's alert (the shipped model raises its own PortScan alert too, with feature evidence).
  await page.getByTestId('alert-search').fill('rule.port_scan');
  await page.getByTestId('alert-row').filter({ hasText: ATTACKER }).first().click();
  const detail = page.getByTestId('alert-detail');
  await detail.getByText('Network Service Discovery').waitFor();
  assert.equal(
    await detail.getByRole('link', { name: 'T1046' }).getAttribute('href'),
    'https://attack.mitre.org/techniques/T1046/',
  );
  await detail.getByTestId('evidence').getByText('distinct_targets').waitFor();
  await shot(page, 'alerts');

  step('a change without the token is refused');
  await detail.getByTestId('ack').click();
  await detail.getByTestId('action-error').getByText(/token/i).waitFor();
  const refused = await page.evaluate(async (ip) => {
    const r = await fetch('/api/v1/Block', { method: 'POST', body: JSON.stringify({ prefix: ip }) });
    return { status: r.status, body: await r.json() };
  }, ATTACKER);
  assert.equal(refused.status, 401, JSON.stringify(refused));
  assert.equal(refused.body.status, 'UNAUTHENTICATED');
  assert.ok(await reaches(ATTACKER), 'the refused block must not block');

  step('Forensics: block the attacker from the page (with the token)');
  await page.goto(`${BASE}/forensics/${ATTACKER}`);
  await page.getByTestId('timeline').waitFor();
  // The agent's reputation of the scanner (GetIp): a score above zero.
  assert.ok(Number(await page.getByTestId('reputation-value').textContent()) > 0, 'no reputation score');
  await page.getByTestId('block-button').click();
  await page.getByTestId('action-message').getByText(/token/i).waitFor();
  await page.getByTestId('token-button').click();
  await page.getByTestId('token-input').fill(TOKEN);
  await page.getByTestId('token-save').click();
  await page.getByTestId('block-button').click();
  await page.getByTestId('blocked-badge').waitFor();
  await shot(page, 'forensics');
  assert.equal(await reaches(ATTACKER), false, 'the blocked attacker still reaches the sensor');
  assert.ok(await reaches(BYSTANDER), 'the bystander must still reach the sensor');

  step('Blocks: the entry, its TTL and live hit counter');
  await page.goto(`${BASE}/blocks`);
  const block = page.getByTestId('block-row').filter({ hasText: `${ATTACKER}/32` });
  await block.waitFor();
  await block.getByText('blocked from the dashboard').waitFor(); // the reason
  await block
    .getByTestId('ttl')
    .getByText(/59m|1h/)
    .waitFor();
  await page.waitForFunction((ip) => {
    const r = [...document.querySelectorAll('[data-testid=block-row]')].find((e) =>
      e.textContent.includes(ip),
    );
    return r && !/^0 pkts/.test(r.querySelector('[data-testid=hits]').textContent);
  }, `${ATTACKER}/32`);
  await shot(page, 'blocks');
  await page.goto(`${BASE}/live`);
  await kpiAbove0('kpi-blocked'); // the Live page counts the dropped packets too

  step('Alerts: true-positive feedback with the token');
  await page.goto(`${BASE}/alerts`);
  await page.getByTestId('alert-search').fill('rule.port_scan');
  await page.getByTestId('alert-row').filter({ hasText: ATTACKER }).first().click();
  await page.getByTestId('feedback-tp').click();
  await page.waitForFunction(
    () => document.querySelector('[data-testid=feedback-tp]')?.getAttribute('aria-pressed') === 'true',
  );
  const stored = await page.evaluate(async (ip) => {
    const r = await fetch(`/api/v1/ListAlerts?address=${ip}&pageSize=200`);
    return (await r.json()).alerts.filter((a) => a.feedback === 'FEEDBACK_TRUE_POSITIVE').length;
  }, ATTACKER);
  assert.ok(stored >= 1, 'the feedback did not reach the store');

  step('Models: the active bundle (the shipped models/default)');
  await page.goto(`${BASE}/models`);
  await page.getByTestId('model-name').waitFor();
  assert.match(await page.getByTestId('model-name').textContent(), /default/);
  assert.equal(await page.getByTestId('error-state').count(), 0, 'the Models page shows an error');
  await page.getByTestId('confusion').waitFor();
  await page.getByText('Feature importances (top 15)').waitFor();
  assert.equal(await page.locator('.recharts-bar-rectangle').count(), 15, 'importance bars');
  await shot(page, 'models');
  await page.getByTestId('reload-model').click();
  await page
    .getByTestId('reload-message')
    .getByText(/Reloaded .*default/)
    .waitFor();

  step("Map: the public peer's country from the test .mmdb, private ranges as local");
  assert.ok(await reaches(PUBLIC), `${PUBLIC} reaches the sensor`);
  await page.goto(`${BASE}/map`);
  await page.getByTestId('world-map').waitFor();
  await page.getByTestId('country-pairs').getByText('local').first().waitFor();
  if (MMDB) {
    assert.match(await page.getByTestId('geoip-database').textContent(), /test-country\.mmdb/);
    // The flow is stored when it ends (FIN, or the 2 s idle timeout); the map reloads by itself.
    await page
      .getByTestId('country-pairs')
      .getByRole('row')
      .filter({ hasText: 'Japan' })
      .filter({ hasText: 'local' })
      .first()
      .waitFor({ timeout: 20000 });
  } else {
    step('skipped: no test .mmdb (libmaxmind-db-writer-perl), so no public country to check');
  }
  await shot(page, 'map');

  step('the agent restarts: the open Live page reconnects its streams by itself (no reload)');
  await page.goto(`${BASE}/live`);
  await streamsLive(page);
  await page.evaluate(() => {
    window.sameDocument = true;
  });
  const dropped = page.waitForFunction(() =>
    [...document.querySelectorAll('[data-testid=stream-state]')].some((e) => e.textContent !== 'live'),
  );
  await restartAgent();
  await dropped;
  await streamsLive(page);
  await scanFrom(BYSTANDER);
  const afterRestart = Date.now();
  await page
    .getByTestId('live-alert')
    .filter({ hasText: 'PortScan' })
    .filter({ hasText: BYSTANDER })
    .first()
    .waitFor({ timeout: 2000 });
  step(`the new alert is on the page ${Date.now() - afterRestart} ms after nmap ended`);
  assert.equal(await page.evaluate(() => window.sameDocument), true, 'the page was reloaded');

  step('Wall layout');
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.goto(`${BASE}/live`);
  await page.getByText('Wall').click();
  await page.getByTestId('live-alert').filter({ hasText: ATTACKER }).first().waitFor();
  await shot(page, 'live-wall-switch');
  const overflowing = [];
  for (const [size, viewport, wall] of [
    ['laptop', { width: 1366, height: 768 }, '0'],
    ['wall', { width: 2560, height: 1440 }, '1'],
  ]) {
    step(`no card overflows at ${size} size (${viewport.width}x${viewport.height})`);
    await page.setViewportSize(viewport);
    for (const [name, url, ready] of [
      ['live', '/live', 'live-alert'],
      ['alerts', '/alerts', 'alert-row'],
      ['forensics', `/forensics/${ATTACKER}`, 'timeline'],
      ['blocks', '/blocks', 'blocks-page'],
      ['models', '/models', 'confusion'],
      ['map', '/map', 'country-pairs'],
    ]) {
      await page.goto(`${BASE}${url}?wall=${wall}`);
      await page.getByTestId(ready).first().waitFor();
      await page.waitForTimeout(500); // charts take their size
      await shot(page, `${name}-${size}`);
      overflowing.push(...(await overflows(page)).map((o) => `${name} at ${size} size: ${o}`));
    }
  }
  assert.deepEqual(overflowing, [], 'cards overflow');

  step('Forensics: one-click unblock lets the attacker back in');
  await page.goto(`${BASE}/forensics/${ATTACKER}`);
  await page.getByTestId('unblock-button').click();
  await page.getByTestId('block-button').waitFor();
  assert.ok(await reaches(ATTACKER), 'the unblocked attacker must reach the sensor again');

  assert.deepEqual(consoleErrors, [], 'uncaught errors in the page');
  step('all checks passed');
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);
