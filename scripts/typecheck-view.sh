#!/bin/sh
# Make build/typecheck/dreamcommons: the installed namespace as symbolic links to the
# repository's folders, so that mypy (which cannot follow setuptools' package-dir mapping)
# sees the modules under the names they are imported by.
set -eu
cd "$(dirname "$0")/.."
view=build/typecheck/dreamcommons
rm -rf build/typecheck
mkdir -p "$view"
for entry in dreamcommons/*; do
    name=$(basename "$entry")
    [ "$name" = "__pycache__" ] || ln -s "../../../$entry" "$view/$name"
done
for folder in server client firmware_sim seeds; do
    ln -s "../../../$folder" "$view/$folder"
done
