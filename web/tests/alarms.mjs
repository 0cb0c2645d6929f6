// Browser tests of the alarm feature (issue 6): Playwright (playwright-core)
// driving Debian's Chromium headless against a real node. Started by
// web/alarm_browser_test.go, which passes WACHE_URL, WACHE_MAIL_DIR,
// WACHE_BIN (the CLI, used by the admin for the alarm policy), WACHE_WORK
// and WACHE_RESULTS (screenshots, logs).
import { chromium } from 'playwright-core';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readdirSync, readFileSync, writeFileSync, mkdirSync, existsSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';

const run = promisify(execFile);
const URL_ = process.env.WACHE_URL;
const MAIL = process.env.WACHE_MAIL_DIR;
const BIN = process.env.WACHE_BIN;
const WORK = process.env.WACHE_WORK;
const OUT = process.env.WACHE_RESULTS || 'test-results';
for (const [k, v] of Object.entries({ WACHE_URL: URL_, WACHE_MAIL_DIR: MAIL, WACHE_BIN: BIN, WACHE_WORK: WORK })) {
  if (!v) throw new Error(`${k} is not set: run through web/alarm_browser_test.go`);
}
mkdirSync(OUT, { recursive: true });

const D = '@polizei.example';
const ANNA = 'anna.schmidt' + D, BEN = 'ben.mueller' + D, LEIT = 'leitstelle' + D, ADMIN = 'admin' + D;
const PIN = 'wache-pin-1357';
const T = 30000;
const PHONE = { width: 375, height: 667 };
const figures = {};

const log = (...a) => console.log(new Date().toISOString().slice(11, 23), ...a);
let stepName = '';
async function step(name, fn) {
  stepName = name;
  log('▶', name);
  const t0 = Date.now();
  await fn();
  log('✓', name, `${Date.now() - t0} ms`);
}

function mailFiles(email) {
  if (!existsSync(MAIL)) return [];
  return readdirSync(MAIL).filter((f) => f.endsWith(`-${email}.eml`)).sort();
}

