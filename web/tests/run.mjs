// Browser tests of the Wache app: Playwright (playwright-core) driving
// Debian's Chromium headless against a real node. Started by
// web/browser_test.go, which passes:
//   WACHE_URL       the app (through a proxy the test can cut)
//   WACHE_MAIL_DIR  where the node's file mailer writes login codes
//   WACHE_CONTROL   POST /down and /up: cut and restore the server
//   WACHE_BIN       the wache CLI, a third member of the MLS group
//   WACHE_WORK      scratch directory; WACHE_RESULTS: screenshots, logs, figures
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { D, PHONE, DESKTOP, session } from './lib.mjs';

const s = session({ launcher: 'web/browser_test.go', need: ['WACHE_CONTROL', 'WACHE_BIN', 'WACHE_WORK'] });
const { URL_, figures, step, until, shot, mailFiles, newCode } = s;
const CONTROL = process.env.WACHE_CONTROL;
const WORK = process.env.WACHE_WORK;
const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const ANNA = 'anna.schmidt' + D, BEN = 'ben.mueller' + D, CLARA = 'clara.wagner' + D, DENIZ = 'deniz.yilmaz' + D;
const PIN = 'wache-pin-2468';
const GROUP = 'Streife Nord';

// clara is the third member of the group, on the CLI.
const cli = s.cli('clara', 'clara-cli-pass');

// server cuts (down) and restores (up) the link between app and node.
async function server(state) {
  const r = await fetch(`${CONTROL}/${state}`, { method: 'POST' });
  assert.equal(r.status, 200);
}

