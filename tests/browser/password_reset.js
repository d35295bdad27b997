// Password reset in a real browser: a shopper registers (and gets the
// welcome mail), logs out, asks for a new password from the login page,
// follows the link in the mail (the demo writes mails as files), sets a
// new password, is logged in, and logs in again with it; the same link a
// second time is refused. Every page is scanned with axe-core.
//
// Usage: node password_reset.js PATH_TO_KASSA_BINARY

const { assertAccessible, check, finish, mailsTo, saveScreenshot, withShop } = require('./support');

const EMAIL = 'rita@example.com';
const OLD = 'first-password-1';
const NEW = 'second-password-2';

async function logOut(page) {
  await page.click('button:has-text("Log out")');
}

async function logIn(page, shop, password) {
  await page.goto(`${shop}/account/login`);
  await page.fill('#email', EMAIL);
  await page.fill('#password', password);
  await page.click('button[type=submit]:has-text("Log in")');
}

async function loggedIn(page) {
  return (await page.content()).includes(EMAIL) && (await page.locator('button:has-text("Log out")').count()) > 0;
}

async function main() {
  await withShop(process.argv[2], {}, async ({ browser, shop, dataDir }) => {
    const page = await browser.newPage();
    try {
      await page.goto(`${shop}/account/register`);
      await assertAccessible(page, 'register');
      await page.fill('#email', EMAIL);
      await page.fill('#password', OLD);
      await page.fill('#password_confirmation', OLD);
      await page.click('button[type=submit]:has-text("Create account")');
      check(await loggedIn(page), 'logged in after registering');
      const [welcome] = await mailsTo(dataDir, EMAIL, 1);
      check(welcome.includes('Your account') && welcome.includes(EMAIL), `a welcome mail: ${welcome}`);
      await logOut(page);

      await page.goto(`${shop}/account/login`);
      await assertAccessible(page, 'login');
      await page.click('a:has-text("Forgot your password?")');
      check(new URL(page.url()).pathname === '/account/password/forgot', `on the forgot page: ${page.url()}`);
      await assertAccessible(page, 'forgot password');
      await page.fill('#email', EMAIL);
      await page.click('button[type=submit]:has-text("Send the link")');
      await page.waitForSelector('[data-testid=reset-requested]');
      await assertAccessible(page, 'reset requested');

      const mails = await mailsTo(dataDir, EMAIL, 2);
      const reset = mails.find((m) => m.includes('/account/password/reset?token='));
      check(reset, `a reset mail among ${mails.length}`);
      const link = reset.split(/\s+/).find((w) => w.includes('/account/password/reset?token='));
      check(link.startsWith(shop), `the link leads to the shop: ${link}`);

      await page.goto(link);
      await assertAccessible(page, 'set a new password');
      // A mismatch keeps the shopper on the form, with the error at the field.
      await page.fill('#password', NEW);
      await page.fill('#password_confirmation', 'something-else-3');
      await page.click('button[type=submit]:has-text("Set the password")');
      await page.waitForSelector('#password_confirmation-error');
      await assertAccessible(page, 'set a new password, refused');
      await page.fill('#password', NEW);
      await page.fill('#password_confirmation', NEW);
      await page.click('button[type=submit]:has-text("Set the password")');
      check(await loggedIn(page), `logged in with the new password set: ${page.url()}`);
      await assertAccessible(page, 'after the reset');
      await logOut(page);

      await logIn(page, shop, OLD);
      check(!(await loggedIn(page)), 'the old password no longer works');
      await logIn(page, shop, NEW);
      check(await loggedIn(page), 'the new password works');
      await logOut(page);

      // The link works once.
      await page.goto(link);
      const again = await page.content();
      check(!again.includes('id="password_confirmation"'), 'no form for a used link');
      check(/used|expired/i.test(again), 'the page says the link is used');
      await assertAccessible(page, 'used link');
    } catch (error) {
      await saveScreenshot(page, 'password_reset.png', { fullPage: true });
      throw error;
    }
  });
}

finish(main);
