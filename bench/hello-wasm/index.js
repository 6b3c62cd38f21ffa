// hello-world (as bench/hello) plus Skillport's wasm: importing build/index.js compiles and instantiates the module
// at isolate start (wasm-bindgen's glue does it at the top level), then every request is answered here in JS.
import * as skillport from "../../build/index.js";

export default {
  fetch() {
    return Response.json({ hello: "world", exports: Object.keys(skillport).length });
  },
};
