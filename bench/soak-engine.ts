/**
 * The engine a soak runs on: the machine's engine, or, for --engine-restart, a private dockerd the
 * soak may stop and start without disturbing anything else on the machine.
 */
export interface SoakEngine {
  /** Environment for the server (DOCKER_HOST). */
  env: Record<string, string>;
  host: string;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function soakEngine(privateEngine: boolean): Promise<SoakEngine> {
  const host = process.env['DOCKER_HOST'] || 'unix:///var/run/docker.sock';
  if (!privateEngine) {
    return { env: {}, host, restart: () => Promise.reject(new Error('restart needs --engine-restart')), close: async () => undefined };
  }
  throw new Error('--engine-restart needs the private engine harness (test/helpers/private-engine.ts)');
}
