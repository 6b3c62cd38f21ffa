// Stateless benchmark peer: Skillport's catalogue, four tools, prompts and skills extension, built the way Cloudflare's
// current guide builds a remote MCP server on Workers: `createMcpHandler` from `agents/mcp/server` with an MCP
// TypeScript SDK v2 (`@modelcontextprotocol/server`) server built per request (no Durable Object, no session; it
// serves the stateless 2026-07-28 revision and stateless 2025-era clients), behind @cloudflare/workers-oauth-provider.
//
// The catalogue and the tools are bench/peer's modules (the same embedded data, logic and result shapes); prompts.ts
// and skills.ts add what bench/peer lacks. Benchmark switch, as bench/peer's: with the var BENCH_OPEN_MCP = "true",
// a request to /mcp addressed to a loopback host skips the bearer check; everything else goes through the provider.
import OAuthProvider from "@cloudflare/workers-oauth-provider";
import { McpServer } from "@modelcontextprotocol/server";
import { createMcpHandler } from "agents/mcp/server";
import { env as workerEnv } from "cloudflare:workers";
import type { Surface } from "../../peer/src/catalogue";
import { registerTools, serveDownload } from "../../peer/src/tools";
import { registerPrompts } from "./prompts";
import { skillsExtension } from "./skills";

interface Env {
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

// The guide's pattern: a factory, called for every request, so concurrent requests never share a server.
function createServer(): McpServer {
  const server = new McpServer({ name: "skillport-peer-stateless", version: "0.1.0" }, { instructions: INSTRUCTIONS });
  const env = workerEnv as unknown as Env;
  registerTools(server as any, env, () => surfaceOfClient(server.server.getClientVersion()?.name));
  registerPrompts(server);
  skillsExtension.attach(server);
  return server;
}

const mcpHandler = createMcpHandler(createServer);
const apiHandler = {
  fetch(request: Request, env: Env, ctx: ExecutionContext) {
    return mcpHandler(request, env, ctx);
  },
};

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
      return new Response("Skillport benchmark peer (agents createMcpHandler + MCP TypeScript SDK v2, stateless). MCP at /mcp.\n");
    }
    return new Response("not found\n", { status: 404 });
  },
};

let provider: OAuthProvider<Env> | undefined;
function oauth(env: Env): OAuthProvider<Env> {
  const base = (env.PUBLIC_URL ?? "http://localhost:8787").replace(/\/$/, "");
  provider ??= new OAuthProvider<Env>({
    apiRoute: "/mcp",
    apiHandler: apiHandler as any,
    defaultHandler: defaultHandler as any,
    authorizeEndpoint: "/authorize",
    tokenEndpoint: "/token",
    clientRegistrationEndpoint: "/register",
    scopesSupported: ["mcp"],
    resourceMetadata: { resource: `${base}/mcp`, authorization_servers: [base], resource_name: "Skillport stateless peer" },
  });
  return provider;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> {
    const url = new URL(request.url);
    if (env.BENCH_OPEN_MCP === "true" && LOOPBACK.has(url.hostname) && url.pathname === "/mcp") {
      (ctx as any).props = { user: "local" };
      return apiHandler.fetch(request, env, ctx);
    }
    // Skillport answers the bare RFC 9728 path with the /mcp resource's document; so does this peer.
    if (url.pathname === "/.well-known/oauth-protected-resource") {
      url.pathname += "/mcp";
      return oauth(env).fetch(new Request(url, request), env, ctx);
    }
    return oauth(env).fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
