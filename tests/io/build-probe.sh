#!/bin/sh
# build-probe.sh OUT - build io-probe from lib/dns.c and lib/fetch.c alone,
# with ASan+UBSan, for run.sh and world-smoke.sh when meson did not pass
# one (a standalone run of either script).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
# shellcheck disable=SC2046
exec ${CC:-gcc} -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -g -O1 \
    -fsanitize=address,undefined -fno-omit-frame-pointer \
    -I"$TOP/include" -I"$TOP/lib" \
    "$TOP/lib/dns.c" "$TOP/lib/fetch.c" "$HERE/io-probe.c" \
    -o "$1" \
    $(pkg-config --cflags --libs libevent libunbound libcurl openssl) \
    -lldns
