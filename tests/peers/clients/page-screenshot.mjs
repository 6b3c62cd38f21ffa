// Opens a URL in Debian's headless Chromium (playwright-core), lets it follow whatever redirects it takes (sign-in
// included), and prints one JSON line {url, status, title, text, hops} after saving a full-page screenshot.
//
//   node clients/page-screenshot.mjs --url URL --screenshot PATH [--chromium /usr/bin/chromium]
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' },
    screenshot: { type: 'string' },
    chromium: { type: 'string', default: process.env.CHROMIUM ?? '/usr/bin/chromium' },
  },
});
const browser = await chromium.launch({ executablePath: opt.chromium, headless: true });
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
  const hops = [];
  page.on('response', (r) => { if (r.request().isNavigationRequest()) hops.push([r.status(), r.url()]); });
  const resp = await page.goto(opt.url, { waitUntil: 'load', timeout: 20000 });
  await page.screenshot({ path: opt.screenshot, fullPage: true });
  console.log(JSON.stringify({
    url: page.url(), status: resp?.status(), title: await page.title(),
    text: await page.innerText('body'), hops,
  }));
} finally {
  await browser.close();
}
