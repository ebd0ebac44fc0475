/**
 * One signal that aborts when any of `sources` does, with the reason of the first. Linked by listeners
 * that `unlink` removes, rather than AbortSignal.any: every run links the server's life-long shutdown
 * signal, and an AbortSignal.any composite stays referenced by a long-lived source (nodejs/node#55351),
 * one leak per run.
 */
export function linkSignals(sources: Array<AbortSignal | undefined>): { signal: AbortSignal; unlink: () => void } {
  const controller = new AbortController();
  const present = sources.filter((s): s is AbortSignal => s !== undefined);
  const listeners = present.map((source) => {
    const onAbort = () => {
      controller.abort(source.reason);
      unlink();
    };
    return { source, onAbort };
  });
  const unlink = () => listeners.forEach(({ source, onAbort }) => source.removeEventListener('abort', onAbort));
  const already = present.find((s) => s.aborted);
  if (already) controller.abort(already.reason);
  else listeners.forEach(({ source, onAbort }) => source.addEventListener('abort', onAbort, { once: true }));
  return { signal: controller.signal, unlink };
}
