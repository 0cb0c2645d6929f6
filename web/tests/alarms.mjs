// Browser tests of the alarm feature (issue 6): Playwright (playwright-core)
// driving Debian's Chromium headless against a real node. Started by
// web/alarm_browser_test.go, which passes WACHE_URL, WACHE_MAIL_DIR,
// WACHE_BIN (the CLI, used by the admin for the alarm policy), WACHE_WORK
// and WACHE_RESULTS (screenshots, logs).
import assert from 'node:assert/strict';
import { D, log, session } from './lib.mjs';

const s = session({ launcher: 'web/alarm_browser_test.go', need: ['WACHE_BIN', 'WACHE_WORK'], prefix: 'alarm-' });
const { URL_, figures, step, until, shot, bridge, mailFiles, newCode } = s;
const ANNA = 'anna.schmidt' + D, BEN = 'ben.mueller' + D, LEIT = 'leitstelle' + D, ADMIN = 'admin' + D;
const PIN = 'wache-pin-1357';
const admin = s.cli('admin', 'admin-cli-pass'); // the alarm policy is set with the CLI
await s.launch();
const person = (label, geo) => s.person(label, { geo, acceptDialogs: true }); // "end the alarm?"
const login = (o, email, deviceName) => s.login(o, email, deviceName, PIN);

// hasText waits until a member's device decrypted a text in a chat (so it
// has joined the conversation's MLS group).
async function hasText(page, conv, text) {
  await until(`"${text}" decrypted`, async () => (await bridge(page, 'messages', conv, {})).some((m) => m.text === text), 60000);
}

await s.main(async () => {
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
}, ['sos-phone', 'sos-active-phone', 'alarm-takeover-phone', 'dispatch-phone', 'priority-phone', 'receipts-phone']);
