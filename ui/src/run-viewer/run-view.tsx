import type { App } from '@modelcontextprotocol/ext-apps';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { FlameGraph } from '../shared/flame-graph.js';
import { duration } from '../shared/format.js';
import { OutputFeed } from '../shared/output-feed.js';
import { OutputView } from '../shared/output-view.js';
import { NetworkDenied, ResultFacts } from '../shared/result-facts.js';
import { StatsChart } from '../shared/stats-chart.js';
import { StatusBadge } from '../shared/status-badge.js';
import type { ProfileJson, RunResult } from '../shared/types.js';
import { useMemoryLimit } from './bridge.js';

/** A finished run: status, output, stats over time, the result's facts, and a profile's flame graph. */
export function RunView(props: { app: App; result: RunResult; title: string; what: string; profileUri?: string | null; profileError?: string | null; feed?: OutputFeed }) {
  const { app, result: r } = props;
  const feed = useMemo(() => props.feed ?? new OutputFeed(), [props.feed]);
  const limit = useMemoryLimit(app, r.profile);
  useEffect(() => {
    if (!props.feed) feed.setText(r.stdout, r.stderr);
  }, [r, props.feed]);
  return (
    <article class="rv-run" data-run-id={r.run_id} data-status={r.status}>
      <div class="rv-head">
        <StatusBadge status={r.status} exitCode={r.exit_code} /> <strong>{props.title}</strong> <code>{props.what}</code>
        <span class="muted">
          exit {r.exit_code ?? '–'} · {duration(r.duration_ms)} · {r.profile} · <code>{r.run_id}</code>
        </span>
      </div>
      <OutputView feed={feed} />
      <StatsChart stats={r.stats} memoryLimit={limit} />
      <ResultFacts result={r} />
      {r.network ? <NetworkDenied network={r.network} /> : null}
      {props.profileError ? <p class="error">Profile: {props.profileError}</p> : null}
      {props.profileUri ? <ProfileView app={app} uri={props.profileUri} /> : null}
    </article>
  );
}

/** profile.json read through the host (resources/read of capsule://runs/{id}/profile.json). */
function ProfileView({ app, uri }: { app: App; uri: string }) {
  const [profile, setProfile] = useState<ProfileJson | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    app
      .readServerResource({ uri })
      .then((r) => {
        const c = r.contents[0];
        setProfile(JSON.parse(c && 'text' in c ? c.text : '{}') as ProfileJson);
      })
      .catch((err: unknown) => setError((err as Error).message));
  }, [uri]);
  if (error) return <p class="error">Flame graph: {error}</p>;
  return profile ? (
    <section>
      <h3>Flame graph <span class="muted">({profile.tool})</span></h3>
      <FlameGraph profile={profile} />
    </section>
  ) : (
    <p class="muted">Loading the flame graph…</p>
  );
}
