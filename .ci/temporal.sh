#!/usr/bin/env bash
# Build the real Temporal dev server (temporal CLI v1.5.1) with Go, once, into
# the user's cache; later runs reuse it. Prints the binary's path.
set -euo pipefail
BIN_DIR="${GROKMAP_CACHE_DIR:-$HOME/.cache/grokmap}/bin"
if [ ! -x "$BIN_DIR/temporal" ]; then
  mkdir -p "$BIN_DIR"
  echo "building temporal CLI v1.5.1 with go install (first run only)" >&2
  GOBIN="$BIN_DIR" GOFLAGS=-mod=mod go install github.com/temporalio/cli/cmd/temporal@v1.5.1 >&2
fi
"$BIN_DIR/temporal" --version >&2
echo "$BIN_DIR/temporal"
