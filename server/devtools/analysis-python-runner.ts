/**
 * The Python side of analyze_code, copied read-only into /capsule and run as
 * `python3 -B capsule_analyze.py <file>`. It never executes the user's code: it compiles it, runs
 * pyflakes' checker in-process (pyflakes only reads the AST) and measures it with `ast` and `tokenize`.
 * It writes to /capsule-out:
 *   syntax.json   {ok, message?, line?, column?}       (py_compile; the .pyc goes to the tmpfs /tmp)
 *   pyflakes.json [{line, column, rule, message}]     (rule = the pyflakes message class)
 *   metrics.json  {lines, code_lines, functions, max_complexity, avg_complexity}
 * or <step>.error.txt when a step itself failed.
 */
export const PYTHON_ANALYZER_NAME = 'capsule_analyze.py';

export const PYTHON_ANALYZER = String.raw`
import ast, io, json, os, sys, tempfile, tokenize, traceback
import py_compile

OUT = '/capsule-out'
path = sys.argv[1]


def write(name, data):
    with open(os.path.join(OUT, name), 'w', encoding='utf-8') as f:
        json.dump(data, f)


def step(name, fn):
    try:
        fn()
    except Exception:
        with open(os.path.join(OUT, name + '.error.txt'), 'w', encoding='utf-8') as f:
            f.write(traceback.format_exc()[-4000:])


syntax_ok = False


def syntax():
    global syntax_ok
    try:
        # The root filesystem is read-only: the byte code goes to /tmp and is thrown away.
        py_compile.compile(path, cfile=os.path.join(tempfile.gettempdir(), 'capsule-analyze.pyc'), doraise=True)
        syntax_ok = True
        write('syntax.json', {'ok': True})
    except py_compile.PyCompileError as e:
        err = e.exc_value
        info = {'ok': False, 'message': '%s: %s' % (e.exc_type_name, getattr(err, 'msg', None) or str(err))}
        if isinstance(err, SyntaxError):
            info['line'] = err.lineno or 0
            info['column'] = err.offset or 0
        write('syntax.json', info)


def flakes():
    from pyflakes import api

    found = []

    class Collect:
        def unexpectedError(self, filename, msg):
            found.append({'line': 0, 'column': 0, 'rule': 'UnexpectedError', 'message': str(msg)})

        def syntaxError(self, filename, msg, lineno, offset, text):
            found.append({'line': lineno or 0, 'column': offset or 0, 'rule': 'SyntaxError', 'message': str(msg)})

        def flake(self, message):
            found.append({
                'line': message.lineno,
                'column': (getattr(message, 'col', 0) or 0) + 1,
                'rule': type(message).__name__,
                'message': message.message % message.message_args,
            })

    with open(path, 'rb') as f:
        source = f.read()
    api.check(source, path, Collect())
    write('pyflakes.json', found)


# McCabe decision points: each adds one path through a function.
BRANCHES = (ast.If, ast.IfExp, ast.For, ast.AsyncFor, ast.While, ast.ExceptHandler, ast.Assert, ast.comprehension)
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def complexity(fn):
    score = 1
    stack = list(ast.iter_child_nodes(fn))
    while stack:
        node = stack.pop()
        if isinstance(node, FUNCTIONS):
            continue  # a nested function is measured on its own
        if isinstance(node, BRANCHES):
            score += 1
        if isinstance(node, ast.comprehension):
            score += len(node.ifs)
        elif isinstance(node, ast.BoolOp):
            score += len(node.values) - 1
        elif hasattr(ast, 'match_case') and isinstance(node, ast.match_case):
            score += 1
        stack.extend(ast.iter_child_nodes(node))
    return score


def metrics():
    with open(path, 'rb') as f:
        source = f.read()
    text = source.decode('utf-8', errors='replace')
    lines = len(text.splitlines())
    code_lines = set()
    try:
        skip = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING, tokenize.ENDMARKER)
        for tok in tokenize.tokenize(io.BytesIO(source).readline):
            if tok.type not in skip:
                code_lines.update(range(tok.start[0], tok.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        code_lines = {i for i, l in enumerate(text.splitlines(), 1) if l.strip() and not l.strip().startswith('#')}
    result = {'lines': lines, 'code_lines': len(code_lines)}
    if syntax_ok:
        tree = ast.parse(source, path)
        scores = [complexity(n) for n in ast.walk(tree) if isinstance(n, FUNCTIONS)]
        result.update({
            'functions': len(scores),
            'max_complexity': max(scores, default=0),
            'avg_complexity': round(sum(scores) / len(scores), 2) if scores else 0,
        })
    write('metrics.json', result)


step('syntax', syntax)
if syntax_ok:
    step('pyflakes', flakes)
step('metrics', metrics)
`;
