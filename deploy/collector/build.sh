#!/usr/bin/env bash
# Build the OpenTelemetry Collector of deploy/collector/manifest.yaml with the Collector Builder (ocb),
# once: the binary is kept under .cache/otelcol/<manifest hash>/ and reused until the manifest changes.
# Needs Go and the Go module proxy. Prints the binary's path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
ocb_version="v0.161.0"  # the builder of the manifest's release
key="$(cat "$here/manifest.yaml" | sha256sum | cut -c1-16)-$ocb_version"
out="$root/.cache/otelcol/$key"
binary="$out/otelcol-dynamiq"
if [[ ! -x "$binary" ]]; then
  command -v go >/dev/null || { echo "build.sh: Go is needed to build the collector" >&2; exit 1; }
  mkdir -p "$out"
  started=$(date +%s)
  (cd "$out" && go run "go.opentelemetry.io/collector/cmd/builder@$ocb_version" \
      --config "$here/manifest.yaml" --output-path "$out/src" >"$out/build.log" 2>&1) \
    || { tail -20 "$out/build.log" >&2; exit 1; }
  mv "$out/src/otelcol-dynamiq" "$binary"
  echo "build.sh: built the collector in $(( $(date +%s) - started )) s" >&2
fi
echo "$binary"
