#!/usr/bin/env node
// A real local OpenID Connect provider (panva's `oidc-provider`) standing in for a generic OIDC IdP, Google or Auth0
// in Skillport's end-to-end tests. Run it with the Node 22 that tests/peers installs:
//
//   tests/peers/node_modules/.bin/node tests/standins/idp.mjs --port P --profile generic|google|auth0 \
//       --client-id ID --client-secret SECRET --redirect-uri URI [--redirect-uri URI2 ...] \
//       [--issuer-path /some/path] [--consent prompt|auto]
//
// It prints exactly one line to stdout, `READY <issuer>`, once it listens on 127.0.0.1:P (everything else goes to
// stderr). The issuer is http://127.0.0.1:P plus --issuer-path (`--issuer-path /` gives Auth0's trailing slash).
//
// What it does: authorization code flow only, PKCE S256 required, nonce passed through, RS256 ID tokens from a key
// made at start, discovery, JWKS, userinfo. The one client may authenticate with client_secret_basic or
// client_secret_post (oidc-provider accepts either for a secret-based client; it is registered with the method its
// profile's real IdP uses: basic for generic and google, post for auth0).
//
// Sign-in is a real HTML form (`username`, `password`); a wrong password shows the form again with an error. Then a
// consent page (`Allow` posts to .../confirm, `Cancel` to .../abort, which ends in error=access_denied), unless
// --consent auto, which grants what was asked without a page. Consent is remembered in the IdP session.
//
// Accounts (password = `<name>-password`):
//   ada  ada@acme.example, verified, "Ada Lovelace", groups eng+admins, roles admin
//   bob  bob@other.example, verified, "Bob Baker",   groups sales
//   eve  eve@acme.example, NOT verified, "Eve Moneypenny"
//   cy   cy@acme.example, verified, "Cy Young",       groups eng+sales (two groups whose rules can conflict)
// Profiles, in the ID token and userinfo alike (scope `openid` carries them):
//   generic  standard claims + `groups` (array)
//   google   + `hd` for Workspace domains (acme.example: ada, eve; none for bob); no groups; numeric subjects
//   auth0    `https://skillport.test/groups`, `https://skillport.test/roles`; `auth0|...` subjects
//
// GET /_requests (outside the issuer path) lists the requests served: {method, path, auth} where auth is the
// Authorization scheme (`basic`, `bearer`) or null; DELETE /_requests forgets them.
//
// Self-check: node tests/standins/idp.mjs --selftest

import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const PEERS = new URL('../peers/package.json', import.meta.url);
const { default: Provider } = await import(pathToFileURL(createRequire(fileURLToPath(PEERS)).resolve('oidc-provider')));

// stdout carries the READY line only; oidc-provider's notices go to stderr.
console.log = console.info = (...args) => console.error(...args);

export const NS = 'https://skillport.test/';
export const WORKSPACE_DOMAINS = ['acme.example'];
export const ACCOUNTS = {
  ada: { password: 'ada-password', email: 'ada@acme.example', verified: true, name: 'Ada Lovelace', given: 'Ada',
         family: 'Lovelace', groups: ['eng', 'admins'], roles: ['admin'] },
  bob: { password: 'bob-password', email: 'bob@other.example', verified: true, name: 'Bob Baker', given: 'Bob',
         family: 'Baker', groups: ['sales'], roles: [] },
  eve: { password: 'eve-password', email: 'eve@acme.example', verified: false, name: 'Eve Moneypenny', given: 'Eve',
         family: 'Moneypenny', groups: [], roles: [] },
  cy: { password: 'cy-password', email: 'cy@acme.example', verified: true, name: 'Cy Young', given: 'Cy',
        family: 'Young', groups: ['eng', 'sales'], roles: [] },
};
const PROFILES = {
  generic: { extra: ['groups'], auth: 'client_secret_basic', sub: (u) => `user-${u}` },
  google: { extra: ['hd'], auth: 'client_secret_basic',
            sub: (u) => BigInt('0x' + crypto.createHash('sha256').update(u).digest('hex').slice(0, 15)).toString() },
  auth0: { extra: [`${NS}groups`, `${NS}roles`], auth: 'client_secret_post',
           sub: (u) => `auth0|${crypto.createHash('sha256').update(u).digest('hex').slice(0, 24)}` },
};

