import type { Duplex } from 'node:stream';
import type { AttachedIo, CallOptions } from '../container-runtime.js';
import type { DockerClient } from './docker-client.js';
import { demuxDockerStream } from './docker-stream-demux.js';

function dialAttach(client: DockerClient, id: string, withStdin: boolean, abortSignal: AbortSignal): Promise<Duplex> {
  // hijack upgrades the connection so stdin can be written and half-closed (EOF) while output is read.
  // Dialled directly rather than through container.attach(): that sends its options as a JSON request
  // body, and haproxy-based socket proxies (docker-socket-proxy, images/docker-proxy) drop the Upgrade
  // of a request with a body, so stdin never reached the container. An empty `file` makes the request
  // `Content-Length: 0`, which every proxy upgrades (measured through images/docker-proxy).
  return new Promise<Duplex>((resolve, reject) =>
    client.docker.modem.dial(
      {
        path: `/containers/${id}/attach?`,
        method: 'POST',
        options: { stream: true, stdout: true, stderr: true, stdin: withStdin },
        file: Buffer.alloc(0),
        hijack: withStdin,
        openStdin: false,
        isStream: true,
        abortSignal,
        statusCodes: { 101: true, 200: true, 404: 'no such container', 409: 'container stopped/paused', 500: 'server error' },
      },
      (err, out) => (err ? reject(err) : resolve(out as unknown as Duplex)),
    ),
  );
}

/** When the connection is over. Either way it needs its bytes read, except the socket of a plain (not upgraded) response. */
function connectionClosed(stream: Duplex): Promise<void> {
  return new Promise<void>((resolve) => {
    // 'close' alone is not enough: a half-open hijacked socket can report 'end' and stay open.
    stream.once('end', resolve).once('close', resolve).on('error', () => resolve());
    // A plain response's own 'end' waits for its body to be read; its socket closes when the engine
    // hangs up, unless unread output has filled the buffers (backpressure) and the hang-up is not read yet.
    (stream as { socket?: Duplex | null }).socket?.once('close', () => resolve());
  });
}

/** stdout/stderr (and stdin when the container was created with it) of one container, demultiplexed. */
export async function attach(client: DockerClient, id: string, options?: CallOptions): Promise<AttachedIo> {
  const container = client.docker.getContainer(id);
  const info = await client.call('attach', options, (abortSignal) => container.inspect({ abortSignal }));
  const withStdin = Boolean(info.Config.OpenStdin);
  const stream = await client.openStream('attach', options, (abortSignal) => dialAttach(client, id, withStdin, abortSignal));
  return {
    output: demuxDockerStream(stream),
    stdin: withStdin ? stream : null,
    closed: connectionClosed(stream),
    destroy: () => stream.destroy(),
  };
}
