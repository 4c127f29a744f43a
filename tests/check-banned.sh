#!/bin/sh
# No banned function in the product's sources (DESIGN.md conventions):
# each has a bounded or checked replacement (snprintf, strtoul with end
# checks, the cursor and buffer helpers).
# usage: check-banned.sh SOURCE-DIR
set -eu
cd "$1"
pattern='\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|alloca|strncpy)[[:space:]]*\('
if grep -rnE "$pattern" lib daemon cli common --include='*.c' --include='*.h' |
    grep -vE '\b(snprintf|vsnprintf)\b' | grep -v '^[^:]*:[0-9]*:[[:space:]]*/?\*'; then
	echo "banned functions above"
	exit 1
fi
echo "no banned function in lib daemon cli common"
