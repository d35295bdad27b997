// What the browser checks share: a shop started from the built binary on
// free ports (the sandbox provider beside it), Debian's Chromium, and an
// accessibility scan of a page with axe-core.

const { chromium } = require('playwright-core');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const axe = require('axe-core');

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForReady(url, child) {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`kassa exited with ${child.exitCode}`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch (_) { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not become ready`);
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

// Starts the shop with demo data on localhost and the sandbox provider on
// 127.0.0.1 (so the two are cross-site, as a real provider is), runs
// `body({ browser, shop, sandboxPort, dataDir })`, and stops everything
// afterwards. Mails go to `.eml` files in `<dataDir>/mail` (the demo's
// file transport): see `mailsTo`.
async function withShop(binary, extraEnv, body) {
  check(binary && fs.existsSync(binary), `no kassa binary at ${binary}`);
  const shopPort = await freePort();
  const sandboxPort = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kassa-browser-'));
  const shop = `http://localhost:${shopPort}`;
  const child = spawn(binary, [], {
    env: {
      ...process.env,
      KASSA_BIND: `127.0.0.1:${shopPort}`,
      KASSA_PUBLIC_URL: shop,
      KASSA_DATA_DIR: dataDir,
      KASSA_SANDBOX__BIND: `127.0.0.1:${sandboxPort}`,
      RUST_LOG: 'warn',
      ...extraEnv,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  let browser;
  try {
    // Inside the try: a browser that fails to start still stops the shop.
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-gpu',
        '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    await waitForReady(`http://127.0.0.1:${shopPort}/readyz`, child);
    await body({ browser, shop, sandboxPort, dataDir });
  } finally {
    if (browser) await browser.close();
    child.kill('SIGTERM');
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

// Where screenshots go (target/browser, kept by CI on failure).
function screenshotDir() {
  const dir = path.join(__dirname, '..', '..', 'target', 'browser');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

// Saves a screenshot of `page` as `name` in the screenshot folder. A
// screenshot is evidence, not a check: headless Chromium now and then
// refuses one ("Unable to capture screenshot") on a busy machine, so it is
// tried three times and then reported without failing the run.
async function saveScreenshot(page, name, options = {}) {
  const file = path.join(screenshotDir(), name);
  for (let attempt = 1; ; attempt++) {
    try {
      await page.screenshot({ ...options, path: file });
      return;
    } catch (error) {
      if (attempt === 3) {
        console.warn(`no screenshot ${name}: ${error.message.split('\n')[0]}`);
        return;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

// Fails on the page's serious or critical accessibility violations, as
// axe-core finds them; `name` says which page in the message.
async function assertAccessible(page, name) {
  // Evaluated through the DevTools protocol, which the shop's Content
  // Security Policy (no inline scripts) does not stop; the page itself
  // keeps its policy.
  await page.evaluate(axe.source);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length > 0) {
    const report = bad.map((v) => `${v.impact} ${v.id}: ${v.help}\n` +
      v.nodes.map((n) => `    ${n.target.join(' ')}: ${n.failureSummary.replace(/\n/g, ' ')}`).join('\n'));
    throw new Error(`${name} (${page.url()}) has ${bad.length} accessibility problem(s):\n${report.join('\n')}`);
  }
}

// The plain-text part of an `.eml` file, decoded (quoted-printable,
// base64 or as is).
function plainText(eml) {
  const [head, ...rest] = eml.split(/\r?\n\r?\n/);
  const type = /content-type:\s*([^;\r\n]+)/i.exec(head);
  const body = rest.join('\n\n');
  if (type && type[1].trim().toLowerCase().startsWith('multipart/')) {
    const boundary = /boundary="?([^";\r\n]+)"?/i.exec(head)[1];
    const parts = body.split(`--${boundary}`).slice(1, -1).map((p) => p.replace(/^\r?\n/, ''));
    for (const part of parts) {
      const text = plainText(part);
      if (text !== null) return text;
    }
    return null;
  }
  if (!type || !type[1].trim().toLowerCase().startsWith('text/plain')) return null;
  const encoding = (/content-transfer-encoding:\s*(\S+)/i.exec(head) || [null, '7bit'])[1].toLowerCase();
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable') {
    const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return body;
}

// The plain text of every mail to `address` written so far, oldest first,
// waiting up to 10 s until there are at least `count`.
async function mailsTo(dataDir, address, count = 1) {
  const dir = path.join(dataDir, 'mail');
  for (let i = 0; i < 100; i++) {
    const found = fs.existsSync(dir) ? fs.readdirSync(dir)
      .filter((f) => f.endsWith('.eml'))
      .map((f) => ({ f, at: fs.statSync(path.join(dir, f)).mtimeMs, eml: fs.readFileSync(path.join(dir, f), 'utf8') }))
      .filter(({ eml }) => eml.toLowerCase().includes(address.toLowerCase()))
      .sort((a, b) => a.at - b.at)
      .map(({ eml }) => plainText(eml)) : [];
    if (found.length >= count) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`fewer than ${count} mails to ${address} in ${dir}`);
}

function finish(main) {
  main().then(
    () => console.log('browser: 1 passed, 0 failed'),
    (error) => {
      console.error(error);
      console.log('browser: 0 passed, 1 failed');
      process.exit(1);
    },
  );
}

module.exports = { assertAccessible, check, finish, mailsTo, saveScreenshot, withShop };
