import { z } from 'zod';
import { runResultShape } from './run-outputs.js';

// What profile_code and the server profiling tools return.

/** One line of a profile's "top functions by self time". */
export const topFrameObject = z.object({ function: z.string(), file: z.string(), line: z.number(), self_pct: z.number(), total_pct: z.number() });

/** The profile part of a profile_code result. */
export const profileReportObject = z.object({
  tool: z.enum(['0x', 'cprofile']),
  flamegraph_uri: z.string().nullable(),
  profile_uri: z.string().nullable(),
  top: z.array(topFrameObject),
  error: z.string().optional().describe('Why no profile was made, when none was.'),
});

const { profile: _sandboxProfileName, ...runResultWithoutProfile } = runResultShape;

/** A run result whose `profile` is the profile report; the sandbox profile's name moves to `sandbox_profile`. */
export const profileCodeOutput = z.object({
  ...runResultWithoutProfile,
  sandbox_profile: z.string().describe('Sandbox profile used.'),
  profile: profileReportObject,
});

export const serverProfilingStatusObject = z.object({
  running: z.boolean(),
  profile_id: z.string().nullable(),
  started_at: z.string().nullable(),
  label: z.string().nullable(),
});

export const serverProfileReportObject = z.object({
  profile_id: z.string(),
  duration_ms: z.number(),
  samples: z.number(),
  top: z.array(topFrameObject),
  flamegraph_uri: z.string(),
  cpuprofile_uri: z.string(),
});
