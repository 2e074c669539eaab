#!/usr/bin/env bash
# `npm start` (after `npm run build`): open VS Code with this repository loaded as the extension
# under development.
#   * `code` on PATH: code --extensionDevelopmentPath=<repo> <workspace>
#   * otherwise: code-server 4.100.3 (installed once into ~/.cache) on 127.0.0.1:${PORT:-8080}
#     (any free port if that one is busy); prints the URL to open and runs until Ctrl-C.
# Env: PORT, FLUX_WORKSPACE (folder to open; default the repository itself).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
workspace=${FLUX_WORKSPACE:-$repo}
workspace=$(cd "$workspace" && pwd)

[ -f "$repo/dist/extension.js" ] || { echo "open: dist/extension.js is missing: run \`npm run build\`" >&2; exit 1; }

if command -v code >/dev/null 2>&1; then
  exec code --extensionDevelopmentPath="$repo" "$workspace"
fi

source e2e/code-server.sh
cs_install

port=${PORT:-8080}
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "open: port $port is busy; using a free port" >&2
  port=0
fi

run=$(mktemp -d "${TMPDIR:-/tmp}/flux-open.XXXXXX")
cleanup() {
  trap - EXIT INT TERM
  cs_stop
  rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cs_start "$run/cs" "$port" "$workspace"
url=$(node -e 'const { workbenchUrl } = require("./e2e/browser.js"); console.log(workbenchUrl(process.argv[1], process.argv[2], process.argv[3]))' \
  "$CS_URL" "$workspace" "$repo")
cat <<EOF

  Flux in VS Code (code-server $CS_VERSION) is running. Open this URL in a browser on this machine
  (it loads $repo as the extension under development):

  $url

  Forwarding the port from another machine: keep the host part 127.0.0.1:${CS_URL##*:}.
  Log: $run/cs/code-server.log     Stop: Ctrl-C

EOF
# Run until Ctrl-C or until code-server exits by itself.
while kill -0 "$CS_PGID" 2>/dev/null; do sleep 1; done
echo "open: code-server exited; its log:" >&2
tail -n 20 "$run/cs/code-server.log" >&2
exit 1
