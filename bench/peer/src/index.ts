// Benchmark peer: Skillport's catalogue and four tools, built the way remote MCP connectors on Workers usually are:
// Cloudflare's `agents` McpAgent (one Durable Object per MCP session) serving an MCP TypeScript SDK McpServer, behind
// @cloudflare/workers-oauth-provider (OAuth 2.1 server, protected-resource metadata, bearer check on /mcp).
//
// Benchmark switch: with the var BENCH_OPEN_MCP = "true" (set in wrangler.toml for local runs), a request to /mcp
// addressed to a loopback host skips the bearer check, as Skillport's `local` identity provider keeps /mcp open on
// loopback; every other request, and /mcp on any other host, goes through the OAuth provider unchanged.
import OAuthProvider from "@cloudflare/workers-oauth-provider";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { McpAgent } from "agents/mcp";
import type { Surface } from "./catalogue";
import { registerTools, serveDownload } from "./tools";

interface Env {
  MCP_OBJECT: DurableObjectNamespace;
  OAUTH_KV: KVNamespace;
  OAUTH_PROVIDER: any;
  PUBLIC_URL?: string;
  DOWNLOAD_KEY?: string;
  BENCH_OPEN_MCP?: string;
}

const INSTRUCTIONS =
  "This server serves this organisation's Claude plugin marketplaces: plugins, and the skills inside them. Use " +
  "list_plugins to browse, get_plugin for one plugin's skills, files, version and digest, fetch_skill to install a " +
  "skill (files, a short-lived .skill download link and install steps), and check_updates to see whether installed " +
  "plugins or skills are still current.";

function surfaceOfClient(name: string | undefined): Surface | undefined {
  const n = (name ?? "").toLowerCase();
  if (n.includes("claude-code") || n === "claude code") return "claude-code";
  if (n.includes("claude-ai") || n.includes("claude.ai")) return "claude-ai";
  if (n.includes("desktop")) return "claude-desktop";
  return undefined;
}

export class SkillportPeer extends McpAgent<Env, unknown, Record<string, unknown>> {
  server = new McpServer({ name: "skillport-peer", version: "0.1.0" }, { instructions: INSTRUCTIONS });

  async init() {
    registerTools(this.server, this.env, () => surfaceOfClient(this.server.server.getClientVersion()?.name));
  }
}

const mcp = SkillportPeer.serve("/mcp", { binding: "MCP_OBJECT" });

// The sign-in page of a real deployment: here every authorization request is approved for one local user.
const defaultHandler = {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/authorize") {
      const auth = await env.OAUTH_PROVIDER.parseAuthRequest(request);
      const { redirectTo } = await env.OAUTH_PROVIDER.completeAuthorization({
        request: auth, userId: "local", metadata: {}, scope: auth.scope, props: { user: "local" },
      });
      return Response.redirect(redirectTo, 302);
    }
    if (request.method === "GET" && url.pathname.startsWith("/download/")) {
      return serveDownload(env, url.pathname.slice("/download/".length));
    }
    if (request.method === "GET" && url.pathname === "/") {
      return new Response("Skillport benchmark peer (agents McpAgent + MCP TypeScript SDK). MCP at /mcp.\n");
    }
    return new Response("not found\n", { status: 404 });
  },
};

let provider: OAuthProvider<Env> | undefined;
function oauth(env: Env): OAuthProvider<Env> {
  const base = (env.PUBLIC_URL ?? "http://localhost:8787").replace(/\/$/, "");
  provider ??= new OAuthProvider<Env>({
    apiRoute: "/mcp",
    apiHandler: mcp as any,
    defaultHandler: defaultHandler as any,
    authorizeEndpoint: "/authorize",
    tokenEndpoint: "/token",
    clientRegistrationEndpoint: "/register",
    scopesSupported: ["mcp"],
    resourceMetadata: { resource: `${base}/mcp`, authorization_servers: [base], resource_name: "Skillport peer" },
  });
  return provider;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> {
    const url = new URL(request.url);
    if (env.BENCH_OPEN_MCP === "true" && LOOPBACK.has(url.hostname) && url.pathname === "/mcp") {
      (ctx as any).props = { user: "local" };
      return mcp.fetch(request, env, ctx);
    }
    // Skillport answers the bare RFC 9728 path with the /mcp resource's document; so does the peer (the provider itself
    // serves it at /.well-known/oauth-protected-resource/mcp only).
    if (url.pathname === "/.well-known/oauth-protected-resource") {
      url.pathname += "/mcp";
      return oauth(env).fetch(new Request(url, request), env, ctx);
    }
    return oauth(env).fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
