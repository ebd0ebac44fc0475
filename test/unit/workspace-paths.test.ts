import test from 'ava';
import { InvalidInputError } from '../../server/errors.js';
import { prepareFiles } from '../../server/sandbox/workspaces/workspace-files.js';
import { isInsideWorkspace, workspaceRelative } from '../../server/sandbox/workspaces/workspace-paths.js';
import { archiveEntryName } from '../../server/sandbox/workspaces/workspace-archive.js';

test('paths normalise to workspace-relative form', (t) => {
  t.is(workspaceRelative('a/b.txt'), 'a/b.txt');
  t.is(workspaceRelative('./a//b.txt'), 'a/b.txt');
  t.is(workspaceRelative('/workspace/a/b.txt'), 'a/b.txt');
  t.is(workspaceRelative('/workspace'), '');
  t.is(workspaceRelative(''), '');
  t.is(workspaceRelative('dir/'), 'dir');
});

const corpus = ['../x', 'a/../../x', 'a/..', '/etc/passwd', '/workspace/../etc', '/workspacex/a', 'a\0b', 'a\nb', 'a\rb'];
for (const bad of corpus) {
  test(`rejects ${JSON.stringify(bad)} naming it`, (t) => {
    const err = t.throws(() => workspaceRelative(bad), { instanceOf: InvalidInputError });
    t.true(err!.message.includes(JSON.stringify(bad).slice(1, -1)) || err!.message.includes(bad));
  });
}

test('archive entries: absolute and ".." names are refused', (t) => {
  t.is(archiveEntryName('src/a.py'), 'src/a.py');
  t.throws(() => archiveEntryName('/etc/x'), { message: /absolute/ });
  t.throws(() => archiveEntryName('a/../../x'), { message: /\.\./ });
});

test('inside checks', (t) => {
  t.true(isInsideWorkspace('/workspace/a/../b'));
  t.false(isInsideWorkspace('/workspace/../etc'));
  t.false(isInsideWorkspace('/workspacefoo'));
});

test('files: decoded, deduplicated, modes bounded', (t) => {
  const [f] = prepareFiles([{ path: 'x.bin', content: Buffer.from([1, 2]).toString('base64'), encoding: 'base64', mode: 0o755 }]);
  t.deepEqual([...f!.content], [1, 2]);
  t.throws(() => prepareFiles([{ path: 'a', content: '' }, { path: './a', content: '' }]), { message: /given twice/ });
  t.throws(() => prepareFiles([{ path: 'a', content: '', mode: 0o4755 }]), { message: /no setuid/ });
  t.throws(() => prepareFiles([{ path: 'a', content: '!!', encoding: 'base64' }]), { message: /not valid base64/ });
});
