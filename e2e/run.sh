#!/usr/bin/env bash
# `npm run test:e2e`: the extension in a real VS Code (code-server 4.100.3 + Debian chromium).
#   1. e2e/exthost.js  the mocha suite out/e2e/suite/index.js inside the extension host
#   2. e2e/ui.test.js  node:test + playwright-core checks of the rendered workbench
# Needs `npm run build` first (npm test does it). Installs code-server on first use (~70 s).
# Env: E2E_ARTIFACTS (screenshots, logs; default <repo>/e2e-artifacts), E2E_RUN_DIR (code-server's
# scratch dir, wiped first; default a new temp dir, removed afterwards unless E2E_KEEP=1),
# E2E_EXTHOST_TIMEOUT_MS (default 180000), CS_TOOLS (code-server install dir), CHROMIUM.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
source e2e/code-server.sh

secs() { echo $(( $(date +%s%N) / 1000000 )); }
elapsed() { awk -v a="$1" -v b="$(secs)" 'BEGIN { printf "%.1f s", (b - a) / 1000 }'; }
t_all=$(secs)

ext=${E2E_EXTENSION_DIR:-$repo}   # the extension under test (default: this repository)
for f in dist/extension.js dist/flux.js dist/broker.js out/e2e/suite/index.js; do
  [ -f "$ext/$f" ] || { echo "e2e: $ext/$f is missing: run \`npm run build\` first" >&2; exit 1; }
done
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "e2e: ${CHROMIUM:-/usr/bin/chromium} not found: apt-get install chromium" >&2; exit 1; }

t=$(secs)
cs_install || { echo "e2e: code-server install failed" >&2; exit 1; }
echo "e2e: code-server $CS_VERSION ready ($(elapsed "$t"))"

export E2E_ARTIFACTS=${E2E_ARTIFACTS:-$repo/e2e-artifacts}
mkdir -p "$E2E_ARTIFACTS" && rm -rf "$E2E_ARTIFACTS"/*.png "$E2E_ARTIFACTS/logs" "$E2E_ARTIFACTS/exthost-results.json"
own_tmp=''
if [ -z "${E2E_RUN_DIR:-}" ]; then own_tmp=$(mktemp -d "${TMPDIR:-/tmp}/flux-e2e.XXXXXX"); fi
R=${E2E_RUN_DIR:-$own_tmp/cs}

# Exported BEFORE code-server starts: the extension host (and every broker it starts) inherits them.
export FLUX_E2E_RESULTS=$R/exthost-results.json
export FLUX_E2E_RUN="e2e-$$-$(date +%s%N)"

# Broker processes of this run: carry FLUX_E2E_RUN in their environment or sit in code-server's session.
run_brokers() { CS_PGID=${1:-} node -e 'console.log(require("./e2e/browser.js").runBrokerPids(process.env.FLUX_E2E_RUN, process.env.CS_PGID || undefined).join(" "))'; }

finish() {
  local rc=$?
  local pgid=${CS_PGID:-}
  cs_stop
  # Anything left now escaped code-server's process group (detached/setsid): that is a leak.
  local left=''
  for _ in $(seq 1 20); do left=$(run_brokers "$pgid"); [ -z "$left" ] && break; sleep 0.1; done
  if [ -n "$left" ]; then
    echo "e2e: FAILED: broker processes outlived code-server's process group: $left" >&2
    ps -o pid,pgid,sid,args -p "${left// /,}" >&2 || true
    kill -KILL $left 2>/dev/null || true
    rc=1
  fi
  if [ -n "$R" ] && [ -d "$R" ]; then
    mkdir -p "$E2E_ARTIFACTS/logs"
    cp "$R/code-server.log" "$E2E_ARTIFACTS/logs/" 2>/dev/null || true
    cp -r "$R/ud/logs/." "$E2E_ARTIFACTS/logs/" 2>/dev/null || true
    cp "$FLUX_E2E_RESULTS" "$E2E_ARTIFACTS/" 2>/dev/null || true
  fi
  if [ -n "$own_tmp" ] && [ "${E2E_KEEP:-0}" != 1 ]; then rm -rf "$own_tmp"; fi
  echo "e2e: total $(elapsed "$t_all"); artifacts in $E2E_ARTIFACTS"
  [ "$rc" = 0 ] && echo "e2e: PASS" || echo "e2e: FAIL"
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

t=$(secs)
cs_start "$R" || { echo "e2e: code-server did not start" >&2; exit 1; }
echo "e2e: code-server at $CS_URL (pgid $CS_PGID, $(elapsed "$t"))"
export CS_URL CS_PGID CS_FOLDER=$R/ws
mkdir -p "$CS_FOLDER/.vscode"
cat > "$CS_FOLDER/.vscode/settings.json" <<'JSON'
{ "flux.instance.size": 4, "flux.instance.topology": "kary:2" }
JSON
echo "# Flux e2e workspace" > "$CS_FOLDER/README.md"

rc=0

t=$(secs)
echo "e2e: --- in-extension-host suite (out/e2e/suite/index.js) ---"
node e2e/exthost.js || rc=1
echo "e2e: in-host suite took $(elapsed "$t")"
# The suite stops its instance; a window that died half-way must take its brokers with it.
for _ in $(seq 1 30); do left=$(run_brokers); [ -z "$left" ] && break; sleep 0.1; done
if [ -n "$left" ]; then
  echo "e2e: FAILED: broker processes still running after the in-host suite ended: $left" >&2
  rc=1
fi

t=$(secs)
echo "e2e: --- UI tests (e2e/ui.test.js) ---"
node --test --test-reporter=spec --test-timeout=120000 e2e/ui.test.js || rc=1
echo "e2e: UI tests took $(elapsed "$t")"

exit $rc
