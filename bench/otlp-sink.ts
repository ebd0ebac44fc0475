import { spawn } from 'node:child_process';

/** A tiny OTLP/HTTP collector stand-in, run as its own process on 127.0.0.1 so its work is not charged to the benchmark's clients. */
const SINK = `
let requests = 0, bytes = 0;
const server = require('node:http').createServer((req, res) => {
  req.on('data', (d) => (bytes += d.length));
  req.on('end', () => { requests++; res.writeHead(200, { 'content-type': 'application/json' }); res.end('{}'); });
});
server.listen(0, '127.0.0.1', () => console.log('listening ' + server.address().port));
process.on('SIGTERM', () => { console.log('received ' + requests + ' ' + bytes); process.exit(0); });
`;

/** Start the sink; `close()` stops it and says how many export requests (and bytes) it received. */
export async function startSinkProcess(): Promise<{ url: string; close: () => Promise<{ requests: number; bytes: number }> }> {
  const child = spawn(process.execPath, ['-e', SINK], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const port = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the OTLP sink did not start in 10 s')), 10_000);
    child.stdout!.on('data', () => {
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      const m = /received (\d+) (\d+)/.exec(out);
      return { requests: Number(m?.[1] ?? 0), bytes: Number(m?.[2] ?? 0) };
    },
  };
}
