// Browser tests of the Auskunft and Scanner screens: Playwright
// (playwright-core) driving Debian's Chromium headless at phone size
// against a real node. Started by web/auskunft_browser_test.go, which
// renders the photos, imports the matching records and passes WACHE_URL,
// WACHE_MAIL_DIR, WACHE_WORK, WACHE_RESULTS and WACHE_FIXTURES (JSON).
import assert from 'node:assert/strict';
import { D, log, session } from './lib.mjs';

const s = session({ launcher: 'web/auskunft_browser_test.go', need: ['WACHE_FIXTURES'], prefix: 'auskunft-' });
const { URL_, figures, step, until, shot, bridge, person } = s;
const FX = JSON.parse(process.env.WACHE_FIXTURES);
const ANNA = 'anna.schmidt' + D, ADMIN = 'admin' + D;
const PIN = 'wache-pin-2468';
const PURPOSE = 'Verkehrskontrolle B 96, Fahrer ohne Führerschein';
await s.launch();
const login = (o, email, deviceName) => s.login(o, email, deviceName, PIN);

// before reports whether element a comes before element b in the page.
const before = (page, a, b) => page.evaluate(([x, y]) => {
  const ea = document.querySelector(x), eb = document.querySelector(y);
  if (!ea || !eb) throw new Error(`missing ${ea ? y : x}`);
  return !!(ea.compareDocumentPosition(eb) & Node.DOCUMENT_POSITION_FOLLOWING);
}, [a, b]);

// scan chooses a photo through the file input and waits for the reading.
async function scan(page, mode, photo, testid) {
  await page.locator(`input[name=sc-mode][value=${mode}]`).check({ force: true });
  const t0 = Date.now();
  await page.setInputFiles('#sc-file', photo);
  await page.locator(`[data-testid=${testid}], [data-testid=scan-error]`).first().waitFor({ timeout: 120000 });
  const err = await page.locator('[data-testid=scan-error]').count();
  if (err) throw new Error(`scan failed: ${await page.locator('[data-testid=scan-error]').innerText()}`);
  const timing = await page.evaluate(() => window.wacheScanTiming);
  return { ...timing, wallMs: Date.now() - t0 };
}

