const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Parse "512m", "64 MiB", "1g", "1048576" (binary units) into bytes; null when malformed. */
export function parseByteSize(value: string | number): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*$/i.exec(value);
  if (!m) return null;
  const bytes = Math.round(Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]!);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** 268435456 → "256 MiB"; for messages and list_profiles. */
export function formatByteSize(bytes: number): string {
  for (const [unit, size] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= size && bytes % (size / 16) === 0) return `${+(bytes / size).toFixed(2)} ${unit}`;
  }
  return `${bytes} B`;
}
