import { InvalidInputError } from '../errors.js';
import { JOB_DIR } from '../sandbox/container/languages.js';
import { ESLINT_CONFIG, ESLINT_CONFIG_NAME, JS_ANALYZER, JS_ANALYZER_NAME, NODE_SHIM, NODE_SHIM_NAME } from './analysis-js-runner.js';
import { PYTHON_ANALYZER, PYTHON_ANALYZER_NAME } from './analysis-python-runner.js';

export const ANALYSIS_LANGUAGES = ['python', 'javascript', 'typescript'] as const;
export type AnalysisLanguage = (typeof ANALYSIS_LANGUAGES)[number];

/** What analyze_code copies into /capsule (beside the code file) and the argv that runs the analysis. */
export interface AnalysisPlan {
  files: Array<{ name: string; content: string }>;
  argv: string[];
}

const EXTENSIONS: Record<AnalysisLanguage, RegExp> = {
  python: /\.py$/,
  javascript: /\.(js|mjs|cjs)$/,
  typescript: /\.(ts|mts|cts)$/,
};

/** Check a code file name: a plain name with the language's extension that cannot clash with the helpers. */
export function checkAnalysisFileName(language: AnalysisLanguage, fileName: string): void {
  if (!(ANALYSIS_LANGUAGES as readonly string[]).includes(language)) {
    throw new InvalidInputError(`analyze_code supports ${ANALYSIS_LANGUAGES.join(', ')}; got "${language as string}"`);
  }
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/.test(fileName) || !EXTENSIONS[language].test(fileName)) {
    throw new InvalidInputError(`file name "${fileName}" must be a plain name (letters, digits, _ . -) ending in ${EXTENSIONS[language].source.slice(2, -1)}`);
  }
  if (fileName.startsWith('capsule_')) throw new InvalidInputError(`file name "${fileName}" is reserved (capsule_*)`);
}

/**
 * The analysis of /capsule/<fileName>: syntax check, linter and metrics, each writing its
 * machine-readable output into /capsule-out (read back with parseAnalysis). Nothing runs the code.
 */
export function analysisPlan(language: AnalysisLanguage, fileName: string): AnalysisPlan {
  checkAnalysisFileName(language, fileName);
  const target = `${JOB_DIR}/${fileName}`;
  if (language === 'python') {
    return {
      files: [{ name: PYTHON_ANALYZER_NAME, content: PYTHON_ANALYZER }],
      argv: ['python3', '-B', `${JOB_DIR}/${PYTHON_ANALYZER_NAME}`, target],
    };
  }
  return {
    files: [
      { name: ESLINT_CONFIG_NAME, content: ESLINT_CONFIG },
      { name: JS_ANALYZER_NAME, content: JS_ANALYZER },
      ...(language === 'typescript' ? [{ name: NODE_SHIM_NAME, content: NODE_SHIM }] : []),
    ],
    // stripTypeScriptTypes is still marked experimental in Node 22 and would warn on stderr.
    argv: ['node', '--disable-warning=ExperimentalWarning', `${JOB_DIR}/${JS_ANALYZER_NAME}`, language, target],
  };
}
