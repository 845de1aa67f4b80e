#!/usr/bin/env bash
# Installs the Debian packages Message Plane needs to build (cgo over libzmq),
# plus any extra package names given as arguments, when they are missing.
# --test adds what `make test` needs beyond the build: Debian's Python with
# pyzmq, msgpack and pytest, for the Python client's tests and the example
# plugin (they run with /usr/bin/python3, whatever python3 is first on PATH).
set -euo pipefail
want=(libzmq3-dev pkg-config)
for a in "$@"; do
	case "$a" in
	--test) want+=(python3 python3-zmq python3-msgpack python3-pytest) ;;
	*) want+=("$a") ;;
	esac
done
missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "missing packages: ${missing[*]}" >&2
	echo "run first: sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
