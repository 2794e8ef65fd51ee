#!/usr/bin/env bash
# The native relay's tests under AddressSanitizer and UndefinedBehaviorSanitizer: builds the relay with
# both into build-asan/, then runs every native-path test of the built-in balancer against that build.
# A heap error, a use after free or undefined behaviour aborts the run. Extra arguments go to ava
# (.ci/run passes --tap). Needs the dist/ build (npm test or npm run build) and gcc's libasan.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=build-asan
mkdir -p "$out"
headers=$(node -p "require('node:path').join(process.execPath, '../../include/node')")
cc -shared -fPIC -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
  -I"$headers" -DNAPI_VERSION=8 -DNODE_GYP_MODULE_NAME=lncluster_relay \
  -o "$out/lncluster_relay.node" native/relay/relay.c
# Node itself is not built with ASan: its runtime is preloaded; leak reports would be Node's own.
LD_PRELOAD=$(cc -print-file-name=libasan.so) \
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
LNCLUSTER_RELAY_ADDON="$PWD/$out/lncluster_relay.node" \
  npx ava "${AVA_DIST:-dist}/test/balancer/builtin.test.js" --match 'native*' "$@"