/** The claims of `username` as the `profile` IdP states them (before oidc-provider filters them by scope). */
export function claimsFor(profile, username) {
  const a = ACCOUNTS[username];
  const claims = { sub: PROFILES[profile].sub(username), email: a.email, email_verified: a.verified, name: a.name,
                   given_name: a.given, family_name: a.family, preferred_username: username, nickname: username };
  const domain = a.email.split('@')[1];
  if (profile === 'generic') claims.groups = a.groups;
  if (profile === 'google' && WORKSPACE_DOMAINS.includes(domain)) claims.hd = domain;
  if (profile === 'auth0') {
    claims[`${NS}groups`] = a.groups;
    claims[`${NS}roles`] = a.roles;
  }
  return claims;
}

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head>`
  + `<body><h1>${esc(title)}</h1>${body}</body></html>`;

function loginPage(action, client, error, username = '') {
  return page('Sign in', `<p>to continue to <b>${esc(client)}</b></p>`
    + (error ? `<p class="error" role="alert">${esc(error)}</p>` : '')
    + `<form method="post" action="${esc(action)}/login">`
    + `<label>Username <input type="text" name="username" value="${esc(username)}" autofocus></label>`
    + '<label>Password <input type="password" name="password"></label>'
    + '<button type="submit">Sign in</button></form>');
}

function consentPage(action, client, scopes) {
  return page('Authorize access', `<p><b>${esc(client)}</b> asks for: ${esc(scopes.join(', ') || 'nothing new')}</p>`
    + `<form method="post" action="${esc(action)}/confirm"><button type="submit" name="consent" value="allow">Allow</button></form>`
    + `<form method="post" action="${esc(action)}/abort"><button type="submit" name="consent" value="cancel">Cancel</button></form>`);
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString());
}

/** Starts the IdP; resolves to {issuer, server, provider, requests} once it listens. */
export async function start({ port, profile = 'generic', clientId, clientSecret, redirectUris, issuerPath = '',
                              consent = 'prompt' }) {
  if (!PROFILES[profile]) throw new Error(`unknown profile ${profile}`);
  if (issuerPath && !issuerPath.startsWith('/')) issuerPath = `/${issuerPath}`;
  const prefix = issuerPath.replace(/\/+$/, '');
  const issuer = `http://127.0.0.1:${port}${issuerPath}`;
  const subjects = Object.fromEntries(Object.keys(ACCOUNTS).map((u) => [PROFILES[profile].sub(u), u]));

  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig' };
  jwk.kid = crypto.createHash('sha256').update(jwk.n).digest('base64url').slice(0, 16);

  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId, client_secret: clientSecret, redirect_uris: redirectUris,
      response_types: ['code'], grant_types: ['authorization_code'],
      token_endpoint_auth_method: PROFILES[profile].auth,
    }],
    jwks: { keys: [jwk] },
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    // Every claim comes with `openid` too, so the ID token carries groups/hd/roles whatever else is asked for.
    claims: {
      openid: ['sub', ...PROFILES[profile].extra],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username', 'nickname'],
    },
    conformIdTokenClaims: false, // scope claims go into the ID token, not only userinfo
    responseTypes: ['code'],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false }, userinfo: { enabled: true } },
    interactions: { url: (ctx, interaction) => `${prefix}/interaction/${interaction.uid}` },
    clientBasedCORS: () => true,
    ttl: { AccessToken: 3600, AuthorizationCode: 120, IdToken: 3600, Interaction: 900, Session: 86400, Grant: 86400 },
    async findAccount(ctx, sub) {
      const username = subjects[sub];
      if (!username) return undefined;
      return { accountId: sub, claims: async () => claimsFor(profile, username) };
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Sign-in error', `<p class="error">${esc(out.error)}: ${esc(out.error_description)}</p>`);
    },
  });

  async function grantConsent(req, res, details) {
    const { prompt, params, session, grantId } = details;
    const grant = grantId ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } },
                                       { mergeWithLastSubmission: true });
  }

  async function interaction(req, res, uid, action) {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) throw new Error('interaction mismatch');
    const base = `${prefix}/interaction/${uid}`;
    const client = details.params.client_id;
    const html = (status, body) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method === 'GET' && !action) {
      if (details.prompt.name === 'login') return html(200, loginPage(base, client));
      if (consent === 'auto') return grantConsent(req, res, details);
      return html(200, consentPage(base, client, details.prompt.details.missingOIDCScope ?? []));
    }
    if (req.method !== 'POST') return html(405, page('Method not allowed', ''));
    const form = await readForm(req);
    if (action === 'login') {
      const username = form.get('username') ?? '';
      const account = ACCOUNTS[username];
      if (!account || !crypto.timingSafeEqual(Buffer.from(crypto.hash('sha256', account.password), 'hex'),
                                              Buffer.from(crypto.hash('sha256', form.get('password') ?? ''), 'hex'))) {
        return html(200, loginPage(base, client, 'Wrong username or password.', username));
      }
      return provider.interactionFinished(req, res, { login: { accountId: PROFILES[profile].sub(username) } },
                                          { mergeWithLastSubmission: false });
    }
    if (action === 'confirm') return grantConsent(req, res, details);
    if (action === 'abort') {
      return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the user cancelled' },
                                          { mergeWithLastSubmission: false });
    }
    return html(404, page('Not found', ''));
  }

  const requests = [];
  const callback = provider.callback();
  const server = http.createServer(async (req, res) => {
    const path = req.url.split('?')[0];
    if (path === '/_requests') {
      if (req.method === 'DELETE') requests.length = 0;
      res.writeHead(req.method === 'DELETE' ? 204 : 200, { 'content-type': 'application/json' });
      return res.end(req.method === 'DELETE' ? '' : JSON.stringify(requests));
    }
    const scheme = (req.headers.authorization ?? '').split(' ')[0].toLowerCase() || null;
    requests.push({ method: req.method, path: req.url, auth: scheme });
    if (prefix && !(path === prefix || path.startsWith(`${prefix}/`))) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end('Not Found\n');
    }
    req.originalUrl = req.url; // oidc-provider derives its mount path from this, as under express
    req.url = req.url.slice(prefix.length) || '/';
    const match = /^\/interaction\/([\w-]+)(?:\/(login|confirm|abort))?$/.exec(req.url.split('?')[0]);
    if (!match) return callback(req, res);
    try {
      await interaction(req, res, match[1], match[2]);
    } catch (error) {
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page('Sign-in error', `<p class="error">${esc(error.message)}</p>`));
    }
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  return { issuer, server, provider, requests };
}

