// The official TypeScript SDK's OAuth client against a Skillport that requires sign-in (the `local` provider, which
// signs in and approves loopback redirect URIs by itself):
//
//   node clients/ts-oauth-client.mjs http://127.0.0.1:PORT/mcp [http://127.0.0.1:UNUSED/callback]
//
// An in-memory OAuthClientProvider (client information, tokens, PKCE verifier). The SDK does discovery, dynamic
// client registration and PKCE; `redirectToAuthorization(url)` plays the browser: it fetches the authorization URL
// without following redirects and takes the code from the Location that points at our redirect URI (nobody listens
// there). Then, as the SDK documents: connect() fails with UnauthorizedError -> transport.finishAuth(code) -> connect
// again with a new transport -> tools/list -> tools/call list_plugins. A second connection with the same provider
// must need no browser (the saved token). Prints one JSON line with what happened.
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const serverUrl = new URL(process.argv[2]);
const redirectUrl = process.argv[3] ?? 'http://127.0.0.1:33419/callback';

class MemoryOAuthProvider {
  constructor() {
    this.saved = { client: undefined, tokens: undefined, verifier: undefined, discovery: undefined };
    this.redirects = []; // every authorization the SDK asked the "browser" for
    this.landed = undefined; // the query the authorization server sent the browser back with
    this.expectedState = undefined;
  }

  get redirectUrl() { return redirectUrl; }

  get clientMetadata() {
    return { client_name: 'Skillport TS SDK e2e', redirect_uris: [redirectUrl], grant_types: ['authorization_code', 'refresh_token'],
             response_types: ['code'], token_endpoint_auth_method: 'none' };
  }

  state() {
    this.expectedState = randomBytes(16).toString('base64url');
    return this.expectedState;
  }

  clientInformation() { return this.saved.client; }
  saveClientInformation(info) { this.saved.client = info; }
  tokens() { return this.saved.tokens; }
  saveTokens(tokens) { this.saved.tokens = tokens; }
  saveCodeVerifier(verifier) { this.saved.verifier = verifier; }
  codeVerifier() {
    if (!this.saved.verifier) throw new Error('no code verifier saved');
    return this.saved.verifier;
  }
  saveDiscoveryState(state) { this.saved.discovery = state; }
  discoveryState() { return this.saved.discovery; }
  invalidateCredentials(scope) {
    if (scope === 'all' || scope === 'client') this.saved.client = undefined;
    if (scope === 'all' || scope === 'tokens') this.saved.tokens = undefined;
    if (scope === 'all' || scope === 'verifier') this.saved.verifier = undefined;
    if (scope === 'all' || scope === 'discovery') this.saved.discovery = undefined;
  }

  /** The user's browser: follows the authorization server's redirects (none is followed blindly) until one points
   *  at our redirect URI, and keeps that URL's query. */
  async redirectToAuthorization(authorizationUrl) {
    this.redirects.push(authorizationUrl.toString());
    let url = authorizationUrl.toString();
    const hops = [];
    for (let i = 0; i < 10; i += 1) {
      const response = await fetch(url, { redirect: 'manual' });
      hops.push([response.status, url]);
      const location = response.headers.get('location');
      if (!(response.status >= 300 && response.status < 400 && location)) {
        throw new Error(`authorization stopped at ${response.status} ${url}: ${(await response.text()).slice(0, 500)}`);
      }
      url = new URL(location, url).toString();
      if (url.startsWith(redirectUrl)) {
        this.landed = { ...Object.fromEntries(new URL(url).searchParams), hops };
        return;
      }
    }
    throw new Error(`too many redirects: ${JSON.stringify(hops)}`);
  }
}

const provider = new MemoryOAuthProvider();
const newClient = () => new Client({ name: 'skillport-ts-oauth-test', version: '1.0.0' });

// 1. Without a token: the SDK discovers, registers, and sends the browser to /authorize; connect() then fails.
let transport = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider });
let unauthorized = null;
try {
  await newClient().connect(transport);
} catch (error) {
  if (!(error instanceof UnauthorizedError)) throw error;
  unauthorized = error.message;
}
if (!provider.landed?.code) throw new Error(`no code: ${JSON.stringify(provider.landed)} (${unauthorized})`);

// 2. The code is exchanged (PKCE verifier, resource), then a fresh transport connects with the token.
await transport.finishAuth(provider.landed.code);
transport = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider });
const client = newClient();
await client.connect(transport);
const tools = await client.listTools();
const listed = await client.callTool({ name: 'list_plugins', arguments: { surface: 'all' } });
if (listed.isError) throw new Error(JSON.stringify(listed));
await client.close();

// 3. Reconnecting with the saved token needs no browser.
const again = newClient();
await again.connect(new StreamableHTTPClientTransport(serverUrl, { authProvider: provider }));
const ping = await again.ping();
await again.close();

const authorizeUrl = new URL(provider.redirects[0]);
console.log(JSON.stringify({
  unauthorized,
  authorizations: provider.redirects.length,
  authorize: Object.fromEntries(authorizeUrl.searchParams),
  authorizeEndpoint: `${authorizeUrl.origin}${authorizeUrl.pathname}`,
  landed: provider.landed,
  stateMatches: provider.landed.state === provider.expectedState,
  clientId: provider.saved.client?.client_id,
  tokens: { type: provider.saved.tokens?.token_type, access: !!provider.saved.tokens?.access_token,
            refresh: !!provider.saved.tokens?.refresh_token, scope: provider.saved.tokens?.scope,
            expiresIn: provider.saved.tokens?.expires_in },
  tools: tools.tools.map((t) => t.name),
  total: listed.structuredContent.total,
  pingAfterReconnect: ping,
}));
