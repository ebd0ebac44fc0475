import { marked, type Token, type Tokens } from 'marked';

// Info-string names models use for each language, by canonical name.
const ALIASES: Record<string, string[]> = {
  python: ['python', 'py', 'python3', 'py3'],
  javascript: ['javascript', 'js', 'node', 'nodejs', 'mjs', 'cjs', 'jsx'],
  typescript: ['typescript', 'ts', 'tsx', 'mts', 'cts'],
};

function canonical(name: string): string {
  const lower = name.toLowerCase();
  return Object.keys(ALIASES).find((lang) => ALIASES[lang]!.includes(lower)) ?? lower;
}

/** The info string's language word: "py title=x" → "py", "{.python}" → "python", "language-js" → "js". */
function infoLanguage(info: string | undefined): string {
  const word = (info ?? '').trim().split(/\s+/)[0] ?? '';
  return word.replace(/^\{?\.?/, '').replace(/\}$/, '').replace(/^language-/, '');
}

/**
 * The code a model's Markdown answer holds for `language`: the first fenced block tagged with it
 * (python/py, javascript/js/node, typescript/ts, ...), else the first fenced block of any kind, else null.
 * Blocks inside lists and quotes count; indented (unfenced) blocks do not.
 */
export function extractCode(text: string, language: string): string | null {
  const fenced: Tokens.Code[] = [];
  marked.walkTokens(marked.lexer(text), (token: Token) => {
    if (token.type === 'code' && (token as Tokens.Code).codeBlockStyle !== 'indented') fenced.push(token as Tokens.Code);
  });
  const wanted = canonical(language);
  const match = fenced.find((block) => canonical(infoLanguage(block.lang)) === wanted) ?? fenced[0];
  return match ? match.text : null;
}