await s.main(async () => {
  const A = await person('anna');
  const { page } = A;
  const reqs = [];
  page.on('request', (r) => reqs.push({ url: r.url(), size: r.postDataBuffer()?.length ?? 0 }));

  await step('anna logs in and opens Auskunft', async () => {
    await login(A, ANNA, 'Streifenwagen 12/3');
    await page.locator('.tabbar a[href="#/auskunft"]').click();
    await page.locator('#ak-text').waitFor();
  });

  await step('an empty purpose is refused in German before anything is sent', async () => {
    await page.fill('#ak-text', FX.clean_plate);
    await page.fill('#ak-purpose', '');
    await page.click('.ak-form button[type=submit]');
    const e = await page.locator('[data-testid=ak-error]').innerText();
    assert.match(e, /Zweck/);
    // The server refuses a vague purpose too; its message is mapped.
    await page.fill('#ak-purpose', 'dienstlich');
    await page.click('.ak-form button[type=submit]');
    await until('purpose refusal', async () => /konkreten Anlass/.test(await page.locator('[data-testid=ak-error]').innerText()));
    const err = await page.evaluate(() => window.wache.auskunft({ kind: 'plate', text: 'B-A 1', purpose: '' }).then(() => null, (e) => ({ code: e.code, message: e.message })));
    assert.equal(err?.code, 'EINVALID');
    assert.match(err.message, /^Ungültige Eingabe\. \/ /);
  });

  await step('a person with an alert and warnings: hit first, warnings next', async () => {
    await page.locator('input[name=ak-kind][value=person]').check({ force: true });
    await page.fill('#ak-surname', FX.wanted_person);
    await page.fill('#ak-given', FX.wanted_given);
    await page.fill('#ak-purpose', PURPOSE);
    await page.click('.ak-form button[type=submit]');
    const res = page.locator('[data-testid=ak-result]');
    await res.waitFor();
    assert.equal(await res.getAttribute('data-hit'), '1');
    // The verdict is the result's first element, the warnings follow it,
    // both before the alerts and the records.
    assert.equal(await page.evaluate(() => document.querySelector('[data-testid=ak-result]').firstElementChild.dataset.testid), 'ak-hit');
    assert.match(await page.locator('[data-testid=ak-hit]').innerText(), /TREFFER[\s\S]*Aufenthaltsermittlung/);
    const warns = await page.locator('[data-testid=ak-warning]').allInnerTexts();
    assert.ok(warns.some((w) => /Eigensicherung: Gewalttätig/.test(w)) && warns.some((w) => /Fluchtgefahr/.test(w)), warns.join('|'));
    assert.ok(await before(page, '[data-testid=ak-hit]', '[data-testid=ak-warning]'));
    assert.ok(await before(page, '[data-testid=ak-warning]', '[data-testid=ak-alert]'));
    assert.ok(await before(page, '[data-testid=ak-alert]', '[data-testid=ak-person]'));
    const bg = await page.locator('[data-testid=ak-hit]').evaluate((e) => getComputedStyle(e).backgroundColor);
    assert.equal(bg, 'rgb(164, 22, 26)'); // --danger: the red banner
    assert.ok(await page.locator('#ak-h').isVisible());
    assert.equal(await page.evaluate(() => document.scrollingElement.scrollTop), 0); // only the pane scrolls
    await shot(page, 'auskunft-hit-phone');
  });

  await step('a plate without a record: "Kein Treffer"', async () => {
    await page.locator('input[name=ak-kind][value=plate]').check({ force: true });
    await page.fill('#ak-text', FX.clean_plate);
    await page.click('.ak-form button[type=submit]');
    await page.locator('[data-testid=ak-nohit]').waitFor();
    assert.equal(await page.locator('[data-testid=ak-hit], [data-testid=ak-warning]').count(), 0);
    assert.match(await page.locator('[data-testid=ak-nohit]').innerText(), /Kein Treffer/);
    await shot(page, 'auskunft-nohit-phone');
  });

  await step('scanner: an ID card photo is read on the page, fields checked', async () => {
    await page.locator('.tabbar a[href="#/scan"]').click();
    await page.locator('#sc-file').waitFor({ state: 'attached' });
    figures.mrz_1600x1200 = await scan(page, 'mrz', FX.mrz_photo, 'mrz-result');
    const r = page.locator('[data-testid=mrz-result]');
    assert.equal(await r.getAttribute('data-valid'), '1');
    assert.equal(await page.locator('.mrz-row[data-field=document_number] input').inputValue(), FX.doc_number);
    assert.equal(await page.locator('.mrz-row[data-field=surname] input').inputValue(), FX.surname);
    assert.equal(await page.locator('.mrz-row[data-field=birth_date] input').inputValue(), FX.birth_date);
    assert.equal(await page.locator('.mrz-row[data-valid="0"]').count(), 0);
    // The photo stayed on the page: no request went to the server's scan
    // endpoints or carried a body anywhere near a photo's size.
    const sent = reqs.filter((r) => /\/api\/v1\/scan\//.test(r.url) || r.size > 20000);
    assert.deepEqual(sent, []);
    await shot(page, 'scanner-mrz-phone');
  });

  await step('scanner: the query button runs document and person queries', async () => {
    await page.fill('#sc-purpose', PURPOSE);
    await page.click('[data-testid=scan-query]');
    await page.locator('[data-testid=ak-result]').first().waitFor();
    await until('both results', async () => (await page.locator('[data-testid=ak-result]').count()) === 2);
    const first = page.locator('[data-testid=ak-result]').first();
    assert.equal(await first.getAttribute('data-hit'), '1');
    assert.match(await page.locator('[data-testid=ak-result] [data-testid=ak-hit]').first().innerText(), /Festnahme/);
    assert.match((await page.locator('[data-testid=ak-warning]').allInnerTexts()).join('|'), /Bewaffnet/);
    await shot(page, 'scanner-mrz-query-phone');
  });

  await step('scanner: a failed check digit is marked on its field', async () => {
    figures.mrz_invalid_1600x1200 = await scan(page, 'mrz', FX.bad_mrz_photo, 'mrz-result');
    assert.equal(await page.locator('[data-testid=mrz-result]').getAttribute('data-valid'), '0');
    assert.match(await page.locator('[data-testid=mrz-result] .ak-verdict').innerText(), /PRÜFZIFFER FALSCH/);
    const bad = await page.locator('.mrz-row[data-valid="0"]').evaluateAll((es) => es.map((e) => e.dataset.field));
    assert.ok(bad.includes('birth_date'), `faulty fields: ${bad}`);
    assert.match(await page.locator('.mrz-row[data-field=birth_date] .tag').innerText(), /fehlerhaft/);
    assert.match(await page.locator('.mrz-row[data-field=birth_date] .mrz-problem').innerText(), /Prüfziffer stimmt nicht/);
    assert.match(await page.locator('[data-testid=mrz-failed-checks]').innerText(), /Geburtsdatum/);
    await shot(page, 'scanner-mrz-invalid-phone');
  });

  await step('scanner: a plate photo, candidates to pick, the query shows the stolen car', async () => {
    figures.plate_1600x1200 = await scan(page, 'plate', FX.plate_photo, 'plate-result');
    assert.equal(await page.locator('[data-testid=plate-picked]').innerText(), FX.plate);
    const cands = await page.locator('input[name=sc-plate]').evaluateAll((es) => es.map((e) => e.value));
    assert.ok(cands.length === 0 || cands.includes(FX.plate), `candidates ${cands}`);
    if (cands.length > 1) { // picking another reading changes the query, picking back restores it
      const other = cands.find((c) => c !== FX.plate);
      await page.locator('.plate-cands').getByText(other, { exact: true }).click();
      assert.equal(await page.locator('[data-testid=plate-picked]').innerText(), other);
      await page.locator('.plate-cands').getByText(FX.plate, { exact: true }).click();
      assert.equal(await page.locator('[data-testid=plate-picked]').innerText(), FX.plate);
    }
    await page.click('[data-testid=scan-query]');
    await page.locator('[data-testid=ak-result]').waitFor();
    assert.match(await page.locator('[data-testid=ak-hit]').innerText(), /Gestohlen/);
    assert.match(await page.locator('[data-testid=ak-vehicle]').innerText(), new RegExp(FX.plate.replace(/[-\s]/g, '.')));
    assert.ok(await page.locator('#sc-h').isVisible()); // the title bar stays on a long page
    assert.ok(await page.locator('#sc-h').evaluate((e) => e.getBoundingClientRect().top >= 0));
    await shot(page, 'scanner-plate-phone');
  });

  await step('scanner: a 12 MP photo (4000×3000) is scaled and read on the page', async () => {
    // Three runs: the machine is shared, single timings swing.
    figures.mrz_12mp = [];
    for (let i = 0; i < 3; i++) {
      const m = await scan(page, 'mrz', FX.mrz_big_photo, 'mrz-result');
      m.valid = await page.locator('[data-testid=mrz-result]').getAttribute('data-valid');
      assert.equal(m.valid, '1');
      assert.equal(await page.locator('.mrz-row[data-field=document_number] input').inputValue(), FX.doc_number);
      figures.mrz_12mp.push(m);
    }
    log('12 MP:', JSON.stringify(figures.mrz_12mp));
  });

  await step('the admin may not query; too many queries are refused in German', async () => {
    const B = await person('admin');
    await login(B, ADMIN, 'Admin-PC');
    await B.page.goto(URL_ + '/#/auskunft');
    await B.page.fill('#ak-text', FX.plate);
    await B.page.fill('#ak-purpose', PURPOSE);
    await B.page.click('.ak-form button[type=submit]');
    await until('forbidden', async () => /Ihre Rolle darf/.test(await B.page.locator('[data-testid=ak-error]').innerText()));
    assert.match(await B.page.locator('[data-testid=ak-error]').innerText(), /Keine Berechtigung/);
    // The rate limit comes before the role check: 25 more attempts use
    // up the burst (20), the next is refused as too many.
    await B.page.evaluate(async (p) => {
      for (let i = 0; i < 25; i++) await window.wache.auskunft({ kind: 'plate', text: 'B-A 1', purpose: p }).catch(() => {});
    }, PURPOSE);
    await B.page.click('.ak-form button[type=submit]');
    await until('rate limit', async () => /Zu viele Abfragen/.test(await B.page.locator('[data-testid=ak-error]').innerText()));
  });
}, ['auskunft-hit-phone', 'auskunft-nohit-phone', 'scanner-mrz-phone', 'scanner-mrz-query-phone', 'scanner-mrz-invalid-phone', 'scanner-plate-phone']);
