#!/usr/bin/env bash
# Builds the netcanary OCI image from this machine's Debian 12 packages, with
# no registry and no base image (deploy/README.md, "Image"):
#
#   deploy/image.sh            (or ./dev.sh image)
#
# 1. the daemon: meson setup -Dtests=disabled --buildtype=release in
#    $BUILD_DIR (default build-image/), then stripped;
# 2. a root filesystem holding only what it runs with: the binary, its shared
#    library closure as ldd lists it (dynamic loader included; every file must
#    belong to an installed Debian package, whose copyright file is copied
#    too), the CA bundle of Debian's ca-certificates, /etc/passwd and
#    /etc/group with the user nonroot (65532), /etc/nsswitch.conf;
# 3. `buildah from scratch` + that root filesystem, committed as
#    localhost/netcanary:<version of meson.build> (what the DaemonSet runs:
#    netcanary:0.1.0), USER 65532:65532, ENTRYPOINT /usr/bin/netcanary,
#    CMD run --config /etc/netcanary/config.json.
#
# Nothing the libraries dlopen is needed: libp11-kit loads PKCS#11 modules
# only when configured (no module files in the image), libcrypto engines and
# providers only with an openssl.cnf asking for them, krb5/sasl2 plugins only
# for GSSAPI/LDAP authentication, which netcanary never asks curl for; glibc's
# "files" NSS module is built into libc.so.6 and the daemon resolves names with
# c-ares (no NSS "dns" lookups).
#
# An image whose root filesystem is identical (same binary, same libraries) is
# kept as is. The image's size (podman image inspect .Size) is printed last.
# Needs root (buildah's system store), meson, ninja, buildah, podman.
# Environment: BUILD_DIR, IMAGE_NAME (default netcanary), CONTAINERS_CONF
# (default deploy/podman/containers.conf).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

BUILD_DIR=${BUILD_DIR:-build-image}
IMAGE_NAME=${IMAGE_NAME:-netcanary}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/podman/containers.conf}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'image.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (buildah and podman use the system image store)"
for tool in meson ninja strip readelf ldd dpkg-query buildah podman sha256sum; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool not found (./dev.sh image installs what is missing)"
done

# The library directory and the image's platform below are amd64's.
[ "$(dpkg --print-architecture)" = amd64 ] || die "builds amd64 images only (this host: $(dpkg --print-architecture))"

version=$(sed -n "s/^[[:space:]]*version:[[:space:]]*'\([^']*\)'.*/\1/p" meson.build | head -n1)
[ -n "$version" ] || die "no version: in meson.build's project()"
image="localhost/$IMAGE_NAME:$version"

# One image build at a time on this machine (other worktrees share the store).
exec 8>/run/lock/netcanary-image.lock
flock -w 300 8 || die "timed out waiting for another image build"

# ------------------------------------------------------------------ the binary
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
        log "configuring $BUILD_DIR (release, tests disabled)"
        meson setup "$BUILD_DIR" -Dtests=disabled --buildtype=release >&2
elif [ "$(meson introspect "$BUILD_DIR" --buildoptions |
        grep -o -e '"name": "tests", "value": "disabled"' -e '"name": "buildtype", "value": "release"' | wc -l)" != 2 ]; then
        log "reconfiguring $BUILD_DIR (release, tests disabled)"
        meson configure "$BUILD_DIR" -Dtests=disabled -Dbuildtype=release >/dev/null
fi
log "building $BUILD_DIR/src/netcanary"
ninja -C "$BUILD_DIR" src/netcanary >&2

stage=$(mktemp -d "${TMPDIR:-/tmp}/netcanary-image.XXXXXX")
ctr=
cleanup() {
        [ -z "$ctr" ] || buildah rm "$ctr" >/dev/null 2>&1 || true
        rm -rf "$stage"
}
trap cleanup EXIT
rootfs=$stage/rootfs
mkdir -p "$rootfs"/usr/bin "$rootfs"/usr/lib/x86_64-linux-gnu "$rootfs"/usr/lib64 \
        "$rootfs"/etc/ssl/certs "$rootfs"/etc/netcanary "$rootfs"/usr/share/doc
# Debian 12's merged /usr: /lib and /lib64 are links into /usr.
ln -s usr/lib "$rootfs/lib"
ln -s usr/lib64 "$rootfs/lib64"
ln -s usr/bin "$rootfs/bin"

