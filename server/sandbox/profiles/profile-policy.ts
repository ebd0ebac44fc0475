import { z } from 'zod';
import { PolicyDeniedError } from '../../errors.js';
import { capsuleMetrics } from '../../telemetry/metrics.js';

/**
 * A profile's command policy (`policy: {deny, allow, max_input_bytes}`): regular expressions matched
 * against a run_command / start_process command or a run_code program before any container exists.
 *
 * Defence in depth, never the boundary: `/bin/sh -c` can spell any command in ways no pattern
 * foresees (`r''m`, `$(printf '\162m')`, base64 | sh, a script file), so a policy stops accidents
 * and records intent (every refusal is counted and names its rule); the container's isolation is
 * what holds against a hostile caller. See SECURITY.md.
 *
 * The patterns are the operator's, trusted like the rest of the profile, but a pattern that
 * backtracks catastrophically would block the event loop on every call. Two cheap guards: a quantified
 * group that itself holds an unbounded quantifier (`(a+)+`, `(\w*\s?)*`) is refused at start-up, and
 * input longer than `max_input_bytes` (default 64 KiB) is refused without being matched. Neither
 * proves a pattern linear (overlapping alternatives such as `(a|a)*` pass): test patterns on long input.
 */

/** A rule: a JavaScript RegExp source, or `/source/flags` with flags from i, m, s, u. */
const pattern = z
  .string()
  .min(1)
  .max(1000)
  .superRefine((text, ctx) => {
    try {
      compileRule(text);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });

/** The YAML shape of `policy:` (profiles.ts adds it to the profile file schema). */
export const policyFileSchema = z.strictObject({
  deny: z.array(pattern).max(200).default([]),
  /** When present, only commands matching one of these run (an empty list refuses everything). */
  allow: z.array(pattern).max(200).optional(),
  max_input_bytes: z.number().int().min(1).max(16 * 1024 * 1024).default(64 * 1024),
});

export type PolicyFile = z.infer<typeof policyFileSchema>;

interface Rule {
  /** As the operator wrote it, for messages. */
  text: string;
  regex: RegExp;
}

/** A validated policy, its rules compiled once. */
export interface CommandPolicy {
  deny: Rule[];
  allow: Rule[] | null;
  maxInputBytes: number;
}

/** What a policy is checked on: a command (run_command, start_process) or a program (run_code). */
export type PolicyInput = 'command' | 'code';

const SLASHED = /^\/(.+)\/([imsu]*)$/s;

function compileRule(text: string): Rule {
  const slashed = SLASHED.exec(text);
  const [source, flags] = slashed ? [slashed[1]!, slashed[2]!] : [text, ''];
  let regex: RegExp;
  try {
    regex = new RegExp(source, flags);
  } catch (err) {
    throw new Error(`invalid regular expression ${JSON.stringify(text)}: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`);
  }
  const nested = nestedQuantifier(source);
  if (nested !== null) {
    throw new Error(`${JSON.stringify(text)} quantifies a group that holds an unbounded quantifier (at offset ${nested}): it can backtrack catastrophically; rewrite it without nesting`);
  }
  return { text, regex };
}

/** The quantifier at `i` (`*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`): its length and whether it repeats (max > 1) or is unbounded. */
function quantifierAt(source: string, i: number): { length: number; repeats: boolean; unbounded: boolean } | null {
  const c = source[i];
  if (c === '*' || c === '+') return { length: 1, repeats: true, unbounded: true };
  if (c === '?') return { length: 1, repeats: false, unbounded: false };
  const braces = c === '{' ? /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i)) : null;
  if (!braces) return null;
  const max = braces[2] === undefined ? Number(braces[1]) : braces[3] === '' ? Infinity : Number(braces[3]);
  return { length: braces[0].length, repeats: max > 1, unbounded: max === Infinity };
}

/** Length of a group's prefix after `(`: `?:`, `?=`, `?!`, `?<=`, `?<!`, `?<name>`. */
function groupPrefix(source: string, i: number): number {
  if (source[i] !== '?') return 0;
  if (source[i + 1] === '<' && source[i + 2] !== '=' && source[i + 2] !== '!') return source.indexOf('>', i) - i + 1;
  return source[i + 1] === '<' ? 3 : 2;
}

/** Offset of a repeating quantifier applied to a group that holds an unbounded one (star height > 1); null when none. */
export function nestedQuantifier(source: string): number | null {
  const groups: boolean[] = [];
  let lastGroupUnbounded = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    const q = quantifierAt(source, i);
    if (q) {
      if (q.repeats && lastGroupUnbounded) return i;
      if (q.unbounded && groups.length) groups[groups.length - 1] = true;
      i += q.length - 1;
      if (source[i + 1] === '?') i++;
      lastGroupUnbounded = false;
      continue;
    }
    lastGroupUnbounded = false;
    if (c === '\\') i++;
    else if (c === '[') for (i++; i < source.length && source[i] !== ']'; i++) i += source[i] === '\\' ? 1 : 0;
    else if (c === '(') {
      groups.push(false);
      i += Math.max(0, groupPrefix(source, i + 1));
    } else if (c === ')') {
      lastGroupUnbounded = groups.pop() ?? false;
      if (lastGroupUnbounded && groups.length) groups[groups.length - 1] = true;
    }
  }
  return null;
}

/** Compile a profile's `policy:` (already schema-checked, so every rule compiles). */
export function compilePolicy(file: PolicyFile): CommandPolicy {
  return { deny: file.deny.map(compileRule), allow: file.allow ? file.allow.map(compileRule) : null, maxInputBytes: file.max_input_bytes };
}

/** The policy as list_profiles shows it. */
export function describePolicy(policy: CommandPolicy): { deny: string[]; allow: string[] | null; max_input_bytes: number } {
  return { deny: policy.deny.map((r) => r.text), allow: policy.allow?.map((r) => r.text) ?? null, max_input_bytes: policy.maxInputBytes };
}

function refuse(profile: string, input: PolicyInput, rule: 'deny' | 'allow' | 'size', message: string): never {
  capsuleMetrics.policyDenials.add(1, { 'capsule.profile': profile, 'capsule.policy.input': input, 'capsule.policy.rule': rule });
  throw new PolicyDeniedError(message, { details: { profile, rule } });
}

/**
 * Refuse `text` (a command or a program) when the profile's policy says so: a deny rule matches, or
 * allow rules exist and none matches, or it is too long to be matched. Throws PolicyDeniedError
 * (`policy_denied: deny rule "…" of profile "…" matched`); the command itself is never echoed.
 */
export function enforcePolicy(policy: CommandPolicy | undefined, profile: string, input: PolicyInput, text: string): void {
  if (!policy) return;
  const bytes = Buffer.byteLength(text);
  if (bytes > policy.maxInputBytes) {
    refuse(profile, input, 'size', `the ${input} is ${bytes} bytes, over the ${policy.maxInputBytes} bytes profile "${profile}" matches its policy against (policy.max_input_bytes)`);
  }
  const denied = policy.deny.find((r) => r.regex.test(text));
  if (denied) refuse(profile, input, 'deny', `deny rule ${JSON.stringify(denied.text)} of profile "${profile}" matched the ${input}`);
  if (policy.allow && !policy.allow.some((r) => r.regex.test(text))) {
    refuse(profile, input, 'allow', `no allow rule of profile "${profile}" matched the ${input} (allowed: ${policy.allow.map((r) => JSON.stringify(r.text)).join(', ') || 'nothing'})`);
  }
}
