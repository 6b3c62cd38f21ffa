// hello-world (as bench/hello) that reads one KV key per request, as Skillport reads its last good copies.
export default {
  async fetch(request, env) {
    const value = await env.CATALOGUE.get("snapshot");
    return Response.json({ hello: "world", found: value !== null });
  },
};
