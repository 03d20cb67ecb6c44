// The dashboard in headless Chromium against a real netguardd (run by e2e/run.sh inside the
// sensor namespace): Live loads; an nmap scan's alert appears on the open page within 2 s
// without a reload; a token-less change is refused; a block made on the Forensics page drops
// the attacker's traffic and shows on Blocks with hits; Models shows the shipped bundle;
// Map draws. Screenshots of every page go to $ARTIFACTS.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
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
const ARTIFACTS = env('ARTIFACTS');

const step = (text) => console.log(`[e2e ${new Date().toISOString().slice(11, 23)}] ${text}`);
const shot = (page, name) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

// A web server in the sensor namespace: the attacker's and the bystander's target.
const server = http.createServer((_, res) => res.end('netguard-e2e-ok'));
await new Promise((resolve) => server.listen(0, SENSOR_IP, resolve));
const port = server.address().port;

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
  await page.waitForFunction(
    () =>
      [...document.querySelectorAll('[data-testid=stream-state]')].filter((e) => e.textContent === 'live')
        .length === 2,
  );
  assert.ok(await reaches(BYSTANDER), 'the bystander reaches the sensor before any block');
  assert.ok(await reaches(ATTACKER), 'the attacker reaches the sensor before the block');

  step('nmap scan from the attacker; its alert must appear on the open page');
  const scan = await run('ip', [
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
    ATTACKER,
    '-e',
    PEER_IF,
    SENSOR_IP,
  ]);
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

  step('Models: the active bundle (the shipped models/default)');
  await page.goto(`${BASE}/models`);
  await page.getByTestId('model-name').waitFor();
  assert.match(await page.getByTestId('model-name').textContent(), /default/);
  assert.equal(await page.getByTestId('error-state').count(), 0, 'the Models page shows an error');
  await shot(page, 'models');

  step('Map');
  await page.goto(`${BASE}/map`);
  await page.getByTestId('world-map').waitFor();
  await page.getByTestId('country-pairs').getByText('local').first().waitFor();
  await shot(page, 'map');

  step('Wall layout');
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.goto(`${BASE}/live`);
  await page.getByText('Wall').click();
  await page.getByTestId('live-alert').filter({ hasText: ATTACKER }).first().waitFor();
  await shot(page, 'live-wall');
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