// -- self-check ------------------------------------------------------------------------------------------------------

async function freePort() {
  const probe = net.createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** fetch with a cookie jar (name -> value; every path, which is enough against one host), no redirects followed. */
function browserFetch(jar) {
  return async (url, init = {}) => {
    const headers = { ...(init.headers ?? {}) };
    if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const name = pair.slice(0, pair.indexOf('=')).trim();
      const expired = attrs.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a) || /^\s*max-age=0\s*$/i.test(a));
      if (expired) jar.delete(name); else jar.set(name, pair.slice(pair.indexOf('=') + 1).trim());
    }
    return res;
  };
}

function verifyJwt(token, jwks) {
  const [h, p, s] = token.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const key = jwks.keys.find((k) => k.kid === header.kid);
  const ok = header.alg === 'RS256' && key
    && crypto.verify('sha256', Buffer.from(`${h}.${p}`), crypto.createPublicKey({ key, format: 'jwk' }),
                     Buffer.from(s, 'base64url'));
  if (!ok) throw new Error('ID token signature does not verify');
  return JSON.parse(Buffer.from(p, 'base64url'));
}

async function selftest() {
  let checks = 0;
  const check = (cond, message) => {
    checks += 1;
    if (!cond) throw new Error(`check failed: ${message}`);
  };
  const clientId = 'self-client';
  const clientSecret = 'self-secret';
  const redirectUri = 'http://127.0.0.1:1/callback';
  const formAction = (html, what) => {
    const m = new RegExp(`<form method="post" action="([^"]*/${what})"`).exec(html);
    return m && m[1].replace(/&#38;/g, '&');
  };

  for (const [profile, issuerPath] of [['generic', ''], ['google', ''], ['auth0', '/'], ['generic', '/realms/acme']]) {
    const port = await freePort();
    const idp = await start({ port, profile, clientId, clientSecret, redirectUris: [redirectUri], issuerPath });
    const origin = `http://127.0.0.1:${port}`;
    try {
      const discovery = await (await fetch(`${idp.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`)).json();
      check(discovery.issuer === idp.issuer, `${profile}: issuer ${discovery.issuer}`);
      check(discovery.code_challenge_methods_supported.includes('S256'), 'S256 advertised');
      check(discovery.userinfo_endpoint && discovery.jwks_uri, 'userinfo and jwks advertised');
      check(['client_secret_basic', 'client_secret_post'].every((m) => discovery.token_endpoint_auth_methods_supported.includes(m)),
            'both client auth methods advertised');
      const jwks = await (await fetch(discovery.jwks_uri)).json();
      check(jwks.keys.length === 1 && jwks.keys[0].kty === 'RSA' && !jwks.keys[0].d, 'public RSA JWKS');

      const authorize = (params) => `${discovery.authorization_endpoint}?${new URLSearchParams({
        client_id: clientId, redirect_uri: redirectUri, response_type: 'code', scope: 'openid email profile', ...params })}`;

      // PKCE is required.
      let res = await fetch(authorize({ state: 's0' }), { redirect: 'manual' });
      let location = new URL(res.headers.get('location'), origin);
      check(location.href.startsWith(redirectUri) && location.searchParams.get('error') === 'invalid_request',
            `no PKCE refused: ${location}`);

      for (const [username, method] of [['ada', 'basic'], ['bob', 'post'], ['eve', 'basic']]) {
        const jar = new Map();
        const go = browserFetch(jar);
        const verifier = crypto.randomBytes(32).toString('base64url');
        const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
        const nonce = crypto.randomBytes(8).toString('hex');
        res = await go(authorize({ state: `st-${username}`, nonce, code_challenge: challenge, code_challenge_method: 'S256' }));
        check(res.status === 303, `authorize redirects to the login page (${res.status})`);
        const loginUrl = new URL(res.headers.get('location'), origin);
        check(loginUrl.pathname.startsWith(`${idp.issuer.replace(/\/$/, '')}/interaction/`.replace(origin, '')),
              `interaction under the issuer path: ${loginUrl.pathname}`);
        let html = await (await go(loginUrl)).text();
        const login = new URL(formAction(html, 'login'), origin);
        const post = (url, body) => go(url, { method: 'POST', body: new URLSearchParams(body),
                                             headers: { 'content-type': 'application/x-www-form-urlencoded' } });
        res = await post(login, { username, password: 'nope' });
        html = await res.text();
        check(res.status === 200 && html.includes('Wrong username or password') && formAction(html, 'login'),
              'wrong password shows the form again');
        // Follows redirects, allowing a consent page, up to the redirect to the client.
        const toClient = async (response) => {
          for (let hops = 0; hops < 8 && !response.headers.get('location')?.startsWith(redirectUri); hops += 1) {
            if (response.status >= 300 && response.status < 400) {
              response = await go(new URL(response.headers.get('location'), origin));
            } else {
              const text = await response.text();
              check(text.includes('Authorize access'), `consent page expected: ${text.slice(0, 200)}`);
              response = await post(new URL(formAction(text, 'confirm'), origin), { consent: 'allow' });
            }
          }
          return new URL(response.headers.get('location'));
        };
        // login -> /auth/:uid -> consent page -> confirm -> /auth/:uid -> redirect_uri
        location = await toClient(await post(login, { username, password: `${username}-password` }));
        check(location.searchParams.get('state') === `st-${username}` && location.searchParams.get('iss') === idp.issuer,
              `callback state and iss: ${location}`);
        const code = location.searchParams.get('code');
        check(code, 'a code');

        const token = (body, basic) => fetch(discovery.token_endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded',
                     ...(basic ? { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` } : {}) },
          body: new URLSearchParams({ grant_type: 'authorization_code', redirect_uri: redirectUri,
                                      ...(basic ? {} : { client_id: clientId, client_secret: clientSecret }), ...body }),
        });
        res = await token({ code, code_verifier: 'x'.repeat(43) }, method === 'basic');
        check(res.status === 400 && (await res.json()).error === 'invalid_grant', 'wrong verifier refused');
        res = await token({ code, code_verifier: verifier }, method === 'basic'); // a wrong guess does not spend it
        const tokens = await res.json();
        check(res.status === 200 && tokens.id_token && tokens.access_token, `token (${method}): ${JSON.stringify(tokens)}`);

        const claims = verifyJwt(tokens.id_token, jwks);
        const want = claimsFor(profile, username);
        check(claims.iss === idp.issuer && claims.aud === clientId && claims.nonce === nonce, `iss/aud/nonce ${profile}`);
        for (const key of ['sub', 'email', 'email_verified', 'name']) {
          check(JSON.stringify(claims[key]) === JSON.stringify(want[key]), `${profile}/${username} ID token ${key}`);
        }
        const a = ACCOUNTS[username];
        check(claims.email_verified === a.verified, `${username} email_verified`);
        if (profile === 'generic') check(JSON.stringify(claims.groups) === JSON.stringify(a.groups), 'generic groups');
        if (profile === 'google') {
          check(claims.hd === (username === 'bob' ? undefined : 'acme.example'), `google hd for ${username}`);
          check(claims.groups === undefined && /^\d+$/.test(claims.sub), 'google: no groups, numeric sub');
        }
        if (profile === 'auth0') {
          check(JSON.stringify(claims[`${NS}groups`]) === JSON.stringify(a.groups), 'auth0 groups');
          check(JSON.stringify(claims[`${NS}roles`]) === JSON.stringify(a.roles), 'auth0 roles');
          check(claims.sub.startsWith('auth0|') && claims.groups === undefined, 'auth0 sub, no plain groups');
        }
        const info = await (await fetch(discovery.userinfo_endpoint,
                                        { headers: { authorization: `Bearer ${tokens.access_token}` } })).json();
        check(info.sub === claims.sub && info.email === a.email, `userinfo ${JSON.stringify(info)}`);
        // A replayed code is refused, and (RFC 6749 4.1.2) revokes what it gave.
        res = await token({ code, code_verifier: verifier }, method === 'basic');
        check(res.status === 400 && (await res.json()).error === 'invalid_grant', 'a code is single-use');
        res = await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } });
        check(res.status === 401, 'replay revoked the access token');

        // Signing in again: the IdP session skips the login form (the replay revoked the grant: consent again).
        const again = await toClient(await go(authorize({ state: 'again', nonce, code_challenge: challenge,
                                                          code_challenge_method: 'S256' })));
        check(again.searchParams.get('code') && again.searchParams.get('state') === 'again', `SSO: ${again}`);
        res = await token({ code: again.searchParams.get('code'), code_verifier: verifier }, method !== 'basic');
        check(res.status === 200 && verifyJwt((await res.json()).id_token, jwks).sub === claims.sub,
              'SSO code exchanged with the other client auth method');
      }

      // Cancelling at the consent page ends in access_denied.
      const go = browserFetch(new Map());
      const pkce = { code_challenge: crypto.createHash('sha256').update('v'.repeat(43)).digest('base64url'),
                     code_challenge_method: 'S256' };
      res = await go(authorize({ state: 'deny', ...pkce }));
      let html = await (await go(new URL(res.headers.get('location'), origin))).text();
      res = await go(new URL(formAction(html, 'login'), origin), { method: 'POST', body: new URLSearchParams({
        username: 'ada', password: 'ada-password' }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      while (res.status === 303 || res.status === 302) {
        if (res.headers.get('location').startsWith(redirectUri)) break;
        res = await go(new URL(res.headers.get('location'), origin));
      }
      html = await res.text();
      res = await go(new URL(formAction(html, 'abort'), origin), { method: 'POST' });
      res = await go(new URL(res.headers.get('location'), origin));
      location = new URL(res.headers.get('location'));
      check(location.searchParams.get('error') === 'access_denied' && location.searchParams.get('state') === 'deny',
            `cancel: ${location}`);
      check(idp.requests.some((r) => r.path.includes('/token') && r.auth === 'basic')
            && idp.requests.some((r) => r.path.includes('/token') && r.auth === null), 'request log names client auth');
    } finally {
      idp.server.closeAllConnections();
      idp.server.close();
    }
  }
  process.stdout.write(`idp selftest: ${checks} passed, 0 failed\n`);
}

async function main() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      profile: { type: 'string', default: 'generic' },
      'client-id': { type: 'string', default: 'skillport' },
      'client-secret': { type: 'string', default: 'skillport-secret' },
      'redirect-uri': { type: 'string', multiple: true },
      'issuer-path': { type: 'string', default: '' },
      consent: { type: 'string', default: 'prompt' },
      selftest: { type: 'boolean', default: false },
    },
  });
  if (values.selftest) return selftest();
  if (!values['redirect-uri']?.length) throw new Error('--redirect-uri is required');
  if (!['prompt', 'auto'].includes(values.consent)) throw new Error('--consent is prompt or auto');
  const port = Number(values.port) || await freePort();
  const { issuer } = await start({ port, profile: values.profile, clientId: values['client-id'],
                                   clientSecret: values['client-secret'], redirectUris: values['redirect-uri'],
                                   issuerPath: values['issuer-path'], consent: values.consent });
  process.stdout.write(`READY ${issuer}\n`);
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error) => {
    console.error(error.stack ?? String(error));
    process.exit(1);
  });
}
