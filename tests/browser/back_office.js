// The back office in a real browser: a shopper pays an order by card with
// manual capture (the money is only reserved), then staff log in, find the
// order by its number, create a delivery and mark it delivered, and the
// order page shows the money captured. Every page it visits is scanned
// with axe-core; serious or critical problems fail the check.
//
// Usage: node back_office.js PATH_TO_KASSA_BINARY

const { assertAccessible, check, finish, saveScreenshot, withShop } = require('./support');

const MANUAL_CAPTURE = { KASSA_PAYMENT__HOSTED__CAPTURE: 'manual' };

// A guest pays a hand grinder by card; returns the order number.
async function placeCardOrder(browser, shop) {
  const page = await browser.newPage();
  await page.goto(`${shop}/products/hand-grinder`);
  await assertAccessible(page, 'product page');
  await page.click('button:has-text("Add to cart")');
  await page.goto(`${shop}/checkout/start`);
  await assertAccessible(page, 'checkout start');
  await page.click('[data-testid=guest-checkout]');
  check(new URL(page.url()).pathname === '/checkout', `on the checkout form: ${page.url()}`);
  await assertAccessible(page, 'checkout form');
  await page.fill('#email', 'guest@example.com');
  await page.fill('#billing_first_name', 'Gus');
  await page.fill('#billing_last_name', 'Test');
  await page.fill('#billing_street', 'Chromstraße');
  await page.fill('#billing_house_number', '2');
  await page.fill('#billing_postcode', '10115');
  await page.fill('#billing_city', 'Berlin');
  await page.selectOption('#billing_country', 'DE');
  await page.check('input[value="hosted:card"]');
  await page.check('#accept_terms');
  await page.click('button[type=submit]:has-text("Continue to review")');
  check(new URL(page.url()).pathname === '/checkout/review', 'on the review page');
  await assertAccessible(page, 'review');
  await page.click('button:has-text("Place order")');
  check(new URL(page.url()).pathname.startsWith('/pay/'), `on the provider's page: ${page.url()}`);
  await assertAccessible(page, 'provider page');
  await page.click('[data-testid=pay-card]');
  check(new URL(page.url()).pathname === '/checkout/success', `on the success page: ${page.url()}`);
  await assertAccessible(page, 'success page');
  const number = (await page.textContent('[data-testid=order-number]')).trim();
  check(/^K-\d{6}$/.test(number), `an order number: ${number}`);
  await page.close();
  return number;
}

async function text(page, testid) {
  return (await page.textContent(`[data-testid=${testid}]`)).trim();
}

async function main() {
  await withShop(process.argv[2], MANUAL_CAPTURE, async ({ browser, shop }) => {
    const number = await placeCardOrder(browser, shop);

    // Staff, in a browser context of their own.
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${shop}/admin`);
    check(new URL(page.url()).pathname === '/admin/login', `strangers go to the login: ${page.url()}`);
    await assertAccessible(page, 'admin login');
    await page.fill('#email', 'admin@kassa.example');
    await page.fill('#password', 'kassa-demo');
    await page.click('button[type=submit]:has-text("Log in")');
    check(new URL(page.url()).pathname === '/admin', `on the dashboard: ${page.url()}`);
    check((await text(page, 'count-to-ship')) === '1', 'the order is to ship');
    await assertAccessible(page, 'dashboard');

    await page.click('nav[aria-label="Back office"] a:has-text("Orders")');
    check(new URL(page.url()).pathname === '/admin/orders', `on the order list: ${page.url()}`);
    await assertAccessible(page, 'order list');
    await page.fill('#q', number);
    await page.click('button:has-text("Show orders")');
    check(new URL(page.url()).searchParams.get('q') === number,
      `searched for the number: ${page.url()}`);
    const found = await page.$$eval('[data-testid=order-link]', (links) => links.map((a) => a.textContent));
    check(found.length === 1 && found[0] === number, `found the order: ${found}`);
    await assertAccessible(page, 'order list, searched');
    await page.click(`[data-testid=order-link]:has-text("${number}")`);

    check(new URL(page.url()).pathname === `/admin/orders/${number}`, `on the order: ${page.url()}`);
    check((await text(page, 'order-status')) === 'Placed', 'the order is placed');
    check((await text(page, 'payment-state')) === 'Reserved', 'the money is reserved');
    check((await text(page, 'captured')) === '0.00 EUR', 'nothing captured yet');
    check(await page.isVisible('[data-testid=capture]'), 'capture is offered');
    check(!(await page.isVisible('[data-testid=refund]')), 'no refund before a capture');
    await assertAccessible(page, 'order page');
    check((await page.inputValue('#qty_0')) === '1', 'the open quantity is filled in');
    await page.fill('#carrier', 'DHL');
    await page.fill('#tracking_number', 'JJD0001');
    await page.click('button:has-text("Create delivery")');
    check((await text(page, 'notice')) === 'Delivery created.', 'the delivery is created');
    check((await text(page, 'delivery-status')) === 'Created', 'the delivery shows');
    await assertAccessible(page, 'order page with a delivery');

    await page.click('[data-testid=delivery-delivered]');
    check((await text(page, 'notice')) === 'Delivery marked as delivered.', 'delivered');
    const total = await text(page, 'order-total');
    const captured = await text(page, 'captured');
    check(captured === total, `the whole ${total} is captured: ${captured}`);
    check((await text(page, 'payment-state')) === 'Captured', 'the payment shows as captured');
    check((await text(page, 'order-status')) === 'Completed', 'the order is completed');
    check(await page.isVisible('[data-testid=refund]'), 'a refund is offered now');
    await assertAccessible(page, 'order page, delivered');
    await saveScreenshot(page, 'back-office-order.png', { fullPage: true });

    // The same page on a phone: everything stays reachable.
    await page.setViewportSize({ width: 375, height: 740 });
    await page.reload();
    await assertAccessible(page, 'order page on a phone');
    await saveScreenshot(page, 'back-office-order-phone.png', { fullPage: true });
    await page.goto(`${shop}/admin`);
    await assertAccessible(page, 'dashboard on a phone');
    await saveScreenshot(page, 'back-office-dashboard-phone.png', { fullPage: true });

    // A page the scan must refuse: proof that it looks.
    await page.setContent('<!doctype html><html><body><input type="text"></body></html>');
    let refused = false;
    try {
      await assertAccessible(page, 'canary');
    } catch (_) {
      refused = true;
    }
    check(refused, 'axe-core found nothing wrong with an unlabelled field on a page without a language');
    console.log(`back office: order ${number} delivered and captured (${captured}) in Chromium`);
  });
}

finish(main);
