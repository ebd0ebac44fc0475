/**
 * The fixed mix of the soak benchmark: each case is a tool call and what its result must be.
 * A check returns null when the result is right, or what is wrong.
 */
export interface SoakResult {
  status: string;
  exit_code: number | null;
  stdout: string;
  stdout_bytes: number;
  truncated: boolean;
  files?: Array<{ path: string; content?: string }>;
  workspace?: { over_quota: boolean };
}

export interface SoakCase {
  name: string;
  /** Relative frequency in the mix. */
  weight: number;
  /** run_command arguments for the i-th run; `workspaceId` is the calling client's workspace. */
  args(i: number, workspaceId: string): Record<string, unknown>;
  check(r: SoakResult, i: number): string | null;
}

const expect = (cond: boolean, what: string) => (cond ? null : what);

export const SOAK_CASES: SoakCase[] = [
  {
    name: 'ok',
    weight: 40,
    args: (i) => ({ command: `echo soak-${i}` }),
    check: (r, i) => expect(r.status === 'exited' && r.exit_code === 0 && r.stdout === `soak-${i}\n`, `want exited 0 "soak-${i}"`),
  },
  {
    name: 'timeout',
    weight: 8,
    args: (i) => ({ command: `echo begin-${i}; sleep 10`, timeout_ms: 400 }),
    check: (r, i) => expect(r.status === 'timed_out' && r.stdout.startsWith(`begin-${i}`), 'want timed_out with partial output'),
  },
  {
    name: 'oom',
    weight: 8,
    args: () => ({ command: 'python3 -c "b = bytearray(200 * 1024 * 1024); print(len(b))"', limits: { memory_mb: 32 } }),
    check: (r) => expect(r.status === 'oom_killed', 'want oom_killed'),
  },
  {
    name: 'flood',
    weight: 8,
    args: () => ({ command: "head -c 5000000 /dev/zero | tr '\\0' a" }),
    check: (r) => expect(r.status === 'exited' && r.stdout_bytes === 5_000_000 && r.truncated, 'want 5000000 bytes counted, truncated'),
  },
  {
    name: 'exit_code',
    weight: 12,
    args: (i) => ({ command: `exit ${(i % 7) + 1}` }),
    check: (r, i) => expect(r.status === 'exited' && r.exit_code === (i % 7) + 1, `want exit code ${(i % 7) + 1}`),
  },
  {
    name: 'stdin',
    weight: 12,
    args: (i) => ({ command: 'cat', stdin: `stdin-${i}` }),
    check: (r, i) => expect(r.status === 'exited' && r.stdout === `stdin-${i}`, `want stdin echoed`),
  },
  {
    name: 'workspace',
    weight: 12,
    args: (i, workspaceId) => ({
      command: `cat in.txt && echo out-${i} > out.txt`,
      workspace_id: workspaceId,
      files: [{ path: 'in.txt', content: `in-${i}\n` }],
      collect: ['out.txt'],
    }),
    check: (r, i) =>
      expect(
        r.status === 'exited' && r.exit_code === 0 && r.stdout === `in-${i}\n` && r.workspace?.over_quota === false && r.files?.length === 1,
        'want the file read, out.txt collected, workspace within quota',
      ),
  },
];

/** The case of the i-th run: a fixed, interleaved sequence with the weights above. */
export function caseFor(i: number): SoakCase {
  const total = SOAK_CASES.reduce((n, c) => n + c.weight, 0);
  // A multiplicative stride spreads the cases evenly instead of running them in blocks.
  let slot = (i * 37) % total;
  for (const c of SOAK_CASES) {
    if (slot < c.weight) return c;
    slot -= c.weight;
  }
  return SOAK_CASES[0]!;
}