async function newCode(email, before) {
  const end = Date.now() + T;
  while (Date.now() < end) {
    const files = mailFiles(email);
    if (files.length > before) {
      const m = readFileSync(join(MAIL, files[files.length - 1]), 'utf8').match(/Anmeldecode: (\d{6})/);
      if (m) return m[1];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no login mail for ${email}`);
}

async function admin(...args) {
  const env = { ...process.env, WACHE_SERVER: URL_, WACHE_HOME: join(WORK, 'admin'), WACHE_PASSPHRASE: 'admin-cli-pass' };
  try {
    const { stdout } = await run(BIN, args, { env, timeout: 60000 });
    return stdout;
  } catch (e) {
    throw new Error(`wache ${args.join(' ')}: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

async function until(what, fn, ms = T) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      if (await fn()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? ': ' + last.message : ''}`);
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const pages = [];

async function person(label, geo) {
  const ctx = await browser.newContext({
    viewport: PHONE, locale: 'de-DE', timezoneId: 'Europe/Berlin',
    ...(geo ? { geolocation: geo, permissions: ['geolocation'] } : {}),
  });
  const page = await ctx.newPage();
  page.setDefaultTimeout(T);
  const lines = [];
  page.on('console', (m) => lines.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => { lines.push(`[pageerror] ${e.message}`); log(label, 'page error:', e.message); });
  page.on('dialog', (d) => d.accept()); // "end the alarm?"
  pages.push({ label, page, lines });
  return { ctx, page, label };
}

async function shot(page, name) {
  await page.screenshot({ path: join(OUT, `${name}.png`) });
}

async function login(o, email, deviceName) {
  const { page } = o;
  await page.goto(URL_ + '/');
  await page.waitForSelector('#email', { timeout: 60000 });
  await page.fill('#email', email);
  const before = mailFiles(email).length;
  await page.click('form button[type=submit]');
  const code = await newCode(email, before);
  await page.waitForSelector('#code');
  await page.fill('#code', code);
  await page.fill('#device', deviceName);
  await page.fill('#pin', PIN);
  await page.fill('#pin2', PIN);
  await page.click('form button[type=submit]');
  await page.waitForSelector('.shell', { timeout: 60000 });
}

const bridge = (page, fn, ...args) => page.evaluate(([f, a]) => window.wache[f](...a), [fn, args]);

// hasText waits until a member's device decrypted a text in a chat (so it
// has joined the conversation's MLS group).
async function hasText(page, conv, text) {
  await until(`"${text}" decrypted`, async () => (await bridge(page, 'messages', conv, {})).some((m) => m.text === text), 60000);
}

let failed = false;
try {
  const BEN_AT = { latitude: 52.5163, longitude: 13.3777, accuracy: 15 };
  const A = await person('anna', { latitude: 52.52003, longitude: 13.40495, accuracy: 12 });
  const B = await person('ben', BEN_AT);
  const L = await person('leitstelle');
  let alarmChat = '', dispatchChat = '';

  await step('anna, ben and dispatch sign in; the admin (CLI) too', async () => {
    await Promise.all([login(A, ANNA, 'Browser Anna'), login(B, BEN, 'Browser Ben'), login(L, LEIT, 'Browser Leitstelle')]);
    const before = mailFiles(ADMIN).length;
    await admin('login', ADMIN);
    await admin('login', '--code', await newCode(ADMIN, before), '--device-name', 'CLI admin', ADMIN);
  });

  await step('alarm and dispatch groups; the admin sets the unit\'s alarm policy', async () => {
    alarmChat = (await bridge(A.page, 'createChat', { kind: 'group', name: 'Alarm PI Mitte', members: [BEN, LEIT] })).id;
    dispatchChat = (await bridge(A.page, 'createChat', { kind: 'group', name: 'Leitstelle PI Mitte', members: [BEN, LEIT] })).id;
    await admin('alarms', 'policy', 'set', '--unit', 'PI Mitte', '--alarm-chat', alarmChat, '--dispatch-chat', dispatchChat,
      '--min-coming', '1', '--window', '10m', '--update', '2s');
    await bridge(A.page, 'send', alarmChat, { text: 'Alarmgruppe bereit' });
    await bridge(A.page, 'send', dispatchChat, { text: 'Leitstelle bereit' });
    await Promise.all([hasText(B.page, alarmChat, 'Alarmgruppe bereit'), hasText(B.page, dispatchChat, 'Leitstelle bereit'),
      hasText(L.page, alarmChat, 'Alarmgruppe bereit'), hasText(L.page, dispatchChat, 'Leitstelle bereit')]);
  });

  await step('the SOS button: a short press or a short key hold raises nothing', async () => {
    const { page } = B;
    await page.goto(URL_ + '/#/alarms');
    const btn = page.locator('.sos-panel [data-testid=sos-button]');
    await btn.waitFor();
    assert.match(await btn.getAttribute('aria-label'), /2 Sekunden gedrückt halten/);
    await shot(page, 'sos-phone');
    const box = await btn.boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.waitForTimeout(700);
    await page.mouse.up();
    await btn.focus();
    await page.keyboard.down(' ');
    await page.waitForTimeout(700);
    await page.keyboard.up(' ');
    await page.waitForTimeout(1500);
    assert.equal(await page.locator('[data-testid=own-alarm]').count(), 0, 'no alarm from a short press');
    assert.equal((await bridge(L.page, 'alarms', {})).length, 0, 'the server has no alarm');
  });

  await step('ben holds SOS for 2 s: the alarm goes out with his position', async () => {
    const { page } = B;
    await page.fill('#sos-note', 'Angriff, Hbf Ausgang Nord');
    const btn = page.locator('.sos-panel [data-testid=sos-button]');
    const box = await btn.boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await A.page.evaluate(() => { window.wache.on('alarm', (e) => { if (e.alarm && !window.__alarmAt) window.__alarmAt = Date.now(); }); });
    await page.mouse.down();
    const t0 = Date.now() + 2000; // the hold completes: the app raises the alarm
    await page.waitForTimeout(1000);
    await shot(page, 'sos-holding-phone');
    await page.waitForTimeout(Math.max(0, t0 + 300 - Date.now()));
    await page.mouse.up();
    const seen = A.page.locator('[data-testid=alarm-takeover]').waitFor({ timeout: 60000 }).then(() => Date.now() - t0);
    await page.locator('[data-testid=own-alarm]').waitFor({ timeout: 60000 });
    figures.raised_on_raiser_ms = Date.now() - t0;
    figures.takeover_on_colleague_ms = await seen;
    figures.alarm_event_on_colleague_ms = (await A.page.evaluate(() => window.__alarmAt)) - t0;
    log('SOS: raised', figures.raised_on_raiser_ms, 'ms after the hold; on the colleague\'s phone: alarm event', figures.alarm_event_on_colleague_ms, 'ms, takeover', figures.takeover_on_colleague_ms, 'ms');
    await until('position reported', async () => /live gesendet/.test(await page.locator('[data-testid=own-alarm-geo]').innerText()));
  });

  await step('anna\'s screen is taken over; she answers "Komme" with an ETA', async () => {
    const { page } = A;
    const t = page.locator('[data-testid=alarm-takeover]');
    await t.waitFor({ timeout: 60000 });
    assert.match(await t.innerText(), /Ben Müller braucht Hilfe/);
    await until('note decrypted in the takeover', async () => (await t.innerText()).includes('Angriff, Hbf Ausgang Nord'));
    await t.locator('select').selectOption('10');
    await shot(page, 'alarm-takeover-phone');
    await t.locator('[data-testid=answer-coming]').click();
    await t.waitFor({ state: 'detached' });
  });

  await step('ben sees anna coming; the alarm is acknowledged', async () => {
    const { page } = B;
    await until('anna in the own alarm bar', async () => /Anna Schmidt \(10 min\)/.test(await page.locator('[data-testid=own-alarm-coming]').innerText()), 60000);
    await until('state acknowledged', async () => /bestätigt/.test(await page.locator('[data-testid=own-alarm]').innerText()));
    await shot(page, 'sos-active-phone');
  });

  let alarmId = '';
  await step('dispatch lists the alarm with its position, responders and timeline; the position follows ben', async () => {
    const { page } = L;
    await page.goto(URL_ + '/#/alarms');
    const card = page.locator('[data-testid=alarm-card]').first();
    await card.waitFor({ timeout: 60000 });
    alarmId = await card.getAttribute('data-alarm');
    await until('position on the map', async () => (await card.locator('[data-testid=alarm-position]').innerText()).includes('52.51630, 13.37770'), 60000);
    assert.match(await card.locator('[data-testid=alarm-coming]').innerText(), /Anna Schmidt/);
    const tl = await card.locator('[data-testid=alarm-timeline]').innerText();
    assert.match(tl, /ausgelöst/);
    assert.match(tl, /Antwort/);
    assert.match(await card.innerText(), /Angriff, Hbf Ausgang Nord/);
    await B.ctx.setGeolocation({ latitude: 52.51702, longitude: 13.38911, accuracy: 9 });
    await until('moved position', async () => (await card.locator('[data-testid=alarm-position]').innerText()).includes('52.51702, 13.38911'), 60000);
    await card.evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await shot(page, 'dispatch-phone');
    // Dispatch takes note: with anna's answer both recipients of the SOS
    // in the alarm group have acknowledged it (ben, the sender, sees it).
    await card.locator('[data-testid=alarm-note]').click();
    await card.locator('[data-testid=alarm-noted]').waitFor();
    const env = (await bridge(B.page, 'alarm', alarmId)).alarm.envelopes.find((e) => e.conv_id === alarmChat);
    await until('SOS acknowledged by anna and dispatch', async () => (await bridge(B.page, 'receipts', alarmChat, env.seq, {})).acknowledged === 2);
  });

  let seq = 0;
  await step('dispatch sends an urgent message asking for acknowledgement; ben acknowledges', async () => {
    const { page } = L;
    await page.selectOption('#prio-chat', { label: 'Leitstelle PI Mitte' });
    await page.fill('#prio-text', 'Großlage Innenstadt: bitte quittieren');
    await page.selectOption('#prio-level', 'urgent');
    await page.check('#prio-ack');
    await page.click('[data-testid=prio-form] button[type=submit]');
    const bar = B.page.locator('[data-testid=prio-bar]');
    await bar.waitFor({ timeout: 60000 });
    assert.match(await bar.innerText(), /DRINGEND/);
    assert.match(await bar.innerText(), /Großlage Innenstadt/);
    await shot(B.page, 'priority-phone');
    await bar.locator('[data-testid=ack-button]').click();
    await bar.waitFor({ state: 'detached' });
    const link = page.locator('[data-testid=receipts-link]').first();
    await link.waitFor({ timeout: 60000 });
    seq = Number((await link.getAttribute('href')).split('/').pop());
    await link.click();
    await until('acknowledgement in the receipts', async () => (await page.locator('[data-testid=rc-acknowledged]').innerText()) === '1', 60000);
    assert.equal(await page.locator('[data-testid=rc-recipients]').innerText(), '2');
    const ben = page.locator('[data-testid=rc-member]', { hasText: 'Ben Müller' });
    assert.doesNotMatch(await ben.locator('td').nth(2).innerText(), /—/, 'ben\'s acknowledgement has a time');
    await shot(page, 'receipts-phone');
    const rs = await bridge(page, 'receipts', dispatchChat, seq, {});
    assert.equal(rs.acknowledged, 1);
    assert.equal(rs.priority, 'urgent');
  });

  await step('bad input: answering one\'s own alarm, ending someone else\'s, a forged position', async () => {
    const code = async (p, f, ...a) => p.evaluate(([f, a]) => window.wache[f](...a).then(() => 'ok', (e) => e.code), [f, a]);
    assert.equal(await code(B.page, 'respond', alarmId, 'coming', 60), 'EFORBIDDEN');
    assert.equal(await code(A.page, 'endAlarm', alarmId, { falseAlarm: false }), 'EFORBIDDEN');
    assert.equal(await code(B.page, 'updateSOSPosition', { lat: 91, lon: 6, accuracy_m: 5 }), 'EINVALID');
    assert.equal(await code(A.page, 'respond', alarmId, 'maybe'), 'EINVALID');
    assert.equal(await code(A.page, 'acknowledge', dispatchChat, 0), 'EINVALID');
    assert.equal(await code(B.page, 'receipts', dispatchChat, seq, {}), 'EFORBIDDEN');
    // A second press while the alarm runs gives the same alarm back.
    const again = await bridge(B.page, 'sos', {});
    assert.equal(again.alarm.id, alarmId);
    assert.ok(again.alarm.duplicate);
  });

  await step('push: the server key is offered; the settings have the toggle', async () => {
    const key = await bridge(B.page, 'pushKey');
    assert.match(key, /^[A-Za-z0-9_-]{80,}$/);
    await B.page.goto(URL_ + '/#/settings');
    await B.page.locator('[data-testid=push-toggle] input[type=checkbox]').waitFor();
  });

  await step('ben ends the alarm; dispatch sees no active alarm, the live position ends', async () => {
    const { page } = B;
    await page.goto(URL_ + '/#/alarms');
    await page.locator('[data-testid=own-alarm-end]').click();
    await page.locator('[data-testid=own-alarm]').waitFor({ state: 'detached', timeout: 60000 });
    await L.page.goto(URL_ + '/#/alarms');
    await L.page.locator('[data-testid=no-alarms]').waitFor({ timeout: 60000 });
    const ended = await bridge(L.page, 'alarm', alarmId);
    assert.equal(ended.alarm.state, 'ended');
    await until('live stop decrypted by dispatch', async () => (await bridge(L.page, 'alarm', alarmId)).content?.stopped === true, 60000);
  });
} catch (e) {
  failed = true;
  console.error(`FAILED in step "${stepName}": ${e.stack || e}`);
  for (const { label, page } of pages) await page.screenshot({ path: join(OUT, `alarm-failure-${label}.png`) }).catch(() => {});
} finally {
  for (const { label, lines } of pages) writeFileSync(join(OUT, `alarm-console-${label}.log`), lines.join('\n'));
  writeFileSync(join(OUT, 'alarm-measurements.json'), JSON.stringify(figures, null, 2));
  if (!failed && process.env.WACHE_SCREENSHOTS) {
    mkdirSync(process.env.WACHE_SCREENSHOTS, { recursive: true });
    for (const n of ['sos-phone', 'sos-active-phone', 'alarm-takeover-phone', 'dispatch-phone', 'priority-phone', 'receipts-phone']) {
      copyFileSync(join(OUT, `${n}.png`), join(process.env.WACHE_SCREENSHOTS, `${n}.png`));
    }
  }
  await browser.close();
}
process.exit(failed ? 1 : 0);
