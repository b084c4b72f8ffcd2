// Test hooks for the message queue (queue.h) from JavaScript: push and pop
// from C++ on the calling thread, and a native producer thread, so tests
// can check that JS and native threads interoperate on the same bytes.
//
// Queues are named by (arena id, byte offset). Each call holds the arena
// (ArenaHold) while it uses the queue; the producer thread's job holds it
// for as long as the thread runs.
#include <sched.h>

#include <chrono>
#include <thread>

#include "addon.h"
#include "queue.h"

namespace gatio {
namespace {

struct Memory {
  HeldArena arena;  // keeps the queue's memory mapped
  QueueRef queue;
};

uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  return static_cast<uint32_t>(WholeNumber(info[i], fn, name, 0, UINT32_MAX));
}

// The queue at (info[0] = arena id, info[1] = offset).
Memory Open(const Napi::CallbackInfo& info, const char* fn) {
  Napi::Env env = info.Env();
  uint32_t id = ArgU32(info, 0, fn, "arena id");
  uint32_t offset = ArgU32(info, 1, fn, "offset");
  HeldArena arena = ArenaHold(env, id, fn);
  if (offset >= arena.bytes) {
    throw Napi::RangeError::New(env, std::string(fn) + ": offset " + std::to_string(offset) + " is outside arena " +
                                         std::to_string(id) + " (" + std::to_string(arena.bytes) + " bytes)");
  }
  uint8_t* base = arena.base + offset;
  if (const char* why = QueueRef::Check(base, arena.bytes - offset)) {
    throw Napi::Error::New(env, std::string(fn) + ": arena " + std::to_string(id) + " offset " + std::to_string(offset) + ": " + why);
  }
  QueueRef queue = QueueRef::Attach(base, arena.bytes - offset);
  return Memory{std::move(arena), queue};
}

// queueNativePush(arenaId, offset, bytes: Uint8Array) -> boolean (false: full)
Napi::Value Push(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "queueNativePush";
  Memory m = Open(info, fn);
  if (info.Length() < 3 || !info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, std::string(fn) + ": bytes must be a Uint8Array");
  }
  Napi::Uint8Array bytes = info[2].As<Napi::Uint8Array>();
  if (bytes.ByteLength() > m.queue.MaxPayload()) {
    throw Napi::RangeError::New(env, std::string(fn) + ": a payload of " + std::to_string(bytes.ByteLength()) +
                                         " bytes exceeds maxPayload " + std::to_string(m.queue.MaxPayload()));
  }
  return Napi::Boolean::New(env, m.queue.TryPush(bytes.Data(), static_cast<uint32_t>(bytes.ByteLength())));
}

// queueNativePop(arenaId, offset) -> Buffer (a copy) | null (empty)
Napi::Value Pop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Memory m = Open(info, "queueNativePop");
  Napi::Value out = env.Null();
  try {
    m.queue.TryPop([&](const uint8_t* data, uint32_t len) { out = Napi::Buffer<uint8_t>::Copy(env, data, len); });
  } catch (const std::logic_error& e) {
    throw Napi::Error::New(env, std::string("queueNativePop: ") + e.what());
  }
  return out;
}

