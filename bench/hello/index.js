// Baseline for the comparison benchmark: the smallest Worker, answering every request with a small JSON document.
// Its numbers are what wrangler dev's proxy and workerd cost on their own.
export default {
  fetch() {
    return Response.json({ hello: "world" });
  },
};
