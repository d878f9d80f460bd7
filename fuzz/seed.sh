#!/bin/sh
# Seeds the verify_request corpus with the signed requests of the SigV4 test suite.
# Usage: fuzz/seed.sh [path/to/sigv4-test-suite]   (default: $K9_SIGV4_TEST_SUITE or ../shared/...)
# The corpus lives in fuzz/corpus/verify_request, which .gitignore keeps out of git.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
suite=${1:-${K9_SIGV4_TEST_SUITE:-$here/../../shared/sigv4-test-suite}}
[ -d "$suite/v4" ] || { echo "test suite not found at $suite" >&2; exit 1; }
corpus=$here/corpus/verify_request
mkdir -p "$corpus"
n=0
for f in "$suite"/v4/*/*-signed-request.txt "$suite"/smithy-rs-extra/v4/*/*-signed-request.txt \
         "$suite"/aws4_testsuite/*.sreq "$suite"/aws4_testsuite/*/*.sreq "$suite"/aws4_testsuite/*/*/*.sreq; do
    [ -f "$f" ] || continue
    case_dir=$(basename "$(dirname "$f")")
    cp "$f" "$corpus/$case_dir-$(basename "$f")"
    n=$((n + 1))
done
echo "seeded $n files into $corpus"
