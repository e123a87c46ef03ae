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

# What the tests need: libvirt's headers and a compiler, to build
# libvirt-python (the libvirt backend is tested against libvirt's own
# test driver).
ensure_test_packages() {
  local missing=()
  for pkg in libvirt-dev pkg-config gcc python3-dev; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
      grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} with apt" >&2
    _apt_install "${missing[@]}"
  fi
}
