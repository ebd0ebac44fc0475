import test from 'ava';
import { OTHER_HOSTS } from '../../server/egress/access-log.js';
import { EgressRuns } from '../../server/sandbox/egress/egress-runs.js';
import { LineSplitter } from '../../server/sandbox/egress/line-splitter.js';
import { silentLog } from '../helpers/fixtures.js';

// The registered runs and their access-log tally: coalesced registry writes, the summary's wait for
// the proxy's last lines, bounded tallies, and lines split from chunks.

const reg = (runId: string, profile = 'pkgs') => ({ runId, profile, tokenSha256: 'x'.repeat(64), placeholders: {} });
const line = (runId: string, host: string, decision: 'allowed' | 'denied', profile = 'pkgs') =>
  JSON.stringify({ source: 'squid', ts: '1.0', user: `${runId}.${profile}`, method: 'CONNECT', host, port: '443', status: decision === 'allowed' ? '200' : '403', bytes_out: '1', decision, reason: decision === 'denied' ? 'not_allowed' : '-' });

test('registry writes are coalesced: asks made during a write share one write after it, which holds them all', async (t) => {
  const written: string[] = [];
  let release!: () => void;
  let gate = new Promise<void>((r) => (release = r));
  const runs = new EgressRuns(silentLog, async (content) => {
    written.push(content);
    await gate;
  }, { quietMs: 10, maxMs: 100 });
  const first = runs.add(reg('run_a'));
  await new Promise((r) => setImmediate(r));
  const later = [runs.add(reg('run_b')), runs.add(reg('run_c')), runs.add(reg('run_d'))];
  t.is(written.length, 1, 'one write at a time');
  gate = Promise.resolve();
  release();
  await Promise.all([first, ...later]);
  t.is(written.length, 2, 'the three asks made during the first write shared the second');
  t.deepEqual(Object.keys(JSON.parse(written[1]!).runs), ['run_a', 'run_b', 'run_c', 'run_d']);
});

test('a failed write rejects its callers and does not block the next', async (t) => {
  let fail = true;
  const runs = new EgressRuns(silentLog, async () => {
    if (fail) throw new Error('engine said no');
  }, { quietMs: 10, maxMs: 100 });
  await t.throwsAsync(runs.add(reg('run_a')), { message: 'engine said no' });
  fail = false;
  await t.notThrowsAsync(runs.add(reg('run_b')));
});

test('the summary waits until the log was quiet, counts only the run\'s own lines, and forgets the run', async (t) => {
  const runs = new EgressRuns(silentLog, async () => undefined, { quietMs: 80, maxMs: 2000 });
  await runs.add(reg('run_a'));
  await runs.add(reg('run_b'));
  const summary = runs.summary('run_a');
  setTimeout(() => runs.line(line('run_a', 'late.example', 'allowed')), 50);
  runs.line(line('run_a', 'pkg.example', 'allowed'));
  runs.line(line('run_a', 'claimed.example', 'denied', 'other'));
  runs.line(line('run_b', 'b.example', 'denied'));
  runs.line(line('run_zz', 'stranger.example', 'denied'));
  runs.line('squid starting up (not an access record)');
  const started = Date.now();
  t.deepEqual(await summary, { allowed: [{ host: 'late.example', port: 443, requests: 1 }, { host: 'pkg.example', port: 443, requests: 1 }], denied: [] });
  t.true(Date.now() - started >= 80 + 40, 'a line during the wait extended it');
  runs.remove('run_a');
  t.false(runs.file().includes('run_a'));
  t.deepEqual(await runs.summary('run_a'), { allowed: [], denied: [] });
});

test('a run that tries many names is tallied in bounded entries', async (t) => {
  const runs = new EgressRuns(silentLog, async () => undefined, { quietMs: 1, maxMs: 10 });
  await runs.add(reg('run_a'));
  for (let i = 0; i < 150; i++) runs.line(line('run_a', `host${i}.example`, 'denied'));
  const { denied } = await runs.summary('run_a');
  t.is(denied.length, 100);
  t.deepEqual(denied.find((d) => d.host === OTHER_HOSTS), { host: OTHER_HOSTS, port: null, attempts: 51 });
  t.is(denied.reduce((n, d) => n + d.attempts, 0), 150, 'every attempt is counted');
});

test('lines are split across chunks; an endless line is cut at 64 KiB and the rest of it dropped', (t) => {
  const s = new LineSplitter();
  t.deepEqual(s.push(Buffer.from('a\nb')), ['a']);
  t.deepEqual(s.push(Buffer.from('c\n\nd\n')), ['bc', '', 'd']);
  const long = s.push(Buffer.from('x'.repeat(70 * 1024)));
  t.is(long.length, 1);
  t.is(long[0]!.length, 64 * 1024);
  t.deepEqual(s.push(Buffer.from('yyy\nnext\n')), ['next'], 'the tail of the cut line is dropped');
});
