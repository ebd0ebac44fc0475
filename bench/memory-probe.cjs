// Preloaded into the server by bench/sessions.ts (NODE_OPTIONS="--expose-gc --require <this file>"):
// on SIGUSR2, two full GCs, then one stderr line with process.memoryUsage(). Nothing in the server
// changes; without this preload the server has no gc() and no SIGUSR2 handler.
'use strict';
process.on('SIGUSR2', () => {
  globalThis.gc();
  globalThis.gc();
  process.stderr.write(`capsule-bench-memory ${JSON.stringify(process.memoryUsage())}\n`);
});
