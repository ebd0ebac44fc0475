#!/bin/bash
# Healthy when squid answers (407: it is up and asking for credentials; health.invalid is never logged
# nor resolved) and the intercepting leg (mitmdump) listens. The image's HEALTHCHECK and the Capsule
# server's own check (server/sandbox/egress/proxy-container.ts) both run this.
set -u
test "$(curl -s -m 2 -o /dev/null -w '%{http_code}' -x http://127.0.0.1:3128 http://health.invalid/)" = 407 \
  && (exec 3<>/dev/tcp/127.0.0.1/3129) 2>/dev/null
