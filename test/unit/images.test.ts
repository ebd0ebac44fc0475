import test from 'ava';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../server/version.js';

const dockerfiles = readdirSync(join(projectRoot, 'images'))
  .map((dir) => join(projectRoot, 'images', dir, 'Dockerfile'))
  .filter((f) => existsSync(f));

test('the extra CA (CAPSULE_EXTRA_CA) is only used in discarded build stages, never in a final image', (t) => {
  t.true(dockerfiles.length >= 3);
  for (const file of dockerfiles) {
    const text = readFileSync(file, 'utf8');
    const finalStage = text.slice(text.lastIndexOf('\nFROM '));
    t.notRegex(finalStage, /extra-ca/, `${file}: the final stage must not copy the extra CA`);
    t.notRegex(finalStage, /COPY --from=\S+ \/etc\/ssl/, `${file}: the final stage must not copy a build stage's trust store`);
  }
});
