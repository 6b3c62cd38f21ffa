// A real browser through Skillport's sign-in: Debian's headless Chromium driven by playwright-core.
//
//   node clients/consent-browser.mjs --url AUTHORIZE_URL --redirect-prefix CLIENT_REDIRECT_URI \
//       --username ada --password ada-password --decision approve|deny --screenshot PATH [--chromium /usr/bin/chromium]
//       [--bypass-csp] [--timeout-ms 20000]
//
// It opens the authorization URL, signs in at the identity provider's login form (tests/standins/idp.mjs), allows
// the IdP's own consent page if it shows one, and stops on Skillport's consent page (the form with hidden `pending`
// and `csrf`): there it takes a screenshot, records the page's text and the headers of the response it came in, and
// presses the `decision` button. The MCP client's redirect URI is never loaded (nobody listens there): the URL the
// browser asks for there is the result. Prints one JSON line:
//   {query, redirect, consent: {url, status, headers, title, text}, hops: [[status, url], ...], cookies, console}
// and exits non-zero when the flow stops anywhere else, printing to stderr one JSON line with what it saw:
//   {error: {message, cancelled, url, hops, console, requests}, consent}
// where `cancelled` says the browser itself cancelled a navigation (e.g. a redirect its CSP forbids) and `console`
// holds what Chromium reported (a CSP violation is reported there). --bypass-csp makes Chromium ignore the pages'
// Content-Security-Policy, to tell such a block from anything else.
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' },
    'redirect-prefix': { type: 'string' },
    username: { type: 'string', default: 'ada' },
    password: { type: 'string', default: 'ada-password' },
    decision: { type: 'string', default: 'approve' },
    screenshot: { type: 'string' },
    chromium: { type: 'string', default: process.env.CHROMIUM ?? '/usr/bin/chromium' },
    'timeout-ms': { type: 'string', default: '20000' },
    'bypass-csp': { type: 'boolean', default: false },
  },
});
if (!opt.url || !opt['redirect-prefix'] || !opt.screenshot) {
  throw new Error('--url, --redirect-prefix and --screenshot are required');
}
const prefix = opt['redirect-prefix'];
const timeout = Number(opt['timeout-ms']);

const browser = await chromium.launch({ executablePath: opt.chromium, headless: true, timeout });
// --bypass-csp: Chromium ignores the pages' Content-Security-Policy (to tell a CSP block from anything else).
const context = await browser.newContext({ viewport: { width: 900, height: 640 }, bypassCSP: opt['bypass-csp'] });
const page = await context.newPage();
page.setDefaultTimeout(timeout);

// Every top-level navigation hop, redirects included, with its status.
const hops = [];
const documents = []; // main-frame document responses: {url, status, headers}
page.on('response', async (response) => {
  const request = response.request();
  if (!request.isNavigationRequest() || request.frame() !== page.mainFrame()) return;
  hops.push([response.status(), response.url()]);
  documents.push({ url: response.url(), status: response.status(), headers: await response.allHeaders() });
});

// What the browser itself reports (a CSP violation shows up here), and every request of the main frame.
const console_ = [];
page.on('console', (m) => console_.push(`${m.type()}: ${m.text()}`));
const requests = [];
page.on('request', (r) => { if (r.frame() === page.mainFrame()) requests.push(`${r.method()} ${r.url()}`); });
page.on('requestfailed', (r) => requests.push(`FAILED ${r.url()}: ${r.failure()?.errorText}`));

// The client's redirect URI: its URL is the result, taken from the browser's request for it (page.route does not see
// a redirect's target). Nobody listens there, so that request then fails: the page is never loaded.
let redirect = null;
let reached;
const reachedClient = new Promise((resolve) => { reached = resolve; });
page.on('request', (request) => {
  if (request.frame() === page.mainFrame() && request.url().startsWith(prefix)) {
    redirect ??= request.url();
    reached();
  }
});

/** Runs `action` (a click, a goto) and waits until the main frame has committed the document it leads to, or the
 *  browser asked for the client's redirect URI; fails at once when the browser cancels the navigation (a redirect
 *  its CSP forbids ends in requestfailed, not in a timeout). */
async function navigate(action) {
  let listener;
  const cancelled = new Promise((resolve, reject) => {
    listener = (request) => {
      if (request.isNavigationRequest() && request.frame() === page.mainFrame() && !request.url().startsWith(prefix)) {
        reject(Object.assign(new Error(`the browser cancelled ${request.method()} ${request.url()}: `
                                       + `${request.failure()?.errorText}`), { cancelled: true }));
      }
    };
    page.on('requestfailed', listener);
  });
  const committed = page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame(), timeout });
  committed.catch(() => {});
  try {
    await Promise.race([Promise.all([committed, action()]), cancelled, reachedClient]);
  } finally {
    page.off('requestfailed', listener);
  }
  if (redirect === null) await page.waitForLoadState('domcontentloaded');
}

let consent = null;
let logins = 0;
let idpConsents = 0;
try {
  await navigate(() => page.goto(opt.url, { waitUntil: 'commit' }));
  for (let step = 0; step < 12 && redirect === null; step += 1) {
    if (await page.locator('form input[name="pending"]').count()) {
      // Skillport's consent page.
      if (consent) throw new Error('Skillport asked for consent twice');
      const document = documents.at(-1);
      await page.screenshot({ path: opt.screenshot, fullPage: true });
      consent = { url: page.url(), status: document?.status, headers: document?.headers ?? {},
                  title: await page.title(), text: await page.locator('body').innerText() };
      const button = page.locator(`form button[name="decision"][value="${opt.decision}"]`);
      if (!(await button.count())) throw new Error(`no decision=${opt.decision} button`);
      await navigate(() => button.click());
    } else if (await page.locator('input[type="password"]').count()) {
      // The identity provider's login form.
      logins += 1;
      if (logins > 1) throw new Error(`the login form again: ${await page.locator('body').innerText()}`);
      await page.locator('input[name="username"]').fill(opt.username);
      await page.locator('input[type="password"]').fill(opt.password);
      await navigate(() => page.locator('form button[type="submit"], form input[type="submit"]').first().click());
    } else if (await page.locator('button[value="allow"]').count()) {
      // The identity provider's own consent page (idp.mjs: Allow / Cancel).
      idpConsents += 1;
      if (idpConsents > 2) throw new Error('the IdP keeps asking for consent');
      await navigate(() => page.locator('button[value="allow"]').click());
    } else {
      throw new Error(`stopped on a page: ${(await page.locator('body').innerText()).slice(0, 1000)}`);
    }
  }
  if (redirect === null) throw new Error('never reached the client redirect URI');
  const query = Object.fromEntries(new URL(redirect).searchParams);
  const cookies = (await context.cookies()).map((c) => ({ name: c.name, domain: c.domain, path: c.path,
                                                          secure: c.secure, httpOnly: c.httpOnly,
                                                          sameSite: c.sameSite }));
  console.log(JSON.stringify({ query, redirect, consent, hops, cookies, console: console_ }));
} catch (error) {
  await page.waitForTimeout(300); // the console message of a CSP violation can trail the failed request
  console.error(JSON.stringify({ error: { message: String(error?.message ?? error), cancelled: !!error?.cancelled,
                                          stack: String(error?.stack ?? ''), url: page.url(), hops,
                                          console: console_, requests },
                                 consent }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
