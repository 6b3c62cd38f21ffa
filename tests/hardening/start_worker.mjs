// Starts the worker like `wrangler dev` does, through wrangler's own API (unstable_startWorker), but with the
// inspector off: see HardWorker in harness.py for why. Logs (console lines, request lines) go to stdout as with
// `wrangler dev`; SIGTERM stops it.
//   node tests/hardening/start_worker.mjs CONFIG PORT PERSIST_DIR [NAME=VALUE ...]
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(fileURLToPath(new URL("../../package.json", import.meta.url)));
const { unstable_startWorker } = require("wrangler");

const [config, port, persist, ...vars] = process.argv.slice(2);
const bindings = {};
for (const pair of vars) {
  const at = pair.indexOf("=");
  bindings[pair.slice(0, at)] = { type: "plain_text", value: pair.slice(at + 1) };
}
const worker = await unstable_startWorker({
  config,
  bindings,
  dev: {
    server: { hostname: "127.0.0.1", port: Number(port) },
    inspector: false,
    persist,
    logLevel: "log",
    watch: false,
  },
});
await worker.ready;
const stop = async () => {
  await worker.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
