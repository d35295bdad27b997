// The card flow in a real browser: the shop on localhost, the sandbox
// provider on 127.0.0.1, so the two are cross-site as a real provider is.
// A registered shopper pays on the provider's page and comes back to the
// success page with their session intact.
//
// Usage: node card_flow.js PATH_TO_KASSA_BINARY

const { chromium } = require('playwright-core');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

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

async function main() {
  const binary = process.argv[2];
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
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const screenshots = path.join(__dirname, '..', '..', 'target', 'browser');
  fs.mkdirSync(screenshots, { recursive: true });
  let browser;
  try {
    // Inside the try: a browser that fails to start still stops the shop.
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-gpu',
        '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    await waitForReady(`http://127.0.0.1:${shopPort}/readyz`, child);
    const page = await browser.newPage();

    await page.goto(`${shop}/account/register`);
    await page.fill('#email', 'browser@example.com');
    await page.fill('#password', 'a long password');
    await page.fill('#password_confirmation', 'a long password');
    await page.click('button[type=submit]:has-text("Create account")');
    check((await page.textContent('[data-testid=user]')) === 'browser@example.com', 'logged in');

    await page.goto(`${shop}/products/hand-grinder`);
    await page.click('button:has-text("Add to cart")');
    await page.goto(`${shop}/checkout/start`);
    check(new URL(page.url()).pathname === '/checkout', 'a logged-in shopper skips the start page');
    await page.fill('#email', 'browser@example.com');
    await page.fill('#billing_first_name', 'Bea');
    await page.fill('#billing_last_name', 'Rowser');
    await page.fill('#billing_street', 'Chromstraße');
    await page.fill('#billing_house_number', '1');
    await page.fill('#billing_postcode', '10115');
    await page.fill('#billing_city', 'Berlin');
    await page.selectOption('#billing_country', 'DE');
    await page.check('input[value="hosted:card"]');
    await page.check('#accept_terms');
    await page.click('button[type=submit]:has-text("Continue to review")');
    check(new URL(page.url()).pathname === '/checkout/review', 'on the review page');
    await page.click('button:has-text("Place order")');

    const provider = new URL(page.url());
    check(provider.host === `127.0.0.1:${sandboxPort}` && provider.pathname.startsWith('/pay/'),
      `on the provider's page, cross-site: ${page.url()}`);
    await page.screenshot({ path: path.join(screenshots, 'provider.png') });
    await page.click('[data-testid=pay-card]');

    const back = new URL(page.url());
    check(back.host === `localhost:${shopPort}` && back.pathname === '/checkout/success',
      `back on the shop's success page: ${page.url()}`);
    const number = await page.textContent('[data-testid=order-number]');
    check(/^K-\d{6}$/.test(number), `an order number: ${number}`);
    check((await page.textContent('[data-testid=user]')) === 'browser@example.com',
      'the session came back with the shopper');
    check((await page.textContent('[data-testid=cart-count]')) === '0', 'the cart is done');
    await page.screenshot({ path: path.join(screenshots, 'success.png') });
    console.log(`card flow: order ${number} placed in Chromium`);
  } finally {
    if (browser) await browser.close();
    child.kill('SIGTERM');
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => console.log('browser: 1 passed, 0 failed'),
  (error) => {
    console.error(error);
    console.log('browser: 0 passed, 1 failed');
    process.exit(1);
  },
);
