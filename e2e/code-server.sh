# shellcheck shell=bash
# code-server, used as "VS Code" for the end-to-end tests and for `npm start` on machines without `code`.
# Source this file; it defines cs_install, cs_start, cs_stop (see /work/shared/reference/vscode-testing.md).
#
#   CS_VERSION  pinned: 4.100.3 is the last code-server whose engines.node is 20 (VS Code 1.100.3)
#   CS_TOOLS    where it is installed, once per machine (kept out of package.json: its postinstall
#               needs the workarounds below and ~70 s of native builds)

CS_VERSION=4.100.3
CS_TOOLS=${CS_TOOLS:-$HOME/.cache/flux-vscode-code-server-$CS_VERSION}
CS_BIN=$CS_TOOLS/node_modules/.bin/code-server

# cs_install: install code-server into $CS_TOOLS unless the .ok stamp says it is already there.
# Needs apt chromium (for the tests), ripgrep, libkrb5-dev, python3, make, g++ (see .ci/run).
cs_install() {
  if [ -f "$CS_TOOLS/.ok" ] && [ -x "$CS_BIN" ]; then return 0; fi
  command -v rg >/dev/null || { echo "cs_install: ripgrep (rg) is needed: apt-get install ripgrep" >&2; return 1; }
  echo "cs_install: installing code-server@$CS_VERSION into $CS_TOOLS (about 70 s, once per machine)" >&2
  # @vscode/ripgrep's postinstall downloads from GitHub unless its cache already holds the tarball:
  # seed the cache with Debian's rg (versions for code-server 4.100.3).
  local rgc
  rgc="$(node -p 'require("os").tmpdir()')/vscode-ripgrep-cache-1.15.11"
  mkdir -p "$rgc" "$CS_TOOLS" || return 1
  tar czf "$rgc/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$(dirname "$(command -v rg)")" rg || return 1
  echo '{"private":true}' > "$CS_TOOLS/package.json"
  # unsafe_perm: code-server's postinstall refuses root otherwise; yes: node-pty runs `npx node-gyp`.
  (cd "$CS_TOOLS" && npm_config_unsafe_perm=true npm_config_yes=true \
     npm install --no-audit --no-fund --save-exact "code-server@$CS_VERSION" </dev/null) || return 1
  [ -x "$CS_BIN" ] || { echo "cs_install: $CS_BIN missing after install" >&2; return 1; }
  touch "$CS_TOOLS/.ok"
}

# cs_start RUNDIR [PORT] [FOLDER]
#   Starts code-server on 127.0.0.1:PORT (default 0 = any free port) in its own session/process
#   group, with a fresh user-data dir under RUNDIR (RUNDIR is wiped). FOLDER (default RUNDIR/ws)
#   is the folder it opens. Sets CS_URL (http://127.0.0.1:NNNN) and CS_PGID.
#   Everything code-server starts (extension hosts, the extension's brokers) inherits the
#   caller's environment and belongs to process group CS_PGID.
cs_start() {
  local R=$1 port=${2:-0} folder=${3:-$1/ws}
  CS_URL='' CS_PGID=''
  rm -rf "$R" && mkdir -p "$R/ud/User" "$R/exts" "$R/ws" "$R/xdg" "$R/tmp" || return 1
  cat > "$R/ud/User/settings.json" <<'JSON'
{
  "workbench.startupEditor": "none",
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "update.mode": "none",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "extensions.ignoreRecommendations": true,
  "workbench.tips.enabled": false,
  "git.enabled": false
}
JSON
  # setsid (no job control in a script) execs code-server itself: $! is its pid and its process group.
  # TMPDIR: VS Code's per-window IPC sockets (never removed when it is killed) and the brokers'
  # rundirs land under RUNDIR/tmp instead of /tmp (keep RUNDIR short: Unix socket paths <= 107 bytes).
  TMPDIR="$R/tmp" XDG_CONFIG_HOME="$R/xdg" XDG_DATA_HOME="$R/xdg" setsid "$CS_BIN" --config /dev/null \
    --auth none --bind-addr "127.0.0.1:$port" --user-data-dir "$R/ud" --extensions-dir "$R/exts" \
    --disable-telemetry --disable-update-check --disable-workspace-trust \
    --disable-getting-started-override --ignore-last-opened "$folder" \
    > "$R/code-server.log" 2>&1 </dev/null &
  CS_PGID=$!
  local _
  for _ in $(seq 1 300); do
    CS_URL=$(grep -oE 'HTTP server listening on http://127\.0\.0\.1:[0-9]+' "$R/code-server.log" | grep -oE 'http://.*') && break
    kill -0 "$CS_PGID" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$CS_URL" ]; then
    echo "cs_start: code-server did not start; its log:" >&2
    cat "$R/code-server.log" >&2
    cs_stop
    return 1
  fi
}

# cs_stop: end code-server's whole process group (UI windows' extension hosts never exit by
# themselves) and wait up to 5 s for it to be gone.
cs_stop() {
  [ -n "${CS_PGID:-}" ] || return 0
  kill -- -"$CS_PGID" 2>/dev/null || { CS_PGID=''; return 0; }
  local _
  for _ in $(seq 1 50); do
    kill -0 -- -"$CS_PGID" 2>/dev/null || { CS_PGID=''; return 0; }
    sleep 0.1
  done
  kill -KILL -- -"$CS_PGID" 2>/dev/null
  CS_PGID=''
  return 0
}
