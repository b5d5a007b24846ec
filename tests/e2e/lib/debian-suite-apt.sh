# shellcheck shell=bash
# Sourced by scripts that read another Debian release's archive (tests/e2e/lib/probe-kubernetes-source,
# tests/e2e/match-conditions) without changing the machine's apt configuration.
#
#   suite_apt_setup SUITE DIR
#
# writes a private apt directory DIR whose only entry is the machine's own Debian archive entry
# (same URI and keyring) with the suite replaced by SUITE, deb and deb-src, runs `apt-get
# update` on it (output in DIR/update.log), and sets the array `suite_apt_options`, to be passed
# to apt-get and apt-cache. The machine's installed packages are hidden from it
# (Dir::State::status=/dev/null): downloads are for unpacking with dpkg-deb, never installing.
# Returns non-zero with a message on stderr when there is no Debian entry or the update fails.

suite_apt_setup() {
  local suite=$1 dir=$2 file uri="" keyring=""
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    # The deb822 stanza whose URI ends in /debian (not debian-security).
    local stanza
    stanza=$(awk -v RS= '/URIs:[^\n]*\/debian\/?(\n|$)/ {print; exit}' "$file")
    [ -n "$stanza" ] || continue
    uri=$(awk '/^URIs:/ {print $2; exit}' <<< "$stanza")
    keyring=$(awk '/^Signed-By:/ {print $2; exit}' <<< "$stanza")
    break
  done
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list)
  fi
  if [ -z "$uri" ]; then
    echo "no Debian archive entry in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list" >&2
    return 1
  fi
  keyring=${keyring:-/usr/share/keyrings/debian-archive-keyring.gpg}
  mkdir -p "$dir/sources.list.d" "$dir/lists/partial"
  : > "$dir/sources.list"
  cat > "$dir/sources.list.d/$suite.sources" << EOF
Types: deb deb-src
URIs: $uri
Suites: $suite
Components: main
Signed-By: $keyring
EOF
  suite_apt_options=(
    -o "Dir::Etc::SourceList=$dir/sources.list"
    -o "Dir::Etc::SourceParts=$dir/sources.list.d"
    -o "Dir::State::Lists=$dir/lists"
    -o "Dir::State::status=/dev/null"
    -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
    -o "APT::Sandbox::User=root"
  )
  if ! apt-get "${suite_apt_options[@]}" update > "$dir/update.log" 2>&1; then
    echo "apt-get update for $suite ($uri) failed: $(tail -n 3 "$dir/update.log")" >&2
    return 1
  fi
}

# suite_candidate PACKAGE: the version of a binary package SUITE offers (empty when none).
suite_candidate() {
  apt-cache "${suite_apt_options[@]}" policy "$1" 2> /dev/null |
    awk '/Candidate:/ && $2 != "(none)" {print $2}'
}
