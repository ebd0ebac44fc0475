/**
 * The Python side of profile_code, copied into the container next to the program. It runs the
 * program under cProfile (exit status and exceptions pass through), then writes to /capsule-out:
 * profile.pstats (for snakeviz/pstats users) and profile.json with per-function stats and folded
 * stacks estimated from cProfile's caller graph (cProfile records caller edges, not whole stacks).
 */
export const CPROFILE_RUNNER_NAME = 'capsule_cprofile.py';

export const CPROFILE_RUNNER = String.raw`
import cProfile, json, os, pstats, runpy, sys, traceback

OUT = '/capsule-out'
target = sys.argv[1]
sys.argv = sys.argv[1:]
sys.path.insert(0, os.getcwd())
profiler = cProfile.Profile()
code = 0
try:
    profiler.enable()
    try:
        runpy.run_path(target, run_name='__main__')
    finally:
        profiler.disable()
except SystemExit as e:
    if e.code is None:
        code = 0
    elif isinstance(e.code, int):
        code = e.code
    else:
        print(e.code, file=sys.stderr)
        code = 1
except BaseException:
    traceback.print_exc()
    code = 1
finally:
    try:
        sys.stdout.flush()
        profiler.dump_stats(os.path.join(OUT, 'profile.pstats'))
        raw = pstats.Stats(profiler).stats
        me = os.path.abspath(__file__)
        def hidden(key):
            f = key[0]
            return f == me or f.endswith('runpy.py') or 'frozen runpy' in f or key[2] in ('<built-in method builtins.exec>', "<method 'disable' of '_lsprof.Profiler' objects>")
        def label(key):
            f, line, fn = key
            short = os.path.basename(f) if f.startswith('/capsule/') else f
            return '%s (%s:%d)' % (fn, short, line) if line else fn
        stats = {k: v for k, v in raw.items() if not hidden(k)}
        total = sum(v[2] for v in stats.values()) or 1e-9
        callees = {}
        for g, (cc, nc, tt, ct, callers) in stats.items():
            for f, edge in callers.items():
                if f in stats:
                    callees.setdefault(f, []).append((g, edge[3]))
        roots = [k for k, v in stats.items() if not any(c in stats for c in v[4])]
        folded = {}
        def walk(f, budget, path):
            tt, ct = stats[f][2], stats[f][3]
            share = budget / ct if ct > 0 else 0
            key = ';'.join(path)
            folded[key] = folded.get(key, 0) + tt * share
            if len(path) >= 64:
                return
            for g, edge_ct in callees.get(f, []):
                if label(g) in path:
                    continue
                child = edge_ct * share
                if child > total * 0.0005:
                    walk(g, child, path + [label(g)])
        for r in roots:
            walk(r, stats[r][3], [label(r)])
        functions = sorted(
            ({'function': k[2], 'file': k[0], 'line': k[1], 'ncalls': v[1], 'tottime': v[2], 'cumtime': v[3]} for k, v in stats.items()),
            key=lambda x: -x['tottime'])
        with open(os.path.join(OUT, 'profile.json'), 'w') as fh:
            json.dump({'total_time': total, 'functions': functions[:200],
                       'folded': [[k, int(v * 1e6)] for k, v in folded.items() if v * 1e6 >= 1]}, fh)
    except BaseException:
        traceback.print_exc()
sys.exit(code)
`;
