import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { InvalidInputError } from '../errors.js';
import { OUTPUT_DIR } from '../sandbox/container/container-spec.js';
import { inWorkspace, workspaceRelative } from '../sandbox/workspaces/workspace-paths.js';
import type { z } from 'zod';
import type { testCaseObject } from '../schemas/devtools-outputs.js';

/** One test case of the JUnit report (run_tests' schema type). */
export type TestCase = z.infer<typeof testCaseObject>;
export type TestStatus = TestCase['status'];

/** The outcome of a test run, read from its JUnit XML. */
export interface TestReport {
  passed: number;
  failed: number;
  skipped: number;
  duration_ms: number;
  cases: TestCase[];
}

export type TestFramework = 'pytest' | 'node';

/** Where the test run writes its JUnit XML (read back from the run's /capsule-out). */
export const JUNIT_FILE = 'junit.xml';
const JUNIT_PATH = `${OUTPUT_DIR}/${JUNIT_FILE}`;
const MAX_MESSAGE_CHARS = 2_000;

// preserveOrder keeps node:test's top-level cases and suites in run order; attribute values stay strings.
// htmlEntities also decodes numeric references: pytest writes newlines in messages as &#10;.
const parser = new XMLParser({
  htmlEntities: true,
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseAttributeValue: false,
  parseTagValue: false,
  trimValues: true,
});

/** One element in fast-xml-parser's preserveOrder shape: { tag: children, ':@': attributes } or { '#text': text }. */
type OrderedNode = Record<string, unknown> & { ':@'?: Record<string, string> };

function tagOf(node: OrderedNode): string | undefined {
  return Object.keys(node).find((k) => k !== ':@');
}

function children(node: OrderedNode, tag: string): OrderedNode[] {
  const value = node[tag];
  return Array.isArray(value) ? (value as OrderedNode[]) : [];
}

function textOf(nodes: OrderedNode[]): string {
  return nodes.map((n) => (typeof n['#text'] === 'string' ? n['#text'] : '')).join('');
}

function seconds(value: string | undefined): number {
  const s = Number(value);
  return Number.isFinite(s) && s > 0 ? Math.round(s * 1e6) / 1e3 : 0;
}

function shortMessage(attribute: string | undefined, body: string): string | undefined {
  const text = (attribute?.trim() || body.trim().split('\n').slice(0, 5).join('\n')).trim();
  if (!text) return undefined;
  return text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS - 3)}...` : text;
}

function toCase(node: OrderedNode): TestCase {
  const attrs = node[':@'] ?? {};
  let status: TestStatus = 'passed';
  let message: string | undefined;
  for (const child of children(node, 'testcase')) {
    const tag = tagOf(child);
    // JUnit's <error> (pytest: an exception outside the assertion, e.g. in a fixture) counts as a failure.
    if (tag === 'failure' || tag === 'error') {
      status = 'failed';
      message ??= shortMessage(child[':@']?.message, textOf(children(child, tag)));
    } else if (tag === 'skipped' && status !== 'failed') {
      status = 'skipped';
      message = shortMessage(child[':@']?.message, textOf(children(child, tag)));
    }
  }
  return {
    name: attrs.name ?? '',
    ...(attrs.classname ? { classname: attrs.classname } : {}),
    status,
    duration_ms: seconds(attrs.time),
    ...(message !== undefined ? { message } : {}),
  };
}

function collect(nodes: OrderedNode[], cases: TestCase[]): void {
  for (const node of nodes) {
    const tag = tagOf(node);
    if (tag === 'testcase') cases.push(toCase(node));
    else if (tag === 'testsuite' || tag === 'testsuites') collect(children(node, tag), cases);
  }
}

/** Parse pytest's or node:test's JUnit XML into counts and cases (errors count as failures). */
export function parseJUnitXml(xml: string): TestReport {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new InvalidInputError(`the test report is not well-formed XML: ${valid.err.msg} (line ${valid.err.line})`);
  const doc = parser.parse(xml) as OrderedNode[];
  const root = doc.find((n) => tagOf(n) === 'testsuites' || tagOf(n) === 'testsuite');
  if (!root) throw new InvalidInputError('the test report has no <testsuites> or <testsuite> element');
  const cases: TestCase[] = [];
  collect([root], cases);
  // The run's duration: the root's time when it has one (pytest's <testsuite>), else the sum of its
  // top-level entries (node:test puts top-level tests and suites directly under <testsuites>).
  const rootTag = tagOf(root)!;
  const top = children(root, rootTag).filter((n) => ['testcase', 'testsuite'].includes(tagOf(n) ?? ''));
  const rootTime = root[':@']?.time;
  const duration = rootTime !== undefined ? seconds(rootTime) : top.reduce((ms, n) => ms + seconds(n[':@']?.time), 0);
  const count = (s: TestStatus) => cases.filter((c) => c.status === s).length;
  return { passed: count('passed'), failed: count('failed'), skipped: count('skipped'), duration_ms: Math.round(duration * 1e3) / 1e3, cases };
}

/**
 * The argv (run with cwd /workspace) of a test run: human-readable output on stdout, JUnit XML in
 * /capsule-out/junit.xml. `path` (a file or folder relative to /workspace) narrows the run.
 */
export function testRunPlan(framework: TestFramework, path?: string): { argv: string[] } {
  // An absolute /workspace path can never be read as an option, whatever the file is called.
  const target = path === undefined ? [] : [inWorkspace(workspaceRelative(path, 'path'))];
  switch (framework) {
    case 'pytest':
      // -B: the root fs is read-only and /workspace is the user's; no .pyc or .pytest_cache anywhere.
      return { argv: ['python3', '-B', '-m', 'pytest', '-q', '-p', 'no:cacheprovider', `--junitxml=${JUNIT_PATH}`, ...target] };
    case 'node':
      return {
        argv: [
          'node',
          '--test',
          '--test-reporter=spec',
          '--test-reporter-destination=stdout',
          '--test-reporter=junit',
          `--test-reporter-destination=${JUNIT_PATH}`,
          ...target,
        ],
      };
    default:
      throw new InvalidInputError(`unknown test framework "${framework as string}"; use pytest or node`);
  }
}

const PYTEST_FILE = /(^|\/)(test_[^/]*\.py|[^/]*_test\.py|conftest\.py)$/;
const NODE_TEST_FILE = /(^|\/)[^/]*\.test\.(js|mjs|cjs|ts)$/;
const NODE_TEST_DIR_FILE = /(^|\/)test\/(.+\/)?[^/]+\.(js|mjs)$/;

/** Which framework a set of workspace paths calls for: pytest before node; null when neither fits. */
export function detectFramework(paths: string[]): TestFramework | null {
  if (paths.some((p) => PYTEST_FILE.test(p))) return 'pytest';
  if (paths.some((p) => NODE_TEST_FILE.test(p) || NODE_TEST_DIR_FILE.test(p))) return 'node';
  return null;
}
