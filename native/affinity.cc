// Thread pinning. Every function acts on the *calling* OS thread (pid 0 in
// the sched_* calls means "this thread"), so a worker_thread pins itself:
// each Node worker runs on its own OS thread.
#include <sched.h>
#include <unistd.h>

#include <cmath>
#include <vector>

#include <time.h>

#include "addon.h"

namespace gatio {
namespace {

std::string JoinCpus(const std::vector<int>& cpus) {
  std::string s;
  for (int c : cpus) s += (s.empty() ? "" : ",") + std::to_string(c);
  return s;
}

std::vector<int> SetToList(const cpu_set_t& set) {
  std::vector<int> out;
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &set)) out.push_back(c);
  return out;
}

// bindThread(cpus): pins the calling thread to exactly these CPUs. The
// kernel silently drops CPUs outside the cpuset as long as one remains, so
// the result is read back: if any requested CPU was dropped, the previous
// affinity is restored and the error names the CPUs that cannot be used.
Napi::Value BindThread(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "bindThread: expected an array of CPU numbers");
  Napi::Array arr = info[0].As<Napi::Array>();
  if (arr.Length() == 0) throw Napi::RangeError::New(env, "bindThread: the CPU list is empty");
  cpu_set_t want;
  CPU_ZERO(&want);
  std::vector<int> cpus;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
    if (!(d >= 0) || d != std::floor(d)) {
      throw Napi::RangeError::New(env, "bindThread: " + v.ToString().Utf8Value() + " is not a CPU number");
    }
    if (d >= CPU_SETSIZE) {
      throw Napi::RangeError::New(env, "bindThread: CPU " + v.ToString().Utf8Value() + " is out of range (CPU_SETSIZE allows 0-" +
                                           std::to_string(CPU_SETSIZE - 1) + ")");
    }
    int c = static_cast<int>(d);
    if (!CPU_ISSET(c, &want)) cpus.push_back(c);
    CPU_SET(c, &want);
  }

  cpu_set_t before, after;
  if (sched_getaffinity(0, sizeof(before), &before) != 0) ThrowErrno(env, "bindThread: sched_getaffinity", errno);
  if (sched_setaffinity(0, sizeof(want), &want) != 0) {
    int err = errno;
    if (err == EINVAL) {
      throw Napi::Error::New(env, "bindThread: cannot pin to CPU(s) " + JoinCpus(cpus) +
                                      ": none is online and allowed for this process (see topology().allowed.pus)");
    }
    ThrowErrno(env, "bindThread: sched_setaffinity to CPU(s) " + JoinCpus(cpus), err);
  }
  if (sched_getaffinity(0, sizeof(after), &after) != 0) ThrowErrno(env, "bindThread: sched_getaffinity", errno);
  std::vector<int> dropped;
  for (int c : cpus)
    if (!CPU_ISSET(c, &after)) dropped.push_back(c);
  if (!dropped.empty()) {
    sched_setaffinity(0, sizeof(before), &before);
    throw Napi::Error::New(env, "bindThread: CPU(s) " + JoinCpus(dropped) +
                                    " not online or not allowed for this process (see topology().allowed.pus); the thread keeps its "
                                    "affinity " + JoinCpus(SetToList(before)));
  }
  return env.Undefined();
}

Napi::Value ThreadAffinity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) ThrowErrno(env, "threadAffinity: sched_getaffinity", errno);
  std::vector<int> cpus = SetToList(set);
  Napi::Array out = Napi::Array::New(env, cpus.size());
  for (uint32_t i = 0; i < cpus.size(); i++) out.Set(i, Napi::Number::New(env, cpus[i]));
  return out;
}

Napi::Value CurrentCpu(const Napi::CallbackInfo& info) {
  int cpu = sched_getcpu();
  if (cpu < 0) ThrowErrno(info.Env(), "currentCpu: sched_getcpu", errno);
  return Napi::Number::New(info.Env(), cpu);
}

Napi::Value ThreadId(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), gettid()); }

// threadCpuMs() -> CPU time the calling thread has used, in ms
// (CLOCK_THREAD_CPUTIME_ID): the scheduler charges queues by it, so time
// the kernel gave to other threads is not billed to the running queue.
Napi::Value ThreadCpuMs(const Napi::CallbackInfo& info) {
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) ThrowErrno(info.Env(), "clock_gettime(CLOCK_THREAD_CPUTIME_ID)", errno);
  return Napi::Number::New(info.Env(), static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6);
}

}  // namespace

void InitAffinity(Napi::Env env, Napi::Object exports) {
  exports.Set("bindThread", Napi::Function::New(env, BindThread, "bindThread"));
  exports.Set("threadAffinity", Napi::Function::New(env, ThreadAffinity, "threadAffinity"));
  exports.Set("currentCpu", Napi::Function::New(env, CurrentCpu, "currentCpu"));
  exports.Set("threadId", Napi::Function::New(env, ThreadId, "threadId"));
  exports.Set("threadCpuMs", Napi::Function::New(env, ThreadCpuMs, "threadCpuMs"));
}

}  // namespace gatio
