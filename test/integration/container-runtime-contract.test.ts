import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_REQUEST_TIMEOUTS_MS, DockerRuntime, type RequestTimeouts } from '../../server/runtime/docker/docker-runtime.js';
import { DEFAULT_SANDBOX_IMAGE } from '../../server/version.js';
import { containerRuntimeContract, type ContractPrograms } from '../contract/container-runtime.contract.js';
import { runtime } from '../helpers/engine.js';

// The Docker engine held to the runtime contract, with real programs of the sandbox image. Everything
// the suite creates carries this run's instance label; the contract removes it when it ends.

test.before(async () => {
  await runtime.info().catch((err: Error) => {
    throw new Error(`Docker engine not reachable (${err.message}): run scripts/provision-docker-engine.sh`);
  });
  if (!(await runtime.inspectImage(DEFAULT_SANDBOX_IMAGE))) throw new Error(`image ${DEFAULT_SANDBOX_IMAGE} missing: run make images`);
});

/** What `report` prints (see ContractPrograms.report), read from the kernel by the program itself. */
const REPORT = `echo "uid=$(id -u)"; echo "gid=$(id -g)"
sed -n -e 's/^NoNewPrivs:[[:space:]]*/no_new_privs=/p' -e 's/^CapEff:[[:space:]]*/cap_eff=/p' /proc/self/status
awk -v p="$1" '$2 == "/" { split($4, o, ","); r = o[1] } $2 == p { t = $4 } END { print "root=" r; if (t != "") print "tmpfs=" t }' /proc/mounts
sed -n 's/^options /dns_options=/p' /etc/resolv.conf`;

const programs: ContractPrograms = {
  // Positional arguments carry the text, so nothing is quoted into the script. stdout and stderr are
  // separate pipes in the engine: the pause makes their order observable.
  write: (pieces) => ['sh', '-c', pieces.map((p, i) => `printf '%s' "$${i + 1}"${p.stream === 'stderr' ? ' >&2' : ''}`).join('; sleep 0.1; '), 'sh', ...pieces.map((p) => p.text)],
  cat: () => ['cat'],
  exit: (code) => ['sh', '-c', `exit ${code}`],
  allocate: (bytes) => ['python3', '-c', `x = b'\\x01' * ${bytes}`],
  sleep: () => ['sleep', 'infinity'],
  report: (tmpfsPath) => ['sh', '-c', REPORT, 'sh', tmpfsPath],
};

/** A unix socket that takes connections and never answers: an engine that hangs. */
async function silentRuntime(timeoutMs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'capsule-silent-engine-'));
  const path = join(dir, 'docker.sock');
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket.on('close', () => sockets.delete(socket)));
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const requestTimeoutsMs = Object.fromEntries(Object.keys(DEFAULT_REQUEST_TIMEOUTS_MS).map((call) => [call, timeoutMs])) as RequestTimeouts;
  return {
    runtime: new DockerRuntime({ dockerHost: `unix://${path}`, requestTimeoutsMs }),
    close: async () => {
      sockets.forEach((s) => s.destroy());
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

containerRuntimeContract(test, () => runtime, {
  image: DEFAULT_SANDBOX_IMAGE,
  missingImage: 'capsule/no-such-image:0',
  labels: { 'capsule.managed': 'true', 'capsule.kind': 'contract', 'capsule.instance': `contract-${process.pid}-${randomBytes(3).toString('hex')}` },
  programs,
  unreachableRuntime: () => new DockerRuntime({ dockerHost: 'unix:///tmp/capsule-no-such-engine.sock' }),
  silentRuntime,
});
