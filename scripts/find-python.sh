#!/usr/bin/env bash
# Print the path of a Python interpreter >= 3.12: $PYTHON if set, else the first on PATH,
# else the oldest supported (3.12 first) of pyenv's versions. Exits 1 with a message if there is none.
set -u
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
if [ -n "${PYTHON:-}" ]; then
  if ok "$PYTHON"; then command -v "$PYTHON"; exit 0; fi
  echo "PYTHON=$PYTHON is not a Python >= 3.12" >&2; exit 1
fi
for name in python3.12 python3.13 python3.14 python3 python; do
  p=$(command -v "$name" 2>/dev/null) || continue
  if ok "$p"; then echo "$p"; exit 0; fi
done
if command -v pyenv >/dev/null 2>&1; then
  for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[2-9]|[2-9][0-9])' | sort -V); do
    p="$(pyenv prefix "$v" 2>/dev/null)/bin/python"
    if ok "$p"; then echo "$p"; exit 0; fi
  done
fi
echo "No Python >= 3.12 found on PATH or in pyenv; set PYTHON=/path/to/python3.12" >&2
exit 1
