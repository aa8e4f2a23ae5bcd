# Shared set-up for scripts/run and scripts/test (sourced, not executed).
# Installs the Debian packages the build needs when they are missing, so that
# a fresh machine of this kind needs nothing but these scripts. Leaves
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE exactly as the environment sets them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

REQUIRED_PACKAGES=(libopenblas-dev liblapacke-dev zlib1g-dev pkg-config dataset-fashion-mnist
                   openmpi-bin libopenmpi-dev libscalapack-openmpi-dev)

missing_packages() {
    local p
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            echo "$p"
        fi
    done
}

ensure_packages() {
    local missing
    missing="$(missing_packages "$@")"
    if [ -n "$missing" ]; then
        echo "installing: $(echo $missing)" >&2
        local sudo=""
        if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
        $sudo apt-get update -qq >&2
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >&2
    fi
}

ensure_packages "${REQUIRED_PACKAGES[@]}"

if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then
        export PATH="/opt/swift/usr/bin:$PATH"
    else
        echo "error: swift is not on PATH (expected Swift 6.x, e.g. /opt/swift/usr/bin)" >&2
        exit 1
    fi
fi
