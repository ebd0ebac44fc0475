import test from 'ava';
import type { ServerNotification } from '@modelcontextprotocol/sdk/types.js';
import { LiveOutput } from '../../server/mcp/live-output.js';
import { SessionLogLevel } from '../../server/mcp/session-log-level.js';

function collect(options: Partial<ConstructorParameters<typeof LiveOutput>[0]> = {}) {
  const sent: ServerNotification[] = [];
  const live = new LiveOutput({ send: async (n) => void sent.push(n), level: new SessionLogLevel(), maxBytesPerStream: 1 << 20, intervalMs: 50, ...options });
  return { sent, live };
}
const messages = (sent: ServerNotification[], logger: string) =>
  sent.filter((n) => n.method === 'notifications/message' && (n.params as { logger: string }).logger === logger).map((n) => (n.params as { data: string }).data);

test('batches a burst to a bounded rate and loses no bytes', async (t) => {
  const { sent, live } = collect();
  const expected: string[] = [];
  const started = Date.now();
  for (let i = 0; i < 2000; i++) {
    expected.push(`line ${i}\n`);
    live.push({ stream: 'stdout', data: Buffer.from(`line ${i}\n`) });
    if (i % 100 === 0) await new Promise((r) => setTimeout(r, 10));
  }
  await live.close();
  const elapsedS = (Date.now() - started) / 1000;
  const out = messages(sent, 'stdout');
  t.is(out.join(''), expected.join(''));
  t.true(out.length <= Math.ceil(elapsedS * 20) + 2, `${out.length} notifications in ${elapsedS}s`);
});

test('multi-byte characters split across chunks arrive whole', async (t) => {
  const { sent, live } = collect();
  const bytes = Buffer.from('héllo €');
  for (const b of bytes) live.push({ stream: 'stdout', data: Buffer.from([b]) });
  await live.close();
  t.is(messages(sent, 'stdout').join(''), 'héllo €');
});

test('stops at the per-stream cap with a marker; stderr is separate', async (t) => {
  const { sent, live } = collect({ maxBytesPerStream: 10 });
  live.push({ stream: 'stdout', data: Buffer.from('0123456789abcdef') });
  live.push({ stream: 'stdout', data: Buffer.from('more') });
  live.push({ stream: 'stderr', data: Buffer.from('err') });
  await live.close();
  const out = messages(sent, 'stdout').join('');
  t.true(out.startsWith('0123456789\n[live stdout stopped at 10 bytes'));
  t.notRegex(out, /more/);
  t.deepEqual(messages(sent, 'stderr'), ['err']);
});

test('progress notifications when a token is given; logging level honoured', async (t) => {
  const level = new SessionLogLevel();
  level.set('warning');
  const { sent, live } = collect({ progressToken: 'tok', level });
  live.push({ stream: 'stdout', data: Buffer.from('quiet\n') });
  live.push({ stream: 'stderr', data: Buffer.from('loud\n') });
  await live.close();
  t.deepEqual(messages(sent, 'stdout'), [], 'info-level stdout filtered by setLevel warning');
  t.deepEqual(messages(sent, 'stderr'), ['loud\n']);
  const progress = sent.filter((n) => n.method === 'notifications/progress');
  t.is(progress.length, 1);
  t.like(progress[0]!.params, { progressToken: 'tok', progress: 11, message: 'loud' });
});
