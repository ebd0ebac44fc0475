// The shapes the UI reads, derived from the server's own zod schemas (type-only imports: nothing of
// the server is bundled), so a field renamed on the server fails the UI's type check.
import type { z } from 'zod';
import type { runArtifactList, runListObject, runStatsView, systemSummaryObject, whoamiObject } from '../../../server/schemas/dashboard.js';
import type { runTestsOutput } from '../../../server/schemas/devtools-outputs.js';
import type { containerStatsOutput, readProcessOutputOutput, startProcessOutput, waitProcessOutput } from '../../../server/schemas/process-outputs.js';
import type { profileCodeOutput } from '../../../server/schemas/profiling-outputs.js';
import type { runRecordObject, runRecordSummaryObject, runResultObject, runStatsObject } from '../../../server/schemas/run-outputs.js';
import type { fileEntryObject, listFilesOutput, workspaceInfoObject } from '../../../server/schemas/workspace-outputs.js';

/**
 * Fields later server changes add; rendered when present. `engine` names the engine a run used
 * (several engines), `network.denied` the connections a networked profile refused.
 */
interface Later {
  engine?: string;
  network?: { denied?: unknown; [key: string]: unknown };
}

export type RunResult = z.infer<typeof runResultObject> & Later;
export type RunStats = z.infer<typeof runStatsObject>;
export type RunSummary = z.infer<typeof runRecordSummaryObject> & Later;
export type RunRecord = Omit<z.infer<typeof runRecordObject>, 'result'> & Later & { result: RunResult | null };
export type RunList = Omit<z.infer<typeof runListObject>, 'runs'> & { runs: RunSummary[] };
export type RunStatsView = z.infer<typeof runStatsView>;
export type ArtifactList = z.infer<typeof runArtifactList>;
export type Whoami = z.infer<typeof whoamiObject>;
export type SystemSummary = z.infer<typeof systemSummaryObject>;
export type WorkspaceInfo = z.infer<typeof workspaceInfoObject>;
export type FileEntry = z.infer<typeof fileEntryObject>;
export type FileListing = z.infer<typeof listFilesOutput>;
export type ProfiledResult = z.infer<typeof profileCodeOutput> & Later;
export type TestsResult = z.infer<typeof runTestsOutput>;
export type ProcessStarted = z.infer<typeof startProcessOutput>;
export type ProcessOutput = z.infer<typeof readProcessOutputOutput>;
export type ProcessWait = z.infer<typeof waitProcessOutput>;
export type ContainerStats = z.infer<typeof containerStatsOutput>;

export type RunState = RunSummary['status'];

/** A flame graph node as profile.json keeps it (d3-flame-graph's input). */
export interface FlameNode {
  name: string;
  value: number;
  children?: FlameNode[];
}

/** profile.json of a profiled run: the top functions, and the tree when the profiler gave one. */
export interface ProfileJson {
  tool: '0x' | 'cprofile';
  unit: string;
  top: Array<{ function: string; file: string; line: number; self_pct: number; total_pct: number }>;
  tree?: FlameNode;
}
