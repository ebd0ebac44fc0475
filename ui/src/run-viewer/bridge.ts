import type { App } from '@modelcontextprotocol/ext-apps';
import { useEffect, useState } from 'preact/hooks';

/** A tool through the host's bridge; an isError answer becomes an Error with its text. */
export async function callTool<T>(app: App, name: string, args: Record<string, unknown>): Promise<T> {
  const r = await app.callServerTool({ name, arguments: args });
  const text = (r.content?.find((c) => c.type === 'text') as { text?: string } | undefined)?.text ?? '';
  if (r.isError && !r.structuredContent) throw new Error(text || `${name} failed`);
  return r.structuredContent as T;
}

/** The profile's memory limit for the chart, from list_profiles (asked once). */
export function useMemoryLimit(app: App, profile: string): number | null {
  const [limit, setLimit] = useState<number | null>(null);
  useEffect(() => {
    callTool<{ profiles: Array<{ name: string; memory_bytes: number }> }>(app, 'list_profiles', {})
      .then((r) => setLimit(r.profiles.find((p) => p.name === profile)?.memory_bytes ?? null))
      .catch(() => setLimit(null));
  }, [profile]);
  return limit;
}