bin=$rootfs/usr/bin/netcanary
strip --strip-all -o "$bin" "$BUILD_DIR/src/netcanary"
chmod 0755 "$bin"
"$bin" --version >&2 || die "the stripped binary does not run"

# -------------------------------------------------- libraries, from packages
interp=$(readelf -l "$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
[ -n "$interp" ] || die "no program interpreter in the binary"
ldd_out=$(ldd "$bin") || die "ldd failed"
if grep -q 'not found' <<<"$ldd_out"; then
        die "unresolved libraries: $(grep 'not found' <<<"$ldd_out" | tr -s ' \t' ' ')"
fi
# soname -> path as ldd resolved it (the loader under its own name)
declare -A libs=()
while read -r name arrow path _; do
        if [ "$arrow" != "=>" ]; then
                # the loader's own line: "/lib64/ld-linux-x86-64.so.2 (0x...)"; vdso has no file
                [ "$name" = "$interp" ] || continue
                path=$name
                name=$(basename "$interp")
        fi
        if [ -z "$path" ] || [ "${path:0:1}" != / ]; then die "unexpected ldd line: $name $arrow $path"; fi
        libs[$name]=$path
done <<<"$ldd_out"
[ -n "${libs[$(basename "$interp")]:-}" ] || die "the loader $interp is not in ldd's list"

# Which package owns each file: one dpkg-query for all of them (it reads the
# whole database each time). dpkg knows /lib/x/... when ldd says /usr/lib/x/...
# (merged /usr) and back, and may know the link or its target.
queries=(/usr/lib/os-release)
for name in "${!libs[@]}"; do
        p=${libs[$name]}
        r=$(readlink -f "$p")
        queries+=("$p" "${p#/usr}" "/usr${p#/usr}" "$r" "${r#/usr}" "/usr${r#/usr}")
done
declare -A owner=()
while IFS= read -r line; do
        pkg=${line%%: /*}
        owner[${line#*: }]=${pkg%%:*}
done < <(dpkg-query -S "${queries[@]}" 2>/dev/null | grep -v '^diversion' || true)
package_of() {
        local p=$1
        for c in "$p" "${p#/usr}" "/usr${p#/usr}"; do
                [ -z "${owner[$c]:-}" ] || { printf '%s\n' "${owner[$c]}"; return 0; }
        done
        return 1
}
declare -A packages=()
add_package() { packages[$1]=1; }

for name in "${!libs[@]}"; do
        path=${libs[$name]}
        real=$(readlink -f "$path")
        pkg=$(package_of "$path") || pkg=$(package_of "$real") || die "$path ($real) belongs to no Debian package"
        add_package "$pkg"
        # Under its soname, in /usr/lib/x86_64-linux-gnu (the loader's default path).
        cp "$real" "$rootfs/usr/lib/x86_64-linux-gnu/$name"
        chmod 0755 "$rootfs/usr/lib/x86_64-linux-gnu/$name"
done
case "$interp" in
/lib64/*) ln -s "../lib/x86_64-linux-gnu/$(basename "$interp")" "$rootfs/usr/lib64/$(basename "$interp")" ;;
/lib/x86_64-linux-gnu/*) ;;
*) die "unexpected program interpreter $interp" ;;
esac

# TLS roots for https targets: the bundle update-ca-certificates generates
# from Debian's ca-certificates (the path libcurl-gnutls and GnuTLS default to).
[ -s /etc/ssl/certs/ca-certificates.crt ] || die "/etc/ssl/certs/ca-certificates.crt missing (apt-get install ca-certificates)"
add_package ca-certificates
cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
# /etc/os-release (Debian 12), so that scanners know the distribution.
add_package "$(package_of /usr/lib/os-release)" || die "/usr/lib/os-release belongs to no package"

# Each package's copyright file (the licences of what the image redistributes).
for pkg in "${!packages[@]}"; do
        src=/usr/share/doc/$pkg/copyright
        [ -f "$src" ] || die "$src missing"
        mkdir -p "$rootfs/usr/share/doc/$pkg"
        cp "$src" "$rootfs/usr/share/doc/$pkg/copyright"
done
# What the image holds, for vulnerability scanners (trivy, grype, syft read
# distroless' layout) and people: the OS release and one dpkg status stanza
# per package in /var/lib/dpkg/status.d/ (no dpkg in the image).
mkdir -p "$rootfs/var/lib/dpkg/status.d"
dpkg-query -W -f='Package: ${Package}\nStatus: ${Status}\nPriority: ${Priority}\nSection: ${Section}\nInstalled-Size: ${Installed-Size}\nMaintainer: ${Maintainer}\nArchitecture: ${Architecture}\nMulti-Arch: ${Multi-Arch}\nSource: ${Source}\nVersion: ${Version}\nDescription: ${binary:Summary}\n\n' \
        "${!packages[@]}" >"$stage/status" || die "not every package is installed: ${!packages[*]}"
awk -v dir="$rootfs/var/lib/dpkg/status.d" 'BEGIN { RS = ""; FS = "\n" }
        { name = substr($1, 10); out = dir "/" name; n = 0
          for (i = 1; i <= NF; i++) if ($i !~ /: $/) print $i > out
          close(out) }' "$stage/status"
[ "$(find "$rootfs/var/lib/dpkg/status.d" -type f | wc -l)" -eq "${#packages[@]}" ] || die "dpkg status stanzas missing"
cp /usr/lib/os-release "$rootfs/usr/lib/os-release"
ln -s ../usr/lib/os-release "$rootfs/etc/os-release"

# ----------------------------------------------------------- users and NSS
cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/usr/sbin/nologin
nonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
nonroot:x:65532:
EOF
# Only what glibc has built in: no NSS module to dlopen.
cat >"$rootfs/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
hosts: files dns
services: files
EOF

# Reproducible: one timestamp (the last commit's) and fixed modes.
epoch=$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)
find "$rootfs" -type d -exec chmod 0755 {} +
find "$rootfs" -type f ! -path '*/usr/lib/*' ! -path '*/usr/bin/*' -exec chmod 0644 {} +
find "$rootfs" -exec touch -h -d "@$epoch" {} +

# The content digest: an image built from the same root filesystem is reused.
digest=$( (cd "$rootfs" && find . -printf '%y %m %p %l\n' | LC_ALL=C sort &&
        find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1)
have=$(podman image inspect --format '{{index .Labels "io.netcanary.rootfs.sha256"}}' "$image" 2>/dev/null || true)
if [ "$have" = "$digest" ]; then
        log "$image is up to date (root filesystem $digest)"
else
        old=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
        log "building $image: ${#libs[@]} libraries from ${#packages[@]} Debian packages"
        ctr=$(buildah from --name "netcanary-image-$$" scratch)
        buildah copy --quiet "$ctr" "$rootfs" / >/dev/null
        revision=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
        git -C "$root" diff --quiet HEAD 2>/dev/null || revision="$revision-dirty"
        buildah config \
                --os linux --arch amd64 \
                --user 65532:65532 \
                --workingdir / \
                --entrypoint '["/usr/bin/netcanary"]' \
                --cmd '["run", "--config", "/etc/netcanary/config.json"]' \
                --port 9890/tcp --port 9891/tcp --port 9891/udp \
                --label org.opencontainers.image.title=netcanary \
                --label org.opencontainers.image.description="Kubernetes network policy canary" \
                --label org.opencontainers.image.version="$version" \
                --label org.opencontainers.image.revision="$revision" \
                --label org.opencontainers.image.licenses=Apache-2.0 \
                --label io.netcanary.rootfs.sha256="$digest" \
                --history-comment "deploy/image.sh: netcanary $version and its Debian 12 library closure" \
                "$ctr"
        buildah commit --quiet --rm --format oci --timestamp "$epoch" "$ctr" "$image" >/dev/null
        ctr=
        # The replaced image, now untagged, unless a container still uses it.
        new=$(podman image inspect --format '{{.Id}}' "$image")
        if [ -n "$old" ] && [ "$old" != "$new" ]; then podman image rm "$old" >/dev/null 2>&1 || true; fi
fi

size=$(podman image inspect --format '{{.Size}}' "$image")
id=$(podman image inspect --format '{{.Id}}' "$image")
printf '%s %s: %s bytes (%s MB) uncompressed, %d files\n' "$image" "${id:0:12}" "$size" \
        "$(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1e6 }')" "$(find "$rootfs" -type f | wc -l)"
