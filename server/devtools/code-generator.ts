import { InvalidInputError } from '../errors.js';
import type { CallOptions, SandboxService } from '../sandbox/sandbox-service.js';
import { extractCode } from './code-extract.js';
import { runSummary, type RunSummary } from './devtools-service.js';
import type { ChatMessage } from './model-client.js';
import type { z } from 'zod';
import type { codegenAttemptObject } from '../schemas/devtools-outputs.js';

export const CODEGEN_LANGUAGES = ['python', 'javascript', 'typescript', 'bash'] as const;
export type CodegenLanguage = (typeof CODEGEN_LANGUAGES)[number];

/** Something that answers a conversation: the client's model through MCP sampling, or an OpenAI-compatible endpoint. */
export type Completer = (messages: ChatMessage[], systemPrompt: string) => Promise<{ text: string; model?: string }>;

/** One round of generate_code (its schema's type). */
export type Attempt = z.infer<typeof codegenAttemptObject>;

const FEEDBACK_CHARS = 4000;

/**
 * generate_code: ask a model for code, run it (with the given tests appended) in a fresh sandbox, feed
 * failures back, up to max_attempts. Model output is untrusted code and only ever runs in the sandbox.
 */
export class CodeGenerator {
  constructor(private readonly sandbox: SandboxService) {}

  async generate(
    input: { task: string; language: CodegenLanguage; tests?: string; max_attempts?: number; profile?: string; timeout_ms?: number },
    complete: Completer,
    options: CallOptions,
  ): Promise<{ code: string | null; passed: boolean; result: RunSummary | null; attempts: Attempt[] }> {
    const maxAttempts = input.max_attempts ?? 3;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 5) throw new InvalidInputError('max_attempts must be from 1 to 5');
    if (!input.task.trim()) throw new InvalidInputError('task must not be empty');
    const system =
      `You write ${input.language} programs that run with no network access and no extra packages. ` +
      'Answer with exactly one fenced code block containing the whole program, and nothing else.';
    const messages: ChatMessage[] = [
      {
        role: 'user',
        content: `${input.task}${input.tests ? `\n\nYour program must pass these tests, which will be appended to it and run as one ${input.language} program:\n\`\`\`${input.language}\n${input.tests}\n\`\`\`` : ''}`,
      },
    ];
    const attempts: Attempt[] = [];
    let last: { code: string | null; result: RunSummary | null } = { code: null, result: null };
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const answer = await complete(messages, system);
      messages.push({ role: 'assistant', content: answer.text });
      const code = extractCode(answer.text, input.language);
      if (!code) {
        attempts.push({ attempt, code: null, ...(answer.model ? { model: answer.model } : {}), status: 'no_code', exit_code: null, passed: false, feedback: 'no fenced code block in the answer' });
        messages.push({ role: 'user', content: 'Your answer had no fenced code block. Reply with the whole program in one fenced code block.' });
        continue;
      }
      const program = input.tests ? `${code}\n\n${input.tests}\n` : code;
      const result = runSummary(
        await this.sandbox.runCode(
          { language: input.language, code: program, ...(input.profile ? { profile: input.profile } : {}), ...(input.timeout_ms ? { timeout_ms: input.timeout_ms } : {}) },
          options,
        ),
      );
      const passed = result.status === 'exited' && result.exit_code === 0;
      last = { code, result };
      const feedback = passed ? undefined : `status ${result.status}, exit code ${result.exit_code}\nstderr:\n${result.stderr.slice(-FEEDBACK_CHARS)}\nstdout:\n${result.stdout.slice(-FEEDBACK_CHARS / 2)}`;
      attempts.push({ attempt, code, ...(answer.model ? { model: answer.model } : {}), status: result.status, exit_code: result.exit_code, passed, ...(feedback ? { feedback } : {}) });
      if (passed) return { code, passed: true, result, attempts };
      messages.push({ role: 'user', content: `Running it${input.tests ? ' with the tests' : ''} failed:\n${feedback}\nFix it and reply with the whole corrected program in one fenced code block.` });
    }
    return { code: last.code, passed: false, result: last.result, attempts };
  }
}
