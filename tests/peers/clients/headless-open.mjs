// A stand-in for the user's browser, for MCP clients that open the authorization URL in one (mcp-remote does, with
// the `open` package, whose xdg-open runs $BROWSER when there is no desktop):
//
//   BROWSER="<node> clients/headless-open.mjs" XDG_CURRENT_DESKTOP=X-Generic mcp-remote ...
//
// It loads the URL and follows every redirect (the `local` provider signs in and approves a loopback redirect URI by
// itself, so the last hop is the client's own localhost callback), like a browser would, and exits 0 once a page
// answers 2xx. Each hop is appended as a JSON line to $HEADLESS_OPEN_LOG when set (the opener's output is discarded).
import { appendFileSync } from 'node:fs';

const log = (entry) => {
  if (process.env.HEADLESS_OPEN_LOG) appendFileSync(process.env.HEADLESS_OPEN_LOG, `${JSON.stringify(entry)}\n`);
};

let url = process.argv[2];
try {
  for (let hop = 0; hop < 15; hop += 1) {
    const response = await fetch(url, { redirect: 'manual', headers: { accept: 'text/html' } });
    const location = response.headers.get('location');
    log({ status: response.status, url, location });
    if (response.status >= 300 && response.status < 400 && location) {
      url = new URL(location, url).toString();
      continue;
    }
    const body = await response.text();
    log({ done: response.status, url, body: body.slice(0, 300) });
    process.exit(response.ok ? 0 : 1);
  }
  log({ error: 'too many redirects', url });
  process.exit(1);
} catch (error) {
  log({ error: String(error?.stack ?? error), url });
  process.exit(1);
}
