import test from 'ava';
import { requireEngine } from './engine.js';
import { startServer, type RunningServer } from './server-process.js';

/**
 * One `capsule serve` shared by every test of the calling file: started (after checking the engine)
 * before the first test, stopped after the last; `cleanup` runs after the stop (e.g. leftover volumes).
 */
export function serverForThisFile(env: Record<string, string> = {}, cleanup?: (server: RunningServer) => Promise<void>): () => RunningServer {
  let server: RunningServer | undefined;
  test.before(async () => {
    await requireEngine();
    server = await startServer(env);
  });
  test.after.always(async () => {
    if (!server) return;
    await server.stop();
    await cleanup?.(server);
  });
  return () => {
    if (!server) throw new Error('the server of this file did not start (see the before hook)');
    return server;
  };
}
