#!/usr/bin/env bash
# Writes the ABI of a built libbarlow as abi/libbarlow-<version>.abi (abidw,
# Debian package abigail-tools), restricted to the types of the public
# headers. Run it on a release build and commit the file; later builds are
# compared with it by:
#   abidiff --headers-dir1 <inc> --headers-dir2 <inc> abi/libbarlow-<v>.abi build/lib/libbarlow.so
# (see docs/abi.md). The library needs debug info (the default
# debugoptimized build type has it).
#
#   tools/abi-dump.sh [BUILD_DIR]      default: build
#   OUT=path tools/abi-dump.sh ...     write somewhere else
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)

if ! command -v abidw >/dev/null; then
  echo "abi-dump: abidw not found (apt install abigail-tools)" >&2
  exit 1
fi
version=$(sed -n 's/^#define BARLOW_VERSION_STRING "\(.*\)"$/\1/p' \
  "$build/include/barlow/version.h")
lib=$(ls "$build"/lib/libbarlow.so.*.*.* 2>/dev/null | head -n 1)
if [ -z "$version" ] || [ -z "$lib" ]; then
  echo "abi-dump: no built libbarlow in $build (run ninja -C $build)" >&2
  exit 1
fi

# The public headers as installed: include/barlow/*.h plus the generated
# version.h.
hdrs=$(mktemp -d)
trap 'rm -rf "$hdrs"' EXIT
cp "$root"/include/barlow/*.h "$build/include/barlow/version.h" "$hdrs/"

out=${OUT:-$root/abi/libbarlow-$version.abi}
mkdir -p "$(dirname "$out")"
abidw --headers-dir "$hdrs" --drop-private-types --no-corpus-path \
  --no-comp-dir-path --short-locs --out-file "$out" "$lib"
echo "abi-dump: wrote $out ($(grep -c '<elf-symbol ' "$out") ELF symbols)"