// The messages queueNativeProducer sends (test/queue.test.mjs checks them):
//   u32 tag, u32 seq, body, u32 checksum      (all little-endian)
// body is bodyLen = (seq * 7) % (maxPayload - 11) bytes, byte i being
// (tag + seq + i) & 0xff; checksum is FNV-1a over tag, seq and body.
uint32_t Fnv1a(const uint8_t* p, uint32_t n) {
  uint32_t h = 2166136261u;
  for (uint32_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

struct ProducerJob {
  static constexpr std::chrono::seconds kGiveUp{5};
  Memory memory;
  uint32_t count;
  uint32_t tag;
  uint64_t fullRetries = 0;
  uint32_t pushed = 0;
  uint32_t woke = 0;
  std::string error;  // set when the thread gave up
  Napi::Promise::Deferred deferred;
  Napi::ThreadSafeFunction done;  // released by the thread when it finishes
  std::thread thread;

  void Run() {
    QueueRef& q = memory.queue;
    const uint32_t bodyMod = q.MaxPayload() - 11;
    for (uint32_t seq = 0; seq < count; seq++) {
      const uint32_t bodyLen = uint32_t((uint64_t(seq) * 7) % bodyMod);
      auto write = [&](uint8_t* dst) {
        std::memcpy(dst, &tag, 4);
        std::memcpy(dst + 4, &seq, 4);
        for (uint32_t i = 0; i < bodyLen; i++) dst[8 + i] = uint8_t(tag + seq + i);
        uint32_t sum = Fnv1a(dst, 8 + bodyLen);
        std::memcpy(dst + 8 + bodyLen, &sum, 4);
      };
      // Full: spin briefly, then give the (possibly shared) core to the
      // consumer. Give up if it stays full (the consumer is gone: a failed
      // test must not leave this thread, and its process, running).
      auto fullSince = std::chrono::steady_clock::now();
      for (uint32_t spins = 0; !q.TryPushWith(12 + bodyLen, write); spins++) {
        fullRetries++;
        if (spins < 16) {
          sched_yield();
          continue;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(20));
        if (spins % 256 == 0 && std::chrono::steady_clock::now() - fullSince > kGiveUp) {
          error = "queueNativeProducer: the queue stayed full for 5 s; gave up after " + std::to_string(seq) + " of " +
                  std::to_string(count) + " messages";
          done.Release();
          return;
        }
      }
      pushed++;
      if (q.WakeIfParked()) woke++;
    }
    done.Release();
  }
};

// queueNativeProducer(arenaId, offset, count, tag) -> Promise<{ pushed, fullRetries, woke }>
// Starts a std::thread that pushes `count` messages (format above), as
// fast as it can, retrying while the queue is full, and calling
// WakeIfParked after each push. The promise settles on the calling thread
// once the thread has been joined; it rejects if the queue stayed full for
// 5 s (nobody consuming).
Napi::Value Producer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "queueNativeProducer";
  Memory m = Open(info, fn);
  if (m.queue.MaxPayload() < 12) throw Napi::RangeError::New(env, std::string(fn) + ": slots are too small for the test messages");
  uint32_t count = ArgU32(info, 2, fn, "count");
  uint32_t tag = ArgU32(info, 3, fn, "tag");
  auto* job = new ProducerJob{std::move(m), count, tag, 0, 0, 0, {}, Napi::Promise::Deferred::New(env), {}, {}};
  Napi::Promise promise = job->deferred.Promise();
  job->done = Napi::ThreadSafeFunction::New(
      env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), fn, 0, 1, job,
      [](Napi::Env env, ProducerJob* job) {  // on the JS thread, after the thread's Release
        if (job->thread.joinable()) job->thread.join();
        if (!job->error.empty()) {
          job->deferred.Reject(Napi::Error::New(env, job->error).Value());
          delete job;
          return;
        }
        Napi::Object r = Napi::Object::New(env);
        r.Set("pushed", Napi::Number::New(env, job->pushed));
        r.Set("fullRetries", Napi::Number::New(env, static_cast<double>(job->fullRetries)));
        r.Set("woke", Napi::Number::New(env, job->woke));
        job->deferred.Resolve(r);
        delete job;
      });
  try {
    job->thread = std::thread([job] { job->Run(); });
  } catch (const std::system_error& e) {
    job->done.Abort();
    throw Napi::Error::New(env, std::string(fn) + ": cannot start a thread: " + e.what());
  }
  return promise;
}

}  // namespace

void InitQueueHooks(Napi::Env env, Napi::Object exports) {
  exports.Set("queueNativePush", Napi::Function::New(env, Push, "queueNativePush"));
  exports.Set("queueNativePop", Napi::Function::New(env, Pop, "queueNativePop"));
  exports.Set("queueNativeProducer", Napi::Function::New(env, Producer, "queueNativeProducer"));
}

}  // namespace gatio
