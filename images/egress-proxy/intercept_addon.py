"""mitmproxy addon for Capsule's egress proxy: the TLS-intercepting leg behind squid.

Squid sends here only what it must not splice: requests to a secret's hosts (plain HTTP and CONNECT)
and every CONNECT of a profile that limits methods. Squid has already authenticated the run and
checked the allowlist; it passes the run's user name (`<run_id>.<profile>`) in Proxy-Authorization
(cache_peer login=*:...). This addon
  - pins every request inside a tunnel to the tunnel's CONNECT host:port, and refuses a Host header
    that names another site (domain fronting through an allowed host);
  - enforces the profile's methods on intercepted requests;
  - replaces the run's placeholders in request header values (Basic credentials decoded first) with
    the real secret, only for that secret's hosts; other placeholders are left as they are;
  - writes one JSON line per request to stdout: never a header value, never a secret.
"""
import base64
import binascii
import json
import os
import re
import sys
import time

from mitmproxy import http

STATE = os.environ.get("CAPSULE_EGRESS_STATE", "/var/lib/capsule-egress")
PLACEHOLDER = re.compile(r"capsule_ph_[0-9a-f]{32}")


class JsonFile:
    """A JSON file re-read whenever it changes; a half-written file keeps the previous content."""

    def __init__(self, path, empty):
        self.path, self.value, self.key = path, empty, None

    def get(self):
        try:
            st = os.stat(self.path)
        except OSError:
            return self.value
        # ctime too: the server writes the file through the engine's archive API, which sets mtime from the
        # tar header (whole seconds) and may reuse the inode, so two writes in one second with the same
        # size looked unchanged (a new run's credentials refused with 407; found by test/e2e/egress.test.ts).
        key = (st.st_ino, st.st_ctime_ns, st.st_mtime_ns, st.st_size)
        if key != self.key:
            try:
                with open(self.path, encoding="utf-8") as f:
                    self.value = json.load(f)
                self.key = key
            except (OSError, ValueError):
                print(f"intercept: {os.path.basename(self.path)} unreadable, keeping the previous one", file=sys.stderr, flush=True)
        return self.value


def host_matches(host, patterns):
    host = host.lower().rstrip(".")
    for p in patterns:
        if p.startswith("*."):
            if host.endswith(p[1:]) and len(host) > len(p) - 1:
                return True
        elif host == p:
            return True
    return False


def proxy_user(request):
    value = request.headers.get("Proxy-Authorization", "")
    request.headers.pop("Proxy-Authorization", None)
    if not value.lower().startswith("basic "):
        return None
    try:
        user = base64.b64decode(value[6:].strip(), validate=True).decode("utf-8").split(":", 1)[0]
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user if "." in user else None


