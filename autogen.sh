#!/bin/sh
# Generate the configure script and the build helpers.
set -e
cd "$(dirname "$0")"
autoreconf --force --install
