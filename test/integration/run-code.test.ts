import test from 'ava';
import { assertNoContainer, realServices } from '../helpers/engine.js';
import { runtimeCases } from '../helpers/runtimes.js';

for (const rc of runtimeCases()) {
  test.before(rc.ready);
  const service = realServices({ profiles: [rc.profile(), rc.profile({ name: 'tiny', memoryBytes: 64 * 1024 ** 2 })] }).sandbox;

  const programs = [
    { language: 'python', code: 'import sys\nprint("py", sum(range(10)), sys.argv[1:])', expect: "py 45 ['x']\n" },
    { language: 'javascript', code: 'const os = require("node:os"); console.log("js", [1,2,3].map(n => n * 2).join(","), process.argv.slice(2))', expect: "js 2,4,6 [ 'x' ]\n" },
    { language: 'typescript', code: 'enum Color { Red = 1 }\ninterface P { n: number }\nconst p: P = { n: Color.Red };\nconsole.log("ts", p.n, process.argv.slice(2));', expect: "ts 1 [ 'x' ]\n" },
    { language: 'bash', code: 'echo "bash $1 ${BASH_VERSINFO[0]}"', expect: 'bash x 5\n' },
  ] as const;

  for (const p of programs) {
    test(`[${rc.label}] runs ${p.language}`, async (t) => {
      const r = await service.runCode({ language: p.language, code: p.code, args: ['x'] });
      t.is(r.status, 'exited', r.stderr);
      t.is(r.exit_code, 0, r.stderr);
      t.is(r.stdout, p.expect);
      await assertNoContainer(t, r.run_id);
    });
  }

  test(`[${rc.label}] a python exception is a non-zero exit with the traceback on stderr`, async (t) => {
    const r = await service.runCode({ language: 'python', code: 'raise ValueError("boom")' });
    t.is(r.status, 'exited');
    t.is(r.exit_code, 1);
    t.regex(r.stderr, /ValueError: boom/);
  });

  test(`[${rc.label}] python reads stdin`, async (t) => {
    const r = await service.runCode({ language: 'python', code: 'import sys\nprint(sys.stdin.read().upper())', stdin: 'shout' });
    t.is(r.stdout, 'SHOUT\n');
  });

  test(`[${rc.label}] code text is never interpreted by a shell`, async (t) => {
    const r = await service.runCode({ language: 'python', code: 'print("$(id -u) `whoami` ; rm -rf /")' });
    t.is(r.stdout, '$(id -u) `whoami` ; rm -rf /\n');
  });

  test(`[${rc.label}] memory over the limit is reported as oom_killed`, async (t) => {
    const r = await service.runCode({ profile: 'tiny', language: 'python', code: 'x = bytearray(256 * 1024 * 1024)\nprint("survived")' });
    t.is(r.status, 'oom_killed', `${r.status}: ${r.error ?? ''}`);
    t.is(r.runtime, rc.runtime);
    t.not(r.stdout, 'survived\n');
    await assertNoContainer(t, r.run_id);
  });
}