class Intercept:
    def __init__(self):
        self.policy = JsonFile(os.path.join(STATE, "config", "policy.json"), {"profiles": {}})
        self.secrets = JsonFile(os.path.join(STATE, "config", "secrets.json"), {"profiles": {}})
        self.registry = JsonFile(os.path.join(STATE, "registry", "runs.json"), {"runs": {}})
        self.tunnels = {}  # client connection id -> (user, host, port) of its CONNECT

    def http_connect(self, flow: http.HTTPFlow):
        user = proxy_user(flow.request)
        if user is None:
            return self.deny(flow, None, "auth")
        self.tunnels[flow.client_conn.id] = (user, flow.request.host, flow.request.port)

    def client_disconnected(self, client):
        self.tunnels.pop(client.id, None)

    def tcp_start(self, flow):
        # Only HTTP goes through interception: raw TCP inside a tunnel would bypass the method limits.
        self.log(self.tunnels.get(flow.client_conn.id, (None,))[0], "TCP", flow.server_conn.address, "denied", "not_http", 403, 0, [])
        flow.kill()

    def requestheaders(self, flow: http.HTTPFlow):
        if flow.request.method == "CONNECT":
            return
        tunnel = self.tunnels.get(flow.client_conn.id)
        if tunnel:
            user, host, port = tunnel
            flow.request.headers.pop("Proxy-Authorization", None)
            if (flow.request.host.lower(), flow.request.port) != (host.lower(), port):
                return self.deny(flow, user, "host_mismatch")
        else:
            user = proxy_user(flow.request)
            if user is None:
                return self.deny(flow, None, "auth")
        # A Host (or :authority) naming another site is domain fronting: the connection goes to the
        # allowed host, which may route the request to a tenant that is not allowed.
        if flow.request.pretty_host.lower().rstrip(".") != flow.request.host.lower().rstrip("."):
            return self.deny(flow, user, "host_mismatch")
        run_id, _, profile = user.partition(".")
        policy = self.policy.get().get("profiles", {}).get(profile)
        if policy is None:
            return self.deny(flow, user, "not_allowed")
        methods = policy.get("methods")
        if methods and flow.request.method.upper() not in methods:
            return self.deny(flow, user, "method")
        used = self.substitute(flow, run_id, profile, policy)
        flow.metadata["capsule"] = {"user": user, "secrets": sorted(used), "bytes": 0}

    def substitute(self, flow, run_id, profile, policy):
        placeholders = self.registry.get().get("runs", {}).get(run_id, {}).get("placeholders", {})
        if not placeholders:
            return set()
        values = self.secrets.get().get("profiles", {}).get(profile, {})
        hosts = {s["name"]: s["hosts"] for s in policy.get("secrets", [])}
        used = set()

        def replace(text):
            def one(m):
                name = placeholders.get(m.group(0))
                if name in values and host_matches(flow.request.host, hosts.get(name, [])):
                    used.add(name)
                    return values[name]
                return m.group(0)
            return PLACEHOLDER.sub(one, text)

        for name in set(flow.request.headers.keys()):
            new_values = [self.replace_value(v, replace) for v in flow.request.headers.get_all(name)]
            flow.request.headers.set_all(name, new_values)
        return used

    @staticmethod
    def replace_value(value, replace):
        scheme, _, rest = value.partition(" ")
        if scheme.lower() == "basic" and rest:
            try:
                decoded = base64.b64decode(rest.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return replace(value)
            swapped = replace(decoded)
            if swapped != decoded:
                return f"{scheme} {base64.b64encode(swapped.encode('utf-8')).decode('ascii')}"
            return value
        return replace(value)

    def responseheaders(self, flow: http.HTTPFlow):
        meta = flow.metadata.get("capsule")
        if meta is None:
            return

        def count(chunk):
            meta["bytes"] += len(chunk)
            return chunk
        flow.response.stream = count

    def response(self, flow: http.HTTPFlow):
        meta = flow.metadata.get("capsule")
        if meta is not None:
            self.log(meta["user"], flow.request.method, (flow.request.host, flow.request.port), "allowed", None,
                     flow.response.status_code, meta["bytes"], meta["secrets"])

    def error(self, flow: http.HTTPFlow):
        meta = flow.metadata.get("capsule")
        if meta is not None and flow.response is None:
            self.log(meta["user"], flow.request.method, (flow.request.host, flow.request.port), "allowed", "upstream_error",
                     502, meta["bytes"], meta["secrets"])

    def deny(self, flow, user, reason):
        flow.response = http.Response.make(403, f"capsule egress: denied ({reason})\n".encode(), {"Content-Type": "text/plain"})
        self.log(user, flow.request.method, (flow.request.host, flow.request.port), "denied", reason, 403, 0, [])

    @staticmethod
    def log(user, method, address, decision, reason, status, nbytes, secrets):
        host, port = address if address else (None, None)
        line = {"source": "intercept", "ts": round(time.time(), 3), "user": user, "method": method, "host": host,
                "port": port, "decision": decision, "reason": reason, "status": status, "bytes": nbytes, "secrets": secrets}
        print(json.dumps(line, separators=(",", ":")), flush=True)


addons = [Intercept()]
