#!/usr/bin/env bash
# buf (proto linter) from the npm package @bufbuild/buf, which ships the binary; cached outside the repo.
set -euo pipefail
DIR=${CODEEVAL_TOOLS_DIR:-$HOME/.cache/codeeval}/buf
BUF=$DIR/node_modules/.bin/buf
if [ ! -x "$BUF" ]; then
  mkdir -p "$DIR"
  npm install --prefix "$DIR" --silent --no-audit --no-fund @bufbuild/buf@1.75.0 >/dev/null
fi
echo "$BUF"
