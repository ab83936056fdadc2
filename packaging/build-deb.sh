#!/usr/bin/env bash
# Builds the Debian package of `rebound` into target/debian/:
#   /usr/bin/rebound, man pages (rebound(1), rebound-serve(1), …), bash/zsh/fish
#   completions, /etc/rebound/rebound-serve.toml and rebound-serve.service
#   (installed, not enabled: it needs tokens first), and the template
#   rebound-fetch@.service (one bounce mailbox per instance).
# Usage: packaging/build-deb.sh [--profile dev]   (default: release, ~8 min cold)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
if [ "${1:-}" = --profile ]; then profile=$2; fi
case "$profile" in dev) dir=debug ;; *) dir=$profile ;; esac

command -v cargo-deb >/dev/null || cargo install cargo-deb --locked

cargo build --profile "$profile" -p rebound
bin="target/$dir/rebound"

# Generated from the CLI's own definitions, so they always match it.
assets=target/deb-assets
rm -rf "$assets"
mkdir -p "$assets/completions"
"$bin" man "$assets/man"
gzip -9n "$assets"/man/*.1
"$bin" completions bash >"$assets/completions/rebound.bash"
"$bin" completions zsh >"$assets/completions/_rebound"
"$bin" completions fish >"$assets/completions/rebound.fish"

# cargo-deb warns that the target/deb-assets paths are not build outputs it
# knows: they are this script's, made above.
cargo deb -p rebound --no-build --profile "$profile"
ls -l target/debian/*.deb
