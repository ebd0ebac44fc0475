import type { App } from '@modelcontextprotocol/ext-apps';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { ComponentChildren } from 'preact';
import { duration } from '../shared/format.js';
import { StatusBadge } from '../shared/status-badge.js';
import type { ProcessStarted, ProfiledResult, RunResult, TestsResult } from '../shared/types.js';
import { ProcessWatch } from './process-watch.js';
import { RunView } from './run-view.js';

export interface ToolCall {
  input: Record<string, unknown> | null;
  result: CallToolResult | null;
  cancelled: string | null;
}

/** Structured content of a tool result, if any. */
const structured = (r: CallToolResult) => (r.structuredContent ?? null) as Record<string, unknown> | null;

/** What the call is about, from its arguments (shown while it runs). */
function describe(input: Record<string, unknown> | null): string {
  if (!input) return '';
  if (typeof input['command'] === 'string') return input['command'];
  if (typeof input['language'] === 'string') return `${input['language']} code (${String(input['code'] ?? '').length} characters)`;
  if (typeof input['workspace_id'] === 'string') return `tests of ${input['workspace_id']}${input['path'] ? `/${String(input['path'])}` : ''}`;
  return '';
}

/** The run viewer: picks the view for what the tool returned. */
export function Viewer({ app, call, toolName }: { app: App; call: ToolCall; toolName: string | null }) {
  const s = call.result ? structured(call.result) : null;
  const what = describe(call.input);
  if (call.cancelled) return <Header title={toolName} what={what} badge={<StatusBadge status="killed" />} note={`Cancelled: ${call.cancelled}`} />;
  if (!call.result) return <Header title={toolName} what={what} badge={<StatusBadge status="running" />} note={call.input ? 'Running… the result appears here when it ends.' : 'Waiting for the tool call…'} />;
  if (!s) {
    const text = (call.result.content?.find((c) => c.type === 'text') as { text?: string } | undefined)?.text ?? '';
    return <Header title={toolName} what={what} badge={<StatusBadge status="failed" />} note={text} />;
  }
  if ('cases' in s && 'framework' in s) return <TestsView result={s as unknown as TestsResult} what={what} />;
  if ('process_id' in s && 'state' in s && !('stdout' in s)) return <ProcessWatch app={app} started={s as unknown as ProcessStarted} />;
  if ('profile' in s && typeof s['profile'] === 'object') {
    const p = s as unknown as ProfiledResult;
    const { profile, sandbox_profile, ...run } = p;
    return <RunView app={app} result={{ ...run, profile: sandbox_profile }} title={toolName ?? 'profile_code'} what={what} profileUri={profile.profile_uri} profileError={profile.error ?? null} />;
  }
  return <RunView app={app} result={s as unknown as RunResult} title={toolName ?? 'run'} what={what} />;
}

function Header({ title, what, badge, note }: { title: string | null; what: string; badge: ComponentChildren; note?: string }) {
  return (
    <header>
      <div class="rv-head">
        {badge} <strong>{title ?? 'Capsule'}</strong> <code>{what}</code>
      </div>
      {note ? <p class="note">{note}</p> : null}
    </header>
  );
}

function TestsView({ result: t, what }: { result: TestsResult; what: string }) {
  return (
    <article class="rv-tests">
      <div class="rv-head">
        <StatusBadge status={t.failed > 0 || t.report_error ? 'failed' : 'exited'} /> <strong>run_tests</strong> <code>{what}</code>
        <span class="muted">
          {t.framework}: {t.passed} passed, {t.failed} failed, {t.skipped} skipped in {duration(t.duration_ms)}
        </span>
      </div>
      {t.report_error ? <p class="error">{t.report_error}</p> : null}
      <table class="rv-cases">
        <tbody>
          {t.cases.map((c) => (
            <tr key={c.name}>
              <td>
                <StatusBadge status={c.status === 'passed' ? 'exited' : c.status === 'skipped' ? 'killed' : 'failed'} />
              </td>
              <td>
                {c.name}
                {c.message ? <pre>{c.message}</pre> : null}
              </td>
              <td class="muted">{duration(c.duration_ms)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="muted">
        Run <code>{t.run.run_id}</code>: {t.run.status}, exit {t.run.exit_code ?? '–'}
      </p>
    </article>
  );
}

