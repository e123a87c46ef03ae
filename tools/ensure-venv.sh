# Sourced by run-demo.sh and run-tests.sh: make sure this Debian/Ubuntu
# machine has what the project builds with.
_apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends "$@" >/dev/null
}

# Python's venv module (Debian ships it in python3-venv).
ensure_venv() {
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    echo "python3's venv module is missing: installing python3-venv" >&2
    _apt_install python3-venv
  fi
}

# Installed without starting any service: Debian's etcd-server would
# start (and enable) a system etcd on 127.0.0.1:2379. A policy-rc.d
# denies the start during the install (deb-systemd-invoke and invoke-rc.d
# obey it), and under systemd the unit is disabled after, so that nothing
# stays. The tests start their own etcd on free ports.
_apt_install_no_start() {
  local sudo="" policy=/usr/sbin/policy-rc.d ours="" rc=0
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    ours=1
  fi
  _apt_install "$@" || rc=$?
  if [ -n "$ours" ]; then $sudo rm -f "$policy"; fi
  if [ -d /run/systemd/system ]; then
    $sudo systemctl disable etcd >/dev/null 2>&1 || true
  fi
  return $rc
}

# What the tests need: libvirt's headers and a compiler, to build
# libvirt-python (the libvirt backend is tested against libvirt's own
# test driver); etcd-server for the etcd jobboard's tests (the etcd
# binary, started privately by tests/etcd_server.py).
ensure_test_packages() {
  local missing=()
  for pkg in libvirt-dev pkg-config gcc python3-dev etcd-server; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
      grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} with apt" >&2
    _apt_install_no_start "${missing[@]}"
  fi
}
