"""Squid basic-auth helper for Capsule's egress proxy: one line per credential check.

Each run's proxy credentials are `<run_id>.<profile>:<token>`; the registry file (written by the
Capsule server, reloaded whenever it changes) holds sha256(token) and the profile of every live run.
A username whose profile part differs from the registered profile is refused, so a run cannot claim
another profile's allowlist. Never logs a username's token or the registry's contents.

Protocol (auth_param basic ... concurrency=N): "<channel> <user> <password>" in, "<channel> OK|ERR" out;
user and password are URL-escaped by squid.
"""
import hashlib
import hmac
import json
import os
import sys
import urllib.parse

REGISTRY = sys.argv[1]
_state = {"key": None, "runs": {}, "failed": False}


def registry():
    try:
        st = os.stat(REGISTRY)
        # ctime too: the server writes the file through the engine's archive API, which sets mtime from the
        # tar header (whole seconds) and may reuse the inode, so two writes in one second with the same
        # size looked unchanged (a new run's credentials refused with 407; found by test/e2e/egress.test.ts).
        key = (st.st_ino, st.st_ctime_ns, st.st_mtime_ns, st.st_size)
    except OSError:
        return {}
    if key != _state["key"] or _state["failed"]:
        try:
            with open(REGISTRY, encoding="utf-8") as f:
                runs = json.load(f)["runs"]
            _state.update(key=key, runs=runs, failed=False)
        except (OSError, ValueError, KeyError, TypeError):
            # A file being replaced can be read half-written: keep the last good registry, retry next time.
            _state["failed"] = True
            print("auth_helper: registry unreadable, keeping the previous one", file=sys.stderr, flush=True)
    return _state["runs"]


def check(user, password):
    run_id, sep, profile = user.partition(".")
    entry = registry().get(run_id) if sep else None
    if not isinstance(entry, dict) or entry.get("profile") != profile:
        return False
    digest = hashlib.sha256(password.encode("utf-8")).hexdigest()
    return hmac.compare_digest(digest, str(entry.get("token_sha256", "")))


def main():
    for line in sys.stdin:
        parts = line.rstrip("\n").split(" ")
        if len(parts) != 3:
            channel = parts[0] if parts else "0"
            print(f"{channel} ERR message=\"malformed\"", flush=True)
            continue
        channel, user, password = parts[0], urllib.parse.unquote(parts[1]), urllib.parse.unquote(parts[2])
        print(f"{channel} {'OK' if check(user, password) else 'ERR'}", flush=True)


if __name__ == "__main__":
    main()
