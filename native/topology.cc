// Topology through hwloc: the machine (or a synthetic / XML description) as
// flat lists of objects with their cpusets. Relationships (which core is on
// which node, SMT siblings, ...) are derived in TypeScript (src/tpc/topology.ts);
// this file only reads hwloc and copies plain numbers out.
#include <hwloc.h>
#include <sched.h>
#include <unistd.h>

#include "addon.h"

namespace gatio {
namespace {

// Owns a hwloc topology for the duration of one call.
struct TopologyHandle {
  hwloc_topology_t t = nullptr;
  ~TopologyHandle() {
    if (t) hwloc_topology_destroy(t);
  }
};

Napi::Array BitmapToArray(Napi::Env env, hwloc_const_bitmap_t set) {
  Napi::Array out = Napi::Array::New(env);
  if (!set) return out;
  uint32_t i = 0;
  int id;
  hwloc_bitmap_foreach_begin(id, set) { out.Set(i++, Napi::Number::New(env, id)); }
  hwloc_bitmap_foreach_end();
  return out;
}

// Objects of one type as [{ logical, os, cpus, memory?, size? }].
Napi::Array ObjectsOfType(Napi::Env env, hwloc_topology_t t, hwloc_obj_type_t type) {
  Napi::Array out = Napi::Array::New(env);
  int n = hwloc_get_nbobjs_by_type(t, type);
  for (int i = 0; i < n; i++) {
    hwloc_obj_t o = hwloc_get_obj_by_type(t, type, i);
    Napi::Object r = Napi::Object::New(env);
    r.Set("logical", Napi::Number::New(env, o->logical_index));
    r.Set("os", o->os_index == HWLOC_UNKNOWN_INDEX ? env.Null() : Napi::Number::New(env, o->os_index));
    r.Set("cpus", BitmapToArray(env, o->cpuset));
    if (type == HWLOC_OBJ_NUMANODE) {
      r.Set("memory", Napi::Number::New(env, static_cast<double>(o->attr->numanode.local_memory)));
    } else if (hwloc_obj_type_is_cache(type)) {
      r.Set("size", Napi::Number::New(env, static_cast<double>(o->attr->cache.size)));
    }
    out.Set(static_cast<uint32_t>(i), r);
  }
  return out;
}

// loadTopology({ synthetic?, xml? }) -> raw lists. Disallowed objects are
// kept (INCLUDE_DISALLOWED) so the planner can say "core 9 exists but this
// process may not use it" instead of pretending it does not exist.
Napi::Value LoadTopology(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object opts = info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
  TopologyHandle h;
  if (hwloc_topology_init(&h.t) != 0) ThrowErrno(env, "hwloc_topology_init", errno);
  hwloc_topology_set_flags(h.t, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
  std::string kind = "system";
  if (opts.Has("synthetic") && opts.Get("synthetic").IsString()) {
    kind = "synthetic";
    std::string desc = opts.Get("synthetic").As<Napi::String>();
    if (hwloc_topology_set_synthetic(h.t, desc.c_str()) != 0) {
      throw Napi::Error::New(env, "invalid hwloc synthetic topology description: \"" + desc +
                                      "\" (expected e.g. \"Package:2 NUMANode:1 Core:4 PU:2\")");
    }
  } else if (opts.Has("xml") && opts.Get("xml").IsString()) {
    kind = "xml";
    std::string path = opts.Get("xml").As<Napi::String>();
    if (hwloc_topology_set_xml(h.t, path.c_str()) != 0) {
      int err = errno;
      throw Napi::Error::New(env, "cannot read hwloc XML topology " + path + ": " +
                                      (err ? std::strerror(err) : "not a valid hwloc XML file"));
    }
  }
  if (hwloc_topology_load(h.t) != 0) ThrowErrno(env, "hwloc_topology_load", errno);

  Napi::Object out = Napi::Object::New(env);
  out.Set("kind", Napi::String::New(env, kind));
  out.Set("nodes", ObjectsOfType(env, h.t, HWLOC_OBJ_NUMANODE));
  out.Set("packages", ObjectsOfType(env, h.t, HWLOC_OBJ_PACKAGE));
  out.Set("l3", ObjectsOfType(env, h.t, HWLOC_OBJ_L3CACHE));
  out.Set("cores", ObjectsOfType(env, h.t, HWLOC_OBJ_CORE));
  out.Set("pus", ObjectsOfType(env, h.t, HWLOC_OBJ_PU));
  out.Set("allowedCpus", BitmapToArray(env, hwloc_topology_get_allowed_cpuset(h.t)));
  out.Set("allowedNodes", BitmapToArray(env, hwloc_topology_get_allowed_nodeset(h.t)));

  // The process's own CPU affinity (taskset), read from the main thread
  // (tid == pid) so that a caller on a pinned thread still sees the process's.
  if (kind == "system") {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(getpid(), sizeof(set), &set) != 0) ThrowErrno(env, "sched_getaffinity", errno);
    Napi::Array aff = Napi::Array::New(env);
    uint32_t j = 0;
    for (int c = 0; c < CPU_SETSIZE; c++)
      if (CPU_ISSET(c, &set)) aff.Set(j++, Napi::Number::New(env, c));
    out.Set("processCpus", aff);
  }
  return out;
}

}  // namespace

void InitTopology(Napi::Env env, Napi::Object exports) {
  exports.Set("loadTopology", Napi::Function::New(env, LoadTopology, "loadTopology"));
}

}  // namespace gatio
