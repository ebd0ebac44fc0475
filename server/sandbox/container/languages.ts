/** The languages run_code accepts, and how each is started inside the sandbox image. */
export const LANGUAGES = ['python', 'javascript', 'typescript', 'bash'] as const;
export type Language = (typeof LANGUAGES)[number];

/** Where code files are placed: an anonymous volume, root-owned, so the sandbox user can read but not change them. */
export const JOB_DIR = '/capsule';

interface LanguageRunner {
  fileName: string;
  argv(file: string, args: string[]): string[];
}

const RUNNERS: Record<Language, LanguageRunner> = {
  python: { fileName: 'main.py', argv: (f, a) => ['python3', f, ...a] },
  // Node 22 detects ESM vs CommonJS syntax in a .js file, so both `import` and `require` work.
  javascript: { fileName: 'main.js', argv: (f, a) => ['node', f, ...a] },
  // Node 22's type stripping runs TypeScript directly; transform-types also accepts enums and namespaces.
  typescript: {
    fileName: 'main.ts',
    argv: (f, a) => ['node', '--experimental-transform-types', '--disable-warning=ExperimentalWarning', f, ...a],
  },
  bash: { fileName: 'main.sh', argv: (f, a) => ['bash', f, ...a] },
};

/** The code file name and argv for a language. */
export function languageCommand(language: Language, args: string[]): { fileName: string; path: string; argv: string[] } {
  const runner = RUNNERS[language];
  const path = `${JOB_DIR}/${runner.fileName}`;
  return { fileName: runner.fileName, path, argv: runner.argv(path, args) };
}
