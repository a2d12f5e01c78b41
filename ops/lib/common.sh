# Shared by ops/test, ops/demo and ops/bench: what every entry point needs first.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

need_root() {
  if ((EUID != 0)); then
    echo "$(basename "$0"): run as root (the lab needs network namespaces, taps and cgroups)" >&2
    exit 1
  fi
}

# Installs the Debian packages that are missing; idempotent.
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "installing Debian packages: ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# Debian ships no .NET SDK; it has to be there already (packages.microsoft.com or dotnet-install).
ensure_dotnet() {
  if ! command -v dotnet >/dev/null || ! dotnet --list-sdks 2>/dev/null | grep -q '^10\.'; then
    echo "$(basename "$0"): the .NET 10 SDK is missing. Install it (Microsoft's Debian 12 package 'dotnet-sdk-10.0', or dotnet-install.sh), then run this again." >&2
    exit 1
  fi
}

LAB_PACKAGES=(user-mode-linux busybox-static cpio iproute2 ethtool dropbear-bin openssh-client lvm2 thin-provisioning-tools curl procps util-linux bc sqlite3 prometheus postgresql tgt open-iscsi multipath-tools sg3-utils sanlock lvm2-lockd)
