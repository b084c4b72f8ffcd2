{
  "targets": [
    {
      "target_name": "gatio",
      "sources": [
        "native/addon.cc",
        "native/topology.cc",
        "native/affinity.cc",
        "native/arena.cc",
        "native/buddy.cc",
        "native/uring_probe.cc",
        "native/system.cc",
        "native/wake.cc",
        "native/ring.cc",
        "native/queue_hooks.cc",
        "native/io_driver.cc",
        "native/net_engine.cc",
        "native/net.cc",
        "native/http_parser.cc",
        "native/http.cc",
        "native/llhttp_llhttp.c",
        "native/llhttp_api.c",
        "native/llhttp_http.c"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(pkg-config --cflags-only-I liburing hwloc numa | sed s/-I//g)",
        "/usr/share/include/llhttp",
        "/usr/share"
      ],
      "libraries": [
        "<!@(pkg-config --libs liburing hwloc numa)"
      ],
      "defines": [
        "NAPI_VERSION=9",
        "NAPI_CPP_EXCEPTIONS",
        "LLHTTP_STRICT_MODE=1",
        "GATIO_LIBURING_VERSION=\"<!(pkg-config --modversion liburing)\"",
        "GATIO_HWLOC_VERSION=\"<!(pkg-config --modversion hwloc)\"",
        "GATIO_NUMA_VERSION=\"<!(pkg-config --modversion numa)\""
      ],
      "cflags_cc": [ "-std=c++20", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers" ],
      "cflags": [ "-fvisibility=hidden" ],
      "cflags_cc!": [ "-fno-exceptions", "-std=gnu++17" ]
    }
  ]
}
