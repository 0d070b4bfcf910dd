#!/bin/sh
# An example command module for canopy-agent: prints a JSON tree (merged
# under host,<h>,...). A module may print Graphite lines instead:
#   echo "example.files $(ls /tmp | wc -l)"
set -eu
users=$(who 2>/dev/null | wc -l)
files=$(ls /tmp 2>/dev/null | wc -l)
printf '{"example_cmd": {"defaultaction": "last", "users": %s, "tmp_files": %s}}\n' \
  "$users" "$files"
