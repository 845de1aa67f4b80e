#!/usr/bin/env bash
# Builds the two base images the Dockerfiles use, from Debian's packages, for
# machines whose Docker engine has no registry to pull from:
#   runtime (default tag debian:bookworm-slim): minbase + libzmq5 + CA certs
#   build   (default tag golang:1.26-bookworm): minbase + gcc, libzmq3-dev,
#           pkg-config + the host's Go toolchain (/usr/local/go)
# An image that already exists under a tag is left alone. Run as root.
set -euo pipefail
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
RUNTIME_IMAGE=${RUNTIME_IMAGE:-debian:bookworm-slim}
BUILD_IMAGE=${BUILD_IMAGE:-golang:1.26-bookworm}
GOROOT_HOST=${GOROOT_HOST:-$(go env GOROOT 2>/dev/null || echo /usr/local/go)}
CACHE=${DEBOOTSTRAP_CACHE:-/var/cache/mp-debootstrap}

have() { docker image inspect "$1" >/dev/null 2>&1; }
if have "$RUNTIME_IMAGE" && have "$BUILD_IMAGE"; then
	echo "base images present: $RUNTIME_IMAGE $BUILD_IMAGE"
	exit 0
fi
command -v debootstrap >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
mkdir -p "$CACHE"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# bootstrap DIR PACKAGES: a minimal Debian tree with PACKAGES, slimmed.
bootstrap() {
	debootstrap --variant=minbase --cache-dir="$CACHE" --include="$2" "$SUITE" "$1" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
		{ tail -20 "$work/debootstrap.log"; exit 1; }
	rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/usr/share/doc/* "$1"/usr/share/man/* "$1"/usr/share/locale/*
	# Trust what this host trusts (e.g. a TLS-inspecting egress proxy), so
	# module downloads inside builds work here as they do on the host.
	if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
		cp /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/"
		chroot "$1" update-ca-certificates >/dev/null 2>&1 || true
	fi
}

if ! have "$RUNTIME_IMAGE"; then
	echo "building $RUNTIME_IMAGE with debootstrap"
	bootstrap "$work/runtime" libzmq5,ca-certificates
	tar -C "$work/runtime" -c . | docker import \
		--change 'LABEL org.opencontainers.image.description=local-base-runtime' \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'CMD ["bash"]' - "$RUNTIME_IMAGE" >/dev/null
	rm -rf "$work/runtime"
fi
if ! have "$BUILD_IMAGE"; then
	echo "building $BUILD_IMAGE with debootstrap and $GOROOT_HOST"
	bootstrap "$work/build" gcc,libc6-dev,libzmq3-dev,pkg-config,ca-certificates,git
	cp -a "$GOROOT_HOST" "$work/build/usr/local/go"
	tar -C "$work/build" -c . | docker import \
		--change 'LABEL org.opencontainers.image.description=local-base-build' \
		--change 'ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'ENV GOPATH=/go' --change 'ENV GOTOOLCHAIN=local' \
		--change 'CMD ["bash"]' - "$BUILD_IMAGE" >/dev/null
fi
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "^(${RUNTIME_IMAGE}|${BUILD_IMAGE}) " || true
