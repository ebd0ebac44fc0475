import { startPrivateEngine } from '../test/helpers/private-engine.js';

/**
 * The engine a soak runs on: the machine's engine, or, for --engine-restart, a private dockerd
 * (test/helpers/private-engine.ts) the soak may stop and start without disturbing anything else.
 */
export interface SoakEngine {
  /** Environment for the server (DOCKER_HOST). */
  env: Record<string, string>;
  host: string;
  /** Stop the engine as a real shutdown (dockerd SIGTERMs its containers), then start it again. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function soakEngine(privateEngine: boolean): Promise<SoakEngine> {
  if (!privateEngine) {
    const host = process.env['DOCKER_HOST'] || 'unix:///var/run/docker.sock';
    return { env: {}, host, restart: () => Promise.reject(new Error('restart needs --engine-restart')), close: async () => undefined };
  }
  const engine = await startPrivateEngine('soak');
  return {
    env: { DOCKER_HOST: engine.host },
    host: engine.host,
    restart: async () => {
      await engine.stop();
      await engine.start();
    },
    close: () => engine.stop(),
  };
}
