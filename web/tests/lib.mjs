// What the browser test scripts (run.mjs, alarms.mjs, auskunft.mjs) share:
// their environment from the Go launcher, named steps, login codes from the
// node's file mailer, the CLI, waiting, Chromium with one context per
// person, the app's login, and the end of a run (failure screenshots,
// console logs, figures, the README's screenshots).
import { chromium } from 'playwright-core';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readdirSync, readFileSync, writeFileSync, mkdirSync, existsSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';

const run = promisify(execFile);

export const D = '@polizei.example';
export const T = 30000; // default wait for anything that crosses the network
export const PHONE = { width: 375, height: 667 };
export const DESKTOP = { width: 1280, height: 800 };

export const log = (...a) => console.log(new Date().toISOString().slice(11, 23), ...a);

// session reads the launcher's environment (WACHE_URL, WACHE_MAIL_DIR,
// WACHE_RESULTS and the names in need) and returns the helpers of one run.
// prefix names its output files ("alarm-" → alarm-measurements.json).
export function session({ launcher, need = [], prefix = '' }) {
  const env = (k) => process.env[k];
  for (const k of ['WACHE_URL', 'WACHE_MAIL_DIR', ...need]) {
    if (!env(k)) throw new Error(`${k} is not set: run through ${launcher}`);
  }
  const URL_ = env('WACHE_URL');
  const MAIL = env('WACHE_MAIL_DIR');
  const OUT = env('WACHE_RESULTS') || 'test-results';
  mkdirSync(OUT, { recursive: true });
  const figures = {};
  const pages = [];
  let stepName = '';
  let browser;

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

  // newCode waits for a login mail to email after the before-th one.
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

  // cli returns a runner of the wache CLI (WACHE_BIN) with its own home.
  function cli(home, passphrase) {
    return async (...args) => {
      const e = { ...process.env, WACHE_SERVER: URL_, WACHE_HOME: join(env('WACHE_WORK'), home), WACHE_PASSPHRASE: passphrase };
      try {
        const { stdout } = await run(env('WACHE_BIN'), args, { env: e, timeout: 60000 });
        return stdout;
      } catch (err) {
        throw new Error(`wache ${args.join(' ')}: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
      }
    };
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

  async function launch(extraArgs = []) {
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', ...extraArgs],
    });
    return browser;
  }

  // person opens a browser context of its own (a phone by default) whose
  // console lines are kept for the run's logs.
  async function person(label, { geo, viewport = PHONE, permissions = [], acceptDialogs = false } = {}) {
    const perms = [...new Set([...permissions, ...(geo ? ['geolocation'] : [])])];
    const ctx = await browser.newContext({
      viewport, locale: 'de-DE', timezoneId: 'Europe/Berlin',
      ...(geo ? { geolocation: geo } : {}), ...(perms.length ? { permissions: perms } : {}),
    });
    const page = await ctx.newPage();
    page.setDefaultTimeout(T);
    const lines = [];
    page.on('console', (m) => lines.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => { lines.push(`[pageerror] ${e.message}`); log(label, 'page error:', e.message); });
    if (acceptDialogs) page.on('dialog', (d) => d.accept());
    pages.push({ label, page, lines });
    return { ctx, page, label };
  }

  async function shot(page, name) {
    const path = join(OUT, `${name}.png`);
    await page.screenshot({ path });
    return path;
  }

  // login registers a device in the app: code from the mail, device name,
  // PIN twice; done when the ready selector shows.
  async function login(o, email, deviceName, pin, ready = '.shell') {
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
    await page.fill('#pin', pin);
    await page.fill('#pin2', pin);
    await page.click('form button[type=submit]');
    await page.waitForSelector(ready, { timeout: 60000 });
  }

  // main runs the steps, then writes the run's logs and figures; on
  // success with WACHE_SCREENSHOTS set it copies the named screenshots
  // there (docs/screenshots). It ends the process: 1 if a step failed.
  async function main(fn, screenshots = []) {
    let failed = false;
    try {
      await fn();
    } catch (e) {
      failed = true;
      console.error(`FAILED in step "${stepName}": ${e.stack || e}`);
      for (const { label, page } of pages) await page.screenshot({ path: join(OUT, `${prefix}failure-${label}.png`) }).catch(() => {});
    } finally {
      for (const { label, lines } of pages) writeFileSync(join(OUT, `${prefix}console-${label}.log`), lines.join('\n'));
      writeFileSync(join(OUT, `${prefix}measurements.json`), JSON.stringify(figures, null, 2));
      log('figures', JSON.stringify(figures));
      if (!failed && env('WACHE_SCREENSHOTS')) {
        mkdirSync(env('WACHE_SCREENSHOTS'), { recursive: true });
        for (const n of screenshots) copyFileSync(join(OUT, `${n}.png`), join(env('WACHE_SCREENSHOTS'), `${n}.png`));
      }
      if (browser) await browser.close();
    }
    process.exit(failed ? 1 : 0);
  }

  const bridge = (page, fn, ...args) => page.evaluate(([f, a]) => window.wache[f](...a), [fn, args]);

  return { URL_, MAIL, OUT, figures, step, mailFiles, newCode, cli, until, launch, person, shot, login, main, bridge };
}
