import { useEffect, useState } from 'preact/hooks';
import type { OutputFeed } from './output-feed.js';

/** stdout and stderr side by side (stacked on a phone), fed by an OutputFeed. */
export function OutputView({ feed, note }: { feed: OutputFeed; note?: string | undefined }) {
  const [, redraw] = useState(0);
  useEffect(() => {
    // Re-render only for the empty hints, at most once a frame.
    let queued = false;
    feed.onChange = () => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => {
        queued = false;
        redraw((n) => n + 1);
      });
    };
    return () => {
      feed.onChange = null;
    };
  }, [feed]);
  return (
    <div class="output">
      {note ? <p class="note">{note}</p> : null}
      <div class="panes">
        {(['stdout', 'stderr'] as const).map((stream) => (
          <section class={`pane pane-${stream}`} key={stream}>
            <h4>
              {stream}
              {feed.size(stream) === 0 ? <span class="muted"> (empty)</span> : null}
            </h4>
            <pre ref={(el) => feed.attach(stream, el)} data-stream={stream} />
          </section>
        ))}
      </div>
    </div>
  );
}
