// llhttp 8.1's api.c from Debian's node-llhttp package (/usr/share/llhttp),
// compiled into the addon (binding.gyp: hidden symbols). Not our code: see
// http_parser.{h,cc} for how we use it and what we guard against.
#include "llhttp/api.c"
