# Sourced by run-demo.sh and run-tests.sh: make "python3 -m venv" work.
# Debian and Ubuntu ship venv in a separate package (python3-venv).
ensure_venv() {
  if python3 -c 'import ensurepip, venv' 2>/dev/null; then
    return 0
  fi
  echo "python3's venv module is missing: installing python3-venv" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq python3-venv
}
