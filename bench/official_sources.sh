#!/usr/bin/env bash
# Writes the official S4 sources the benchmark's official column needs, models/s4 and
# extensions/kernels of state-spaces/s4 (about 200 KB, small enough to carry to the GPU
# machine), into a git-ignored folder, default .s4ref/ at the top of this checkout, with
# the commit they come from in .s4ref/COMMIT. Then: S4REF=$PWD/.s4ref node bench/run.js
#
#   bench/official_sources.sh SOURCE [DEST]
#
# SOURCE: a clone of state-spaces/s4 (a work tree or a bare repository; S4_COMMIT picks the
# commit, default HEAD) or a folder holding its models/s4 and extensions/kernels (its COMMIT
# file, where it has one, names the commit). A build of the extension in SOURCE is not
# copied: bench/official_build.py builds it for the GPU that runs the benchmark.
set -euo pipefail
src=${1:?usage: bench/official_sources.sh SOURCE [DEST] (SOURCE: a clone of state-spaces/s4)}
dest=${2:-$(git -C "$(dirname "$0")" rev-parse --show-toplevel)/.s4ref}
paths=(models/s4 extensions/kernels)

if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
  commit=$(git -C "$src" rev-parse --verify "${S4_COMMIT:-HEAD}^{commit}")
  for p in "${paths[@]}"; do
    git -C "$src" cat-file -e "$commit:$p" 2>/dev/null || { echo "official_sources.sh: $src has no $p at $commit (is it state-spaces/s4?)" >&2; exit 1; }
  done
  rm -rf "$dest" && mkdir -p "$dest"
  git -C "$src" archive "$commit" "${paths[@]}" | tar -x -C "$dest"
else
  for p in "${paths[@]}"; do
    [ -d "$src/$p" ] || { echo "official_sources.sh: $src has no $p (expected a clone of state-spaces/s4 or a folder with models/s4 and extensions/kernels)" >&2; exit 1; }
  done
  commit=$(cat "$src/COMMIT" 2>/dev/null || echo "unknown (copied from $src)")
  rm -rf "$dest" && mkdir -p "$dest/models" "$dest/extensions"
  cp -r "$src/models/s4" "$dest/models/"
  cp -r "$src/extensions/kernels" "$dest/extensions/"
  rm -rf "$dest/extensions/kernels/build" "$dest"/extensions/kernels/structured_kernels*.so
  find "$dest" -name __pycache__ -type d -prune -exec rm -rf {} +
fi
echo "$commit" > "$dest/COMMIT"
echo "wrote $dest ($(du -sh "$dest" | cut -f1)): state-spaces/s4 $commit, ${paths[*]}"