// a fake microphone for the voice message test
const browser = await s.launch(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream']);
const officer = (label, geo, viewport = PHONE) => s.person(label, { geo, viewport, permissions: ['geolocation', 'microphone'] });

async function openApp(page) {
  await page.goto(URL_ + '/');
}

const login = (o, email, deviceName) => s.login(o, email, deviceName, PIN, '[data-testid=chat-list], .chatlist .muted');

let chatId = '';
async function openChat(page) {
  await page.evaluate((h) => { location.hash = h; }, `#/chat/${encodeURIComponent(chatId)}`);
  await page.waitForSelector('#composer-text');
}

async function sendText(page, text) {
  await page.fill('#composer-text', text);
  await page.keyboard.press('Enter');
}

const msgWith = (page, text) => page.locator('[data-testid=msg]', { hasText: text }).last();

// unlockAfterLoad waits for the app to start after a reload and enters the
// PIN when it asks for it (keys are only in memory: a reload locks).
async function unlockAfterLoad(page) {
  await page.waitForSelector('#unlock-pin, .shell, #email, [data-testid=corrupt-message]', { timeout: 60000 });
  await unlockIfAsked(page);
  await page.waitForSelector('.shell, #email, [data-testid=corrupt-message]');
}

async function unlockIfAsked(page) {
  const pin = page.locator('#unlock-pin');
  if (await pin.isVisible().catch(() => false)) {
    await pin.fill(PIN);
    await page.keyboard.press('Enter');
  }
}

// scenePhoto draws a street scene (sky, houses, road, a car with a plate)
// and returns it as a large PNG, standing in for a camera photo.
async function scenePhoto() {
  const page = await browser.newPage({ viewport: { width: 2400, height: 1600 } });
  const win = (x, y) => `<rect x="${x}" y="${y}" width="70" height="90" fill="#f3e7a1" stroke="#6b5b3e" stroke-width="6"/>`;
  let houses = '';
  for (let i = 0; i < 5; i++) {
    const x = 80 + i * 460, h = 520 + (i % 3) * 90, c = ['#c9a27e', '#b7c4cf', '#d8c3a5', '#a9b8a0', '#cfb1b1'][i];
    houses += `<rect x="${x}" y="${960 - h}" width="400" height="${h}" fill="${c}"/>`;
    for (let r = 0; r < 3; r++) for (let k = 0; k < 3; k++) houses += win(x + 40 + k * 120, 960 - h + 60 + r * 150);
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="2400" height="1600" viewBox="0 0 2400 1600">
    <defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#6aa9e0"/><stop offset="1" stop-color="#cfe5f7"/></linearGradient></defs>
    <rect width="2400" height="1000" fill="url(#sky)"/><circle cx="2050" cy="200" r="90" fill="#fff3b0"/>
    ${houses}
    <rect y="960" width="2400" height="640" fill="#5d6066"/><rect y="940" width="2400" height="40" fill="#9a9da3"/>
    ${[0, 1, 2, 3, 4, 5].map((i) => `<rect x="${60 + i * 420}" y="1260" width="240" height="24" fill="#f5f5f5"/>`).join('')}
    <g transform="translate(820 1020)">
      <rect x="0" y="120" width="820" height="200" rx="40" fill="#1d5fa8"/><path d="M150 120 L250 20 H560 L680 120 Z" fill="#1d5fa8"/>
      <path d="M190 115 L265 40 H400 V115 Z M420 115 V40 H545 L635 115 Z" fill="#bfdcf5"/>
      <circle cx="200" cy="330" r="80" fill="#222"/><circle cx="640" cy="330" r="80" fill="#222"/>
      <circle cx="200" cy="330" r="35" fill="#999"/><circle cx="640" cy="330" r="35" fill="#999"/>
      <rect x="300" y="230" width="240" height="60" fill="#fff" stroke="#000" stroke-width="4"/>
      <rect x="300" y="230" width="30" height="60" fill="#1f3f99"/>
      <text x="440" y="275" font-family="DejaVu Sans, sans-serif" font-size="40" font-weight="bold" text-anchor="middle">B WA 123</text>
    </g></svg>`;
  await page.setContent(`<html><body style="margin:0">${svg}</body></html>`);
  const png = await page.screenshot({ type: 'png' });
  await page.close();
  return png;
}

// ---- the tests ----

await s.main(async () => {
  const A = await officer('anna', { latitude: 52.52003, longitude: 13.40495, accuracy: 12 });
  const B = await officer('ben', { latitude: 52.5163, longitude: 13.3777, accuracy: 20 });

  await step('cold and warm load: time to interactive, wasm size', async () => {
    // interactive = the bridge answered init() and the first screen is up
    // (performance mark 'wache-interactive'); cold = a fresh profile (no
    // HTTP cache, no service worker), warm = a reload of the same profile
    // (the service worker serves the shell and the compiled wasm from cache).
    const tti = (page) => page.evaluate(() => Math.round(performance.getEntriesByName('wache-interactive')[0]?.startTime ?? -1));
    const fcp = (page) => page.evaluate(() => Math.round(performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1));
    const cold = [], warm = [], paint = [], wasmCold = [], wasmWarm = [];
    const mark = (page, n) => page.evaluate((n) => Math.round(performance.getEntriesByName(n)[0]?.startTime ?? -1), n);
    for (let i = 0; i < 3; i++) {
      const ctx = await browser.newContext({ viewport: PHONE });
      const page = await ctx.newPage();
      await openApp(page);
      await page.waitForSelector('#email', { timeout: 60000 });
      cold.push(await tti(page));
      paint.push(await fcp(page));
      wasmCold.push(await mark(page, 'wache-wasm-instantiated'));
      await page.evaluate(() => navigator.serviceWorker.ready);
      for (let j = 0; j < 2; j++) {
        await page.reload();
        await page.waitForSelector('#email', { timeout: 60000 });
        warm.push(await tti(page));
        wasmWarm.push(await mark(page, 'wache-wasm-instantiated'));
      }
      assert.ok(await page.evaluate(() => navigator.serviceWorker.controller !== null), 'the service worker controls the page');
      await ctx.close();
    }
    const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
    Object.assign(figures, { tti_cold_ms: cold, tti_warm_ms: warm, first_paint_cold_ms: paint,
      wasm_instantiated_cold_ms: wasmCold, wasm_instantiated_warm_ms: wasmWarm,
      tti_cold_median_ms: med(cold), tti_warm_median_ms: med(warm) });
    for (const f of ['wache.wasm', 'wache.wasm.gz']) {
      if (existsSync(join(DIST, f))) figures[f.replace(/\./g, '_') + '_bytes'] = statSync(join(DIST, f)).size;
    }
    let js = 0;
    for (const f of readdirSync(join(DIST, 'assets'))) js += statSync(join(DIST, 'assets', f)).size;
    figures.ui_assets_bytes = js;
    await openApp(A.page);
    await A.page.waitForSelector('#email', { timeout: 60000 });
  });

  await step('login screen (phone, desktop)', async () => {
    await shot(A.page, 'login-phone');
    await A.page.setViewportSize(DESKTOP);
    await shot(A.page, 'login-desktop');
    await A.page.setViewportSize(PHONE);
  });

  await step('wrong code: clear message, stays on the form', async () => {
    const { page } = A;
    await page.fill('#email', ANNA);
    const before = mailFiles(ANNA).length;
    await page.click('form button[type=submit]');
    const real = await newCode(ANNA, before);
    const wrong = real === '000000' ? '111111' : '000000';
    await page.fill('#code', wrong);
    await page.fill('#pin', PIN);
    await page.fill('#pin2', PIN);
    await page.click('form button[type=submit]');
    const err = page.locator('[data-testid=login-error]');
    await err.waitFor();
    assert.match(await err.innerText(), /Code ist falsch/);
    await shot(page, 'wrong-code-phone');
    // the right code still works (one wrong try of five)
    await page.fill('#code', real);
    await page.fill('#device', 'Browser Anna');
    await page.click('form button[type=submit]');
    await page.waitForSelector('[data-testid=chat-list], .chatlist .muted', { timeout: 60000 });
  });

  await step('the CLI (clara) logs in', async () => {
    const before = mailFiles(CLARA).length;
    await cli('login', CLARA);
    const code = await newCode(CLARA, before);
    await cli('login', '--code', code, '--device-name', 'CLI test', CLARA);
  });

  await step('ben logs in', async () => {
    await login(B, BEN, 'Browser Ben');
  });

  await step('anna creates the group with ben and the CLI', async () => {
    const { page } = A;
    await page.goto(URL_ + '/#/new');
    await page.check('input[name=kind][value=group]');
    await page.fill('#chat-name', GROUP);
    for (const who of ['ben', 'clara']) {
      await page.fill('#user-q', who);
      await page.locator('.results button').first().click();
    }
    await page.click('form button[type=submit]');
    await page.waitForSelector('#composer-text');
    chatId = decodeURIComponent(new URL(page.url()).hash.replace('#/chat/', ''));
    assert.ok(chatId, 'chat id in the URL');
    await sendText(page, 'Hallo aus dem Browser');
    await until('anna\'s message sent', async () => (await msgWith(page, 'Hallo aus dem Browser').getAttribute('class')).match(/sent|delivered|read/));
  });

  await step('anna opens a direct chat with ben', async () => {
    const { page } = A;
    await page.goto(URL_ + '/#/new');
    await page.check('input[name=kind][value=direct]');
    await page.fill('#user-q', 'ben');
    await page.locator('.results button').first().click();
    await page.click('form button[type=submit]');
    await page.waitForSelector('#composer-text');
    await sendText(page, 'Kurze Frage: hast du die Lagemeldung?');
    await msgWith(page, 'Kurze Frage').waitFor();
    await openChat(page);
  });

  await step('ben sees the chat with an unread count and reads the message', async () => {
    const { page } = B;
    await page.goto(URL_ + '/#/');
    await until('chat in ben\'s list', () => page.locator('.chats a', { hasText: GROUP }).isVisible());
    await until('unread count', async () => Number(await page.locator('.chats a', { hasText: GROUP }).locator('[data-testid=unread]').innerText()) >= 1);
    await until('the direct chat in ben\'s list', () => page.locator('.chats a', { hasText: 'Anna Schmidt' }).isVisible());
    await shot(page, 'chatlist-phone');
    await page.setViewportSize(DESKTOP);
    await shot(page, 'chatlist-desktop');
    await page.setViewportSize(PHONE);
    await openChat(page);
    await msgWith(page, 'Hallo aus dem Browser').waitFor();
    await sendText(page, 'Verstanden, bin unterwegs.');
    await msgWith(A.page, 'Verstanden, bin unterwegs.').waitFor();
  });

  await step('anna replies to ben; the reply quotes him', async () => {
    const { page } = A;
    await msgWith(page, 'Verstanden').locator('button[aria-label^=Antworten]').click();
    await sendText(page, 'Danke, bis gleich.');
    await msgWith(B.page, 'Danke, bis gleich.').locator('.quote', { hasText: 'Verstanden' }).waitFor();
  });

  await step('anna sends a photo; ben sees the thumbnail and opens the decrypted photo', async () => {
    // A 2400x1600 PNG (a drawn street scene), scaled down by the app on the device.
    const png = await scenePhoto();
    await A.page.click('button[aria-label=Anhängen]');
    await A.page.setInputFiles('[data-testid=input-photo]', { name: 'einsatzort.png', mimeType: 'image/png', buffer: png });
    const mine = A.page.locator('[data-testid=msg][data-type=attachment]').last();
    await mine.waitFor();
    await until('photo sent', async () => (await mine.getAttribute('class')).match(/sent|delivered|read/), 60000);
    const theirs = B.page.locator('[data-testid=msg][data-type=attachment]').last();
    await theirs.locator('[data-testid=photo-thumb]').waitFor();
    await theirs.locator('button', { hasText: 'Öffnen' }).click();
    const full = theirs.locator('[data-testid=photo-full]');
    await full.waitFor();
    await until('photo decoded', () => full.evaluate((img) => img.complete && img.naturalWidth > 0));
    const w = await full.evaluate((img) => img.naturalWidth);
    assert.equal(w, 1600, 'the 2400 px photo was scaled to 1600 px on the device');
  });

  await step('anna sends her location; ben sees it on the offline map', async () => {
    await A.page.click('button[aria-label=Anhängen]');
    await A.page.click('text=Standort senden');
    const loc = B.page.locator('[data-testid=msg][data-type=location]').last();
    await loc.waitFor();
    await loc.locator('[data-testid=offline-map]').waitFor();
    assert.match(await loc.innerText(), /52\.52003, 13\.40495/);
  });

  await step('anna shares her live location; ben sees it move; anna stops', async () => {
    await A.page.click('button[aria-label=Anhängen]');
    await A.page.click('text=Live-Standort teilen');
    await A.page.selectOption('#live-mins', '15');
    await A.page.click('text=Teilen beginnen');
    await A.page.locator('.live-bar').waitFor();
    const live = B.page.locator('[data-testid=msg][data-type=live_location]').last();
    await live.waitFor();
    await A.ctx.setGeolocation({ latitude: 52.52101, longitude: 13.40702, accuracy: 8 });
    await until('moved position', async () => (await live.innerText()).includes('52.52101'), 60000);
    await A.page.click('text=Live-Standort beenden');
    await B.page.locator('[data-testid=msg][data-type=live_stop]').last().waitFor();
  });

  await step('anna sends a document and a voice message; ben downloads and plays them', async () => {
    const doc = Buffer.from('%PDF-1.4\n% Lagebericht Streife Nord\n'.padEnd(4000, '.'));
    await A.page.click('button[aria-label=Anhängen]');
    await A.page.setInputFiles('[data-testid=input-doc]', { name: 'lagebericht.pdf', mimeType: 'application/pdf', buffer: doc });
    const d = B.page.locator('[data-testid=msg][data-type=attachment]', { hasText: 'lagebericht.pdf' }).last();
    await d.waitFor();
    const [download] = await Promise.all([B.page.waitForEvent('download'), d.locator('button', { hasText: 'Herunterladen' }).click()]);
    const path = join(WORK, 'lagebericht.pdf');
    await download.saveAs(path);
    assert.deepEqual(readFileSync(path), doc, 'the document arrives byte for byte');

    await A.page.click('button[aria-label=Anhängen]');
    await A.page.click('text=Sprachnachricht');
    await A.page.locator('.composer.recording').waitFor();
    await A.page.waitForTimeout(1500);
    await A.page.click('button[aria-label="Aufnahme beenden und senden"]');
    const v = B.page.locator('[data-testid=msg][data-type=attachment]', { hasText: 'sprachnachricht' }).last();
    await v.waitFor();
    await v.locator('button', { hasText: 'Abspielen' }).click();
    await until('audio decoded', () => v.locator('audio').evaluate((a) => a.readyState >= 1 && a.duration > 0.5));
  });

  await step('the CLI reads the browsers\' messages and writes to them', async () => {
    let out = '';
    await until('CLI sees the browser message', async () => {
      out += await cli('read', GROUP);
      return out.includes('Hallo aus dem Browser');
    }, 60000);
    assert.match(out, /Verstanden, bin unterwegs/);
    await cli('send', GROUP, 'Gruß von der Kommandozeile');
    await msgWith(A.page, 'Gruß von der Kommandozeile').waitFor();
    await msgWith(B.page, 'Gruß von der Kommandozeile').waitFor();
  });

  await step('read receipts: anna sees ben has read', async () => {
    await until('read state', async () => (await A.page.locator('[data-testid=msg].mine [data-status=read]').count()) > 0);
  });

  await step('screenshots: chat with photo and location', async () => {
    // the photo at the top of the view, the map below it
    const photoTop = () => B.page.locator('[data-testid=msg][data-type=attachment]', { has: B.page.locator('[data-testid=photo-full]') }).last()
      .evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await photoTop();
    await shot(B.page, 'chat-phone');
    await B.page.setViewportSize(DESKTOP);
    await B.page.waitForTimeout(300);
    await photoTop();
    await shot(B.page, 'chat-desktop');
    await B.page.setViewportSize(PHONE);
  });

  await step('ben goes offline; anna sends; ben comes back and receives', async () => {
    await B.ctx.setOffline(true);
    await sendText(A.page, 'Während du offline warst');
    await msgWith(A.page, 'Während du offline warst').waitFor();
    // ben types while offline: pending, kept, sent on return
    await sendText(B.page, 'Offline geschrieben');
    const pend = msgWith(B.page, 'Offline geschrieben');
    await pend.waitFor();
    await B.page.waitForTimeout(1500);
    assert.equal(await msgWith(B.page, 'Während du offline warst').count(), 0, 'nothing arrives while offline');
    await shot(B.page, 'offline-phone');
    await B.ctx.setOffline(false);
    await msgWith(B.page, 'Während du offline warst').waitFor({ timeout: 60000 });
    await msgWith(A.page, 'Offline geschrieben').waitFor({ timeout: 60000 });
    await until('pending went out', async () => !(await pend.getAttribute('class')).includes('pending'));
  });

  await step('the server goes away: banner, draft kept across a reload, sent when back', async () => {
    const { page } = A;
    await openChat(page);
    await server('down');
    await page.locator('[data-testid=connection-banner]').waitFor({ timeout: 60000 });
    await page.fill('#composer-text', 'Entwurf ohne Server');
    await page.waitForTimeout(800); // the draft is saved after a short pause
    await shot(page, 'server-gone-phone');
    // reload with the server gone: the service worker serves the app shell
    await page.reload();
    await unlockAfterLoad(page);
    await shot(page, 'offline-start-phone');
    await openChat(page);
    await until('draft restored', async () => (await page.inputValue('#composer-text')) === 'Entwurf ohne Server');
    await page.focus('#composer-text');
    await page.keyboard.press('Enter');
    await msgWith(page, 'Entwurf ohne Server').waitFor();
    await server('up');
    // "connect now" skips the rest of the backoff
    const retry = page.locator('[data-testid=connection-banner] button');
    if (await retry.isVisible()) await retry.click().catch(() => {});
    await msgWith(B.page, 'Entwurf ohne Server').waitFor({ timeout: 90000 });
    await until('banner gone', async () => !(await page.locator('[data-testid=connection-banner]').isVisible()), 60000);
  });

  await step('devices: anna revokes her second browser; it shows the session ended and erases its data', async () => {
    const C = await officer('anna-2', { latitude: 52.5, longitude: 13.4, accuracy: 30 });
    await login(C, ANNA, 'Zweitgerät');
    await A.page.goto(URL_ + '/#/devices');
    const row = A.page.locator('[data-testid=devices] li', { hasText: 'Zweitgerät' });
    await row.waitFor();
    await shot(A.page, 'devices-phone');
    await A.page.setViewportSize(DESKTOP);
    await shot(A.page, 'devices-desktop');
    await A.page.setViewportSize(PHONE);
    A.page.once('dialog', (d) => d.accept());
    await row.locator('button', { hasText: 'Sperren' }).click();
    await row.locator('.tag.bad').waitFor();
    // the revoked browser learns it at its next contact with the server
    // (pushed on its WebSocket, or at its next request: opening a screen makes one)
    let flip = false;
    await until('session ended notice', async () => {
      if (await C.page.locator('[data-testid=login-notice]').isVisible()) return true;
      flip = !flip;
      await C.page.evaluate((h) => { location.hash = h; }, flip ? '#/devices' : '#/settings').catch(() => {});
      await C.page.waitForTimeout(1000);
      return false;
    }, 60000);
    assert.match(await C.page.locator('[data-testid=login-notice]').innerText(), /gelöscht/);
    await shot(C.page, 'session-ended-phone');
    // local data erased: a reload starts at the login form
    await C.page.reload();
    await C.page.waitForSelector('#email');
  });

  await step('corrupted IndexedDB: clear message and re-enrolment', async () => {
    const Dn = await officer('deniz', { latitude: 52.4, longitude: 13.3, accuracy: 30 });
    await login(Dn, DENIZ, 'Browser Deniz');
    const n = await Dn.page.evaluate(() => new Promise((resolve, reject) => {
      const req = indexedDB.open('wache');
      req.onerror = () => reject(req.error);
      req.onsuccess = () => {
        const db = req.result;
        const names = [...db.objectStoreNames];
        if (!names.length) return resolve(0);
        const tx = db.transaction(names, 'readwrite');
        let count = 0;
        for (const s of names) {
          const st = tx.objectStore(s);
          st.openCursor().onsuccess = (e) => {
            const cur = e.target.result;
            if (!cur) return;
            const junk = new Uint8Array(64);
            crypto.getRandomValues(junk);
            cur.update(junk);
            count++;
            cur.continue();
          };
        }
        tx.oncomplete = () => { db.close(); resolve(count); };
        tx.onerror = () => reject(tx.error);
      };
    }));
    assert.ok(n > 0, 'IndexedDB has records to corrupt');
    await Dn.page.reload();
    await until('corrupt screen', async () => {
      if (await Dn.page.locator('[data-testid=corrupt-message]').isVisible()) return true;
      await unlockIfAsked(Dn.page);
      return false;
    });
    await shot(Dn.page, 'corrupt-phone');
    await Dn.page.click('text=Lokale Daten löschen und neu anmelden');
    await Dn.page.waitForSelector('#email');
    await login(Dn, DENIZ, 'Browser Deniz neu');
  });

  await step('English UI', async () => {
    await B.page.goto(URL_ + '/#/settings');
    await B.page.selectOption('#set-lang', 'en');
    await B.page.locator('h1', { hasText: 'Settings' }).waitFor();
    await B.page.selectOption('#set-lang', 'de');
  });

  await step('members of the group; lock and unlock', async () => {
    const { page } = B;
    await page.evaluate((h) => { location.hash = h; }, `#/chat/${encodeURIComponent(chatId)}/members`);
    const list = page.locator('[data-testid=members] li');
    await until('three members', async () => (await list.count()) === 3);
    await page.evaluate(() => { location.hash = '#/settings'; });
    await page.click('text=Jetzt sperren');
    await page.waitForSelector('#unlock-pin');
    await page.fill('#unlock-pin', 'falsche-pin');
    await page.keyboard.press('Enter');
    await page.locator('.error', { hasText: 'PIN ist falsch' }).waitFor();
    await page.fill('#unlock-pin', PIN);
    await page.keyboard.press('Enter');
    await page.waitForSelector('.shell');
  });

  await step('keyboard: the composer and send button are reachable with Tab', async () => {
    const { page } = B;
    await openChat(page);
    await page.focus('#composer-text');
    await page.keyboard.type('Per Tastatur');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Senden');
    await page.keyboard.press('Enter');
    await msgWith(page, 'Per Tastatur').waitFor();
    await openChat(A.page);
    await msgWith(A.page, 'Per Tastatur').waitFor();
  });

  await step('encrypt/decrypt per message (bridge bench, if offered)', async () => {
    const b = await A.page.evaluate(async () => (window.wache && typeof window.wache.bench === 'function') ? await window.wache.bench() : null);
    if (b) figures.bench = b;
  });
}, ['login-phone', 'login-desktop', 'chatlist-phone', 'chatlist-desktop', 'chat-phone', 'chat-desktop', 'devices-phone', 'devices-desktop']);
