import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root: the nearest folder above this file holding Capsule's package.json (works from server/ and dist/server/). */
export const projectRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate) && JSON.parse(readFileSync(candidate, 'utf8')).name === 'capsule') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find Capsule package.json above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
})();

const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as {
  version: string;
  capsule: { sandboxImage: string; egressImage: string };
};

/** Capsule's version, from package.json. */
export const CAPSULE_VERSION: string = pkg.version;
/** The sandbox image tag built by `make images`: the single place it is defined is package.json. */
export const DEFAULT_SANDBOX_IMAGE: string = pkg.capsule.sandboxImage;
/** The egress proxy image tag built by `images/build.sh egress-proxy` (package.json capsule.egressImage). */
export const DEFAULT_EGRESS_IMAGE: string = pkg.capsule.egressImage;
