// The card flow in a real browser: the shop on localhost, the sandbox
// provider on 127.0.0.1, so the two are cross-site as a real provider is.
// A registered shopper pays on the provider's page and comes back to the
// success page with their session intact.
//
// Usage: node card_flow.js PATH_TO_KASSA_BINARY

const { assertAccessible, check, finish, saveScreenshot, withShop } = require('./support');

async function main() {
  await withShop(process.argv[2], {}, async ({ browser, shop, sandboxPort }) => {
    const shopPort = new URL(shop).port;
    const page = await browser.newPage();

    await page.goto(`${shop}/account/register`);
    await assertAccessible(page, 'register');
    await page.fill('#email', 'browser@example.com');
    await page.fill('#password', 'a long password');
    await page.fill('#password_confirmation', 'a long password');
    await page.click('button[type=submit]:has-text("Create account")');
    check((await page.textContent('[data-testid=user]')) === 'browser@example.com', 'logged in');

    await page.goto(`${shop}/products/hand-grinder`);
    await assertAccessible(page, 'product page, logged in');
    await page.click('button:has-text("Add to cart")');
    await page.goto(`${shop}/checkout/start`);
    check(new URL(page.url()).pathname === '/checkout', 'a logged-in shopper skips the start page');
    await assertAccessible(page, 'checkout form, logged in');
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
    await assertAccessible(page, 'review, card');
    await page.click('button:has-text("Place order")');

    const provider = new URL(page.url());
    check(provider.host === `127.0.0.1:${sandboxPort}` && provider.pathname.startsWith('/pay/'),
      `on the provider's page, cross-site: ${page.url()}`);
    await assertAccessible(page, 'provider page');
    await saveScreenshot(page, 'provider.png');
    await page.click('[data-testid=pay-card]');

    const back = new URL(page.url());
    check(back.host === `localhost:${shopPort}` && back.pathname === '/checkout/success',
      `back on the shop's success page: ${page.url()}`);
    const number = await page.textContent('[data-testid=order-number]');
    check(/^K-\d{6}$/.test(number), `an order number: ${number}`);
    check((await page.textContent('[data-testid=user]')) === 'browser@example.com',
      'the session came back with the shopper');
    check((await page.textContent('[data-testid=cart-count]')) === '0', 'the cart is done');
    await assertAccessible(page, 'success page, logged in');
    await saveScreenshot(page, 'success.png');
    console.log(`card flow: order ${number} placed in Chromium`);
  });
}

finish(main);
