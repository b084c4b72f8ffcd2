// The per-driver io_uring (class Ring, see ring.h) and its JS binding.
//
// Binding design (docs/drivers.md, "Ring"):
// - The command array, the completion array and a 64-byte header live in
//   ONE block of the driver's arena, allocated by the TS side
//   (src/drivers/protocol/ring.ts) and handed to the ring at creation: the
//   ring frees it when it is closed, by ringClose or by the env cleanup hook
//   of a thread that ended without closing it (a driver that died). Why there and not in external ArrayBuffers: the
//   arena is already shared memory every thread can view, it is NUMA-local,
//   its lifetime is explicit (no GC finalizer racing the ring), and the
//   header's stats can be read from any thread (runtime stats).
// - The ring holds its arena (ArenaHold), so the memory the kernel may
//   write into stays mapped at least until every op has completed, whatever
//   JS does with its Arena handle meanwhile.
// - Rings are named by id. Each thread keeps the rings it created in a
//   thread_local table; only that thread can turn or close them (SINGLE_ISSUER,
//   and liburing's SQ/CQ indices are not thread-safe: the kernel's EEXIST
//   would come only after a second thread had already scribbled on them).
//   Another thread gets a clear GATIO_RING_WRONG_THREAD error instead.
// - A ring whose thread's environment is torn down (worker exit) is drained
//   and closed by an env cleanup hook.
#include "ring.h"

#include <algorithm>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <mutex>
#include <unordered_map>

#include "addon.h"
#include "ring_box.h"

namespace gatio {

namespace {
// user_data values >= 2^53 are never a JS op (userData travels as a JS number): the ring's own.
constexpr uint64_t kDrainTag = ~0ull - 1;  // our cancel-everything SQE on close
constexpr uint64_t kFirstInternal = 1ull << 53;
constexpr size_t kMaxPath = 4096;  // PATH_MAX: how far to look for an OPENAT path's NUL

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

const char* RingOpName(unsigned op) {
  static const char* names[] = {"NOP",  "TIMEOUT", "TIMEOUT_REMOVE", "ASYNC_CANCEL", "OPENAT",
                                "CLOSE", "READ",    "WRITE",          "FSYNC",        "POLL_ADD",
                                "NET_SEND", "NET_END", "NET_CLOSE", "NET_PAUSE", "NET_RESUME", "NET_RELEASE", "NET_SENDTO"};
  return op < kOpCount ? names[op] : "UNKNOWN";
}

const char* TaskRunName(TaskRun m) {
  switch (m) {
    case TaskRun::kDefer: return "defer";
    case TaskRun::kCoop: return "coop";
    case TaskRun::kNone: return "none";
    default: return "auto";
  }
}

// ---- Ring -----------------------------------------------------------------

Ring::~Ring() { Close(10000); }

int Ring::Init(const RingConfig& cfg, std::string* why) {
  if (live_) {
    *why = "ring already initialised";
    return -EINVAL;
  }
  base_ = cfg.base;
  bytes_ = cfg.bytes;
  // Candidate setups, best first. TASKRUN_FLAG lets us see (IORING_SQ_TASKRUN)
  // whether the kernel holds completions for us, so an idle turn need not
  // enter the kernel. Older kernels answer EINVAL to flags they lack.
  const unsigned S = IORING_SETUP_SINGLE_ISSUER, T = IORING_SETUP_TASKRUN_FLAG;
  struct Try {
    unsigned flags;
    TaskRun mode;
  };
  std::vector<Try> tries;
  auto defer = [&] {
    tries.push_back({S | IORING_SETUP_DEFER_TASKRUN | T, TaskRun::kDefer});
    tries.push_back({S | IORING_SETUP_DEFER_TASKRUN, TaskRun::kDefer});
  };
  auto coop = [&] {
    tries.push_back({S | IORING_SETUP_COOP_TASKRUN | T, TaskRun::kCoop});
    tries.push_back({IORING_SETUP_COOP_TASKRUN | T, TaskRun::kCoop});
    tries.push_back({IORING_SETUP_COOP_TASKRUN, TaskRun::kCoop});
  };
  if (cfg.mode == TaskRun::kCoop) {
    coop();
    defer();
  } else if (cfg.mode != TaskRun::kNone) {
    defer();
    coop();
  }
  tries.push_back({S, TaskRun::kNone});
  tries.push_back({0, TaskRun::kNone});

  int rc = -EINVAL;
  for (const Try& t : tries) {
    io_uring_params p{};
    p.flags = t.flags;
    rc = io_uring_queue_init_params(cfg.entries, &ring_, &p);
    if (rc == 0) {
      flags_ = t.flags;
      mode_ = t.mode;
      break;
    }
    if (rc != -EINVAL) break;  // EPERM (io_uring disabled), ENOMEM (memlock), EMFILE: no flag helps
  }
  if (rc != 0) {
    *why = "io_uring_queue_init(" + std::to_string(cfg.entries) + " entries)";
    return rc;
  }
  live_ = true;
  timespecs_.assign(ring_.sq.ring_entries, __kernel_timespec{});
  if (cfg.eventfd >= 0) {
    rc = io_uring_register_eventfd(&ring_, cfg.eventfd);
    if (rc < 0) {
      io_uring_queue_exit(&ring_);
      live_ = false;
      *why = "io_uring_register_eventfd(fd " + std::to_string(cfg.eventfd) + ")";
      return rc;
    }
  }
  return 0;
}

std::string Ring::Validate(const RingCommand& c) const {
  if (c.op >= kOpCount) return "op " + std::to_string(c.op) + " is not an OP_* code (0.." + std::to_string(kOpCount - 1) + ")";
  const std::string op = RingOpName(c.op);
  if (!WholeIn(c.userData, 0, kMaxSafeInteger)) return op + ": userData must be a whole number in [0, 2^53), got " + Num(c.userData);
  auto range = [&](double len, const char* what) -> std::string {
    if (!WholeIn(c.buf, 0, kMaxSafeInteger) || c.buf + len > static_cast<double>(bytes_) || !base_) {
      return op + ": " + what + " [" + Num(c.buf) + ", " + Num(c.buf + len) + ") is not inside the ring's arena (" +
             std::to_string(bytes_) + " bytes); buf must be an arena offset";
    }
    return "";
  };
  switch (c.op) {
    case kOpTimeout:
      // 2^64 ns (584 years) is as far as a timespec built from a uint64 goes; beyond, the cast is undefined.
      if (!(c.off >= 0 && c.off < 18446744073709551616.0)) return op + ": off (nanoseconds) must be in [0, 2^64), got " + Num(c.off);
      break;
    case kOpTimeoutRemove:
    case kOpAsyncCancel:
      if (!WholeIn(c.off, 0, kMaxSafeInteger)) return op + ": off (the userData to cancel) must be a whole number in [0, 2^53), got " + Num(c.off);
      break;
    case kOpOpenat: {
      std::string e = range(1, "path");
      if (!e.empty()) return e;
      uint64_t at = static_cast<uint64_t>(c.buf);
      size_t span = static_cast<size_t>(std::min<uint64_t>(kMaxPath, bytes_ - at));
      if (!std::memchr(base_ + at, 0, span)) {
        return op + ": the path at arena offset " + Num(c.buf) + " has no NUL within " + std::to_string(span) + " bytes";
      }
      break;
    }
    case kOpRead:
    case kOpWrite: {
      std::string e = range(c.len, "buffer");
      if (!e.empty()) return e;
      if (!WholeIn(c.off, -1, kMaxSafeInteger)) return op + ": off (file offset, -1 = current position) must be a whole number >= -1, got " + Num(c.off);
      break;
    }
    default:
      break;
  }
  return "";
}

io_uring_sqe* Ring::Sqe(std::string* why) {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (!sqe) {  // SQ full: hand what is queued to the kernel, then retry
    int rc = Enter(false, 0);
    sqe = io_uring_get_sqe(&ring_);
    if (!sqe) {  // still full (CQ backpressure): flush completions, retry once more
      Enter(true, 0);
      sqe = io_uring_get_sqe(&ring_);
    }
    if (!sqe) {
      *why = std::string("the submission queue is full and the kernel accepts no more (") +
             (rc < 0 ? std::strerror(-rc) : "busy") + "); reap completions and retry";
      return nullptr;
    }
  }
  stats_.inFlight++;
  return sqe;
}

int Ring::Queue(const RingCommand& c, std::string* why) {
  io_uring_sqe* sqe = Sqe(why);
  if (!sqe) return -EBUSY;
  void* buf = base_ + static_cast<uint64_t>(c.buf);
  auto off = [&] { return c.off < 0 ? ~0ull : static_cast<uint64_t>(c.off); };  // -1: file position
  switch (c.op) {
    case kOpNop:
      io_uring_prep_nop(sqe);
      break;
    case kOpTimeout: {
      __kernel_timespec& ts = timespecs_[sqe - ring_.sq.sqes];  // see timespecs_ in ring.h
      uint64_t ns = static_cast<uint64_t>(c.off);
      ts.tv_sec = static_cast<int64_t>(ns / 1000000000ull);
      ts.tv_nsec = static_cast<long long>(ns % 1000000000ull);
      io_uring_prep_timeout(sqe, &ts, 0, c.flags);
      break;
    }
    case kOpTimeoutRemove:
      io_uring_prep_timeout_remove(sqe, static_cast<uint64_t>(c.off), 0);
      break;
    case kOpAsyncCancel:
      io_uring_prep_cancel64(sqe, static_cast<uint64_t>(c.off), static_cast<int>(c.flags));
      break;
    case kOpOpenat:
      io_uring_prep_openat(sqe, c.fd, static_cast<const char*>(buf), static_cast<int>(c.flags), c.mode);
      break;
    case kOpClose:
      io_uring_prep_close(sqe, c.fd);
      break;
    case kOpRead:
      io_uring_prep_read(sqe, c.fd, buf, c.len, off());
      break;
    case kOpWrite:
      io_uring_prep_write(sqe, c.fd, buf, c.len, off());
      break;
    case kOpFsync:
      io_uring_prep_fsync(sqe, c.fd, c.flags);
      break;
    case kOpPollAdd:
      if (c.len & 1) io_uring_prep_poll_multishot(sqe, c.fd, c.flags);
      else io_uring_prep_poll_add(sqe, c.fd, c.flags);
      break;
  }
  sqe->user_data = static_cast<uint64_t>(c.userData);
  return 0;
}

bool Ring::NeedsEnter() const {
  if (!(flags_ & IORING_SETUP_TASKRUN_FLAG)) return true;
  return IO_URING_READ_ONCE(*ring_.sq.kflags) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW);
}

int Ring::Enter(bool getEvents, int64_t waitNs) {
  unsigned before = io_uring_sq_ready(&ring_);
  int rc;
  if (waitNs > 0) {
    __kernel_timespec ts{waitNs / 1000000000, waitNs % 1000000000};
    io_uring_cqe* cqe = nullptr;
    rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
  } else if (getEvents) {
    rc = io_uring_submit_and_get_events(&ring_);  // GETEVENTS: runs deferred task work, flushes overflow
  } else {
    rc = io_uring_submit(&ring_);
  }
  stats_.enters++;
  stats_.submitted += before - io_uring_sq_ready(&ring_);
  // Timed out, interrupted, or CQ backpressure: not errors, the caller reaps and comes back.
  if (rc == -ETIME || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY) return 0;
  return rc < 0 ? rc : 0;
}

int Ring::Submit(int64_t waitNs, std::string* why) {
  bool toSubmit = io_uring_sq_ready(&ring_) > 0;
  int rc = 0;
  if (waitNs > 0 && Ready() == 0) {
    rc = Enter(true, waitNs);
  } else if (toSubmit || NeedsEnter()) {
    rc = Enter(true, 0);
  }
  if (rc < 0) *why = "io_uring_enter";
  return rc;
}

unsigned Ring::Reap(RingCompletion* out, unsigned cap) {
  unsigned head, seen = 0, n = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    if (n == cap) break;
    if (sink_ && !sink_->Room()) break;
    seen++;
    bool last = !(cqe->flags & IORING_CQE_F_MORE);
    if (sink_ && sink_->Owns(cqe->user_data)) {
      if (last && stats_.inFlight > 0) stats_.inFlight--;
      sink_->OnCqe(cqe);
      continue;
    }
    if (last && stats_.inFlight > 0 && (cqe->user_data < kFirstInternal || cqe->user_data == kDrainTag)) stats_.inFlight--;
    if (cqe->user_data >= kFirstInternal) continue;  // ours (drain cancel) or liburing's (wait timeout)
    out[n++] = {static_cast<double>(cqe->user_data), cqe->res, cqe->flags};
  }
  io_uring_cq_advance(&ring_, seen);
  stats_.completed += n;
  if (sink_ && seen > 0) sink_->AfterReap();
  return n;
}

bool Ring::Close(int timeoutMs) {
  if (!live_) return true;
  const int64_t deadline = NowMs() + timeoutMs;
  int64_t nextCancel = 0;
  RingCompletion scratch[64];
  std::string why;
  // Whatever completes now is dropped: nobody is left to read it.
  while (stats_.inFlight > 0) {
    int64_t now = NowMs();
    if (now >= deadline) break;
    if (now >= nextCancel) {
      // Cancel everything, again every second: catches ops that raced the
      // previous cancel. The cancel is itself in flight until its CQE.
      if (io_uring_sqe* sqe = Sqe(&why)) {
        io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
        sqe->user_data = kDrainTag;
      }
      nextCancel = now + 1000;
    }
    Enter(true, 0);
    while (Reap(scratch, 64) > 0) {
    }
    if (stats_.inFlight == 0) break;
    int64_t waitMs = std::min<int64_t>({100, deadline - NowMs(), nextCancel - NowMs()});
    if (waitMs > 0) Enter(true, waitMs * 1000000);
    while (Reap(scratch, 64) > 0) {
    }
  }
  bool drained = stats_.inFlight == 0;
  // The ring itself can go either way: the kernel cancels and waits for
  // leftovers in the background. Only their buffers are the owner's problem.
  io_uring_queue_exit(&ring_);
  live_ = false;
  return drained;
}

// ---- binding ----------------------------------------------------------------

namespace {

// id -> owner thread, for every open ring in the process (error messages only).
struct Owners {
  std::mutex mu;
  std::unordered_map<uint32_t, pid_t> byId;
};
Owners& owners() {
  static Owners* o = new Owners;  // leaked on purpose, like arena.cc's registry
  return *o;
}
std::atomic<uint32_t> nextId{1};

// This thread's rings. A leaked pointer, not a thread_local object: its
// destructor would run after V8 is gone at thread exit; cleanup hooks close
// the rings before that.
std::unordered_map<uint32_t, Box*>& mine() {
  thread_local auto* m = new std::unordered_map<uint32_t, Box*>;
  return *m;
}

}  // namespace

// The calling thread's ring `id`, or a clear error naming the owner thread.
Box* OwnRing(const Napi::CallbackInfo& info, const char* fn) {
  uint32_t id = static_cast<uint32_t>(WholeNumber(info[0], fn, "ring id", 1, UINT32_MAX));
  auto& m = mine();
  auto it = m.find(id);
  if (it != m.end()) return it->second;
  pid_t owner = 0;
  {
    std::lock_guard<std::mutex> lock(owners().mu);
    auto o = owners().byId.find(id);
    if (o != owners().byId.end()) owner = o->second;
  }
  if (owner == 0) throw CodedError(info.Env(), std::string(fn) + ": no ring with id " + std::to_string(id) + " (never created, or closed)", "GATIO_RING_CLOSED");
  throw CodedError(info.Env(),
                   std::string(fn) + ": ring " + std::to_string(id) + " belongs to thread " + std::to_string(owner) +
                       ", which created it; it was called from thread " + std::to_string(gettid()) +
                       ". An io_uring with SINGLE_ISSUER is submitted to and reaped by its creating thread only: "
                       "send the work to that thread instead",
                   "GATIO_RING_WRONG_THREAD");
}

namespace {
Box* Own(const Napi::CallbackInfo& info, const char* fn) { return OwnRing(info, fn); }

}  // namespace

void WriteStats(Box* b) {
  const RingStats& s = b->ring.stats();
  b->header->submitted = static_cast<double>(s.submitted);
  b->header->completed = static_cast<double>(s.completed);
  b->header->enters = static_cast<double>(s.enters);
  b->header->inFlight = static_cast<double>(s.inFlight);
}

namespace {

// Closes and frees a ring of this thread (ringClose, or env teardown).
// Returns whether every op had completed.
bool Destroy(Box* b) {
  if (b->net) b->net->Shutdown();  // cancels every socket op; the drain below reaps them
  bool drained = b->ring.Close(10000);
  if (b->net) {
    b->ring.SetSink(nullptr);
    if (drained) {
      b->net.reset();  // closes the sockets; their buffers are the kernel's no more
      for (uint64_t blk : b->netBlocks) ArenaFreeBlock(b->arena, blk);
    } else {
      b->net.release();  // send buffers the kernel may still read: leaked, like the arena below
    }
  }
  WriteStats(b);
  b->header->state = 0;
  b->header->more = 0;
  mine().erase(b->id);
  {
    std::lock_guard<std::mutex> lock(owners().mu);
    owners().byId.erase(b->id);
  }
  // Ops still running may write into the arena: keep it mapped for good,
  // and the block too (the completion array is in it).
  if (!drained) ArenaKeepForKernel(b->arena);
  else ArenaFreeBlock(b->arena, b->block);
  delete b;
  return drained;
}

void OnEnvTeardown(void* arg) { Destroy(static_cast<Box*>(arg)); }

// ringCreate({ arenaId, block, commands, completions, entries, mode, eventfd })
//   block: byte offset of the ring's block in the arena (header, then
//   commands * 64, then completions * 16 bytes).
Napi::Value RingCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "ringCreate";
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "ringCreate: expected an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  auto b = std::make_unique<Box>();
  b->arena = ArenaHold(env, static_cast<uint64_t>(WholeNumber(o.Get("arenaId"), fn, "arenaId", 0, UINT32_MAX)), fn);
  uint64_t off = static_cast<uint64_t>(WholeNumber(o.Get("block"), fn, "block", 0, kMaxSafeInteger));
  b->block = off;
  unsigned entries = static_cast<unsigned>(WholeField(o, fn, "entries", 1, 32768, 256));
  b->cmdCap = static_cast<unsigned>(WholeField(o, fn, "commands", 1, 1 << 20, entries));
  b->cplCap = static_cast<unsigned>(WholeField(o, fn, "completions", 1, 1 << 20, 2 * entries));
  int eventfd = static_cast<int>(WholeField(o, fn, "eventfd", -1, INT_MAX, -1));
  TaskRun mode = TaskRun::kAuto;
  Napi::Value m = o.Get("mode");
  if (!m.IsUndefined()) {
    std::string s = m.ToString().Utf8Value();
    if (s == "defer") mode = TaskRun::kDefer;
    else if (s == "coop") mode = TaskRun::kCoop;
    else if (s == "none") mode = TaskRun::kNone;
    else if (s != "auto") throw Napi::RangeError::New(env, "ringCreate: mode must be 'auto', 'defer', 'coop' or 'none', got '" + s + "'");
  }
  const uint64_t bytes = b->arena.bytes;
  uint64_t need = sizeof(RingHeader) + uint64_t{b->cmdCap} * sizeof(RingCommand) + uint64_t{b->cplCap} * sizeof(RingCompletion);
  if (off % 64 != 0 || off + need > bytes) {
    throw Napi::RangeError::New(env, "ringCreate: block at offset " + std::to_string(off) + " (" + std::to_string(need) +
                                         " bytes needed) is not a 64-byte aligned range inside the arena (" +
                                         std::to_string(bytes) + " bytes)");
  }
  uint8_t* base = b->arena.base;
  b->header = reinterpret_cast<RingHeader*>(base + off);
  b->cmds = reinterpret_cast<RingCommand*>(base + off + sizeof(RingHeader));
  b->cpls = reinterpret_cast<RingCompletion*>(base + off + sizeof(RingHeader) + uint64_t{b->cmdCap} * sizeof(RingCommand));
  b->scratch.resize(b->cmdCap);

  RingConfig cfg;
  cfg.entries = entries;
  cfg.mode = mode;
  cfg.eventfd = eventfd;
  cfg.base = base;
  cfg.bytes = bytes;
  std::string why;
  int rc = b->ring.Init(cfg, &why);
  if (rc < 0) ThrowErrno(env, "ringCreate: " + why, -rc);
  b->id = nextId.fetch_add(1);
  b->owner = gettid();
  b->env = env;
  std::memset(b->header, 0, sizeof(RingHeader));
  b->header->mode = b->ring.mode() == TaskRun::kDefer ? 1 : b->ring.mode() == TaskRun::kCoop ? 2 : 0;
  b->header->sqEntries = static_cast<int32_t>(b->ring.sqEntries());
  b->header->cqEntries = static_cast<int32_t>(b->ring.cqEntries());
  b->header->fd = b->ring.fd();
  b->header->ownerTid = b->owner;
  b->header->state = 1;

  Napi::Object out = Napi::Object::New(env);
  out.Set("id", Napi::Number::New(env, b->id));
  out.Set("mode", Napi::String::New(env, TaskRunName(b->ring.mode())));
  out.Set("setupFlags", Napi::Number::New(env, b->ring.setupFlags()));
  out.Set("singleIssuer", Napi::Boolean::New(env, b->ring.setupFlags() & IORING_SETUP_SINGLE_ISSUER));
  out.Set("taskrunFlag", Napi::Boolean::New(env, b->ring.taskrunFlag()));
  out.Set("sqEntries", Napi::Number::New(env, b->ring.sqEntries()));
  out.Set("cqEntries", Napi::Number::New(env, b->ring.cqEntries()));
  out.Set("fd", Napi::Number::New(env, b->ring.fd()));
  out.Set("tid", Napi::Number::New(env, b->owner));

  Box* box = b.release();
  mine()[box->id] = box;
  {
    std::lock_guard<std::mutex> lock(owners().mu);
    owners().byId[box->id] = box->owner;
  }
  napi_add_env_cleanup_hook(env, OnEnvTeardown, box);
  return out;
}

// Copies the first n commands out of shared memory, validates all of them
// (none is queued if one is bad), then queues them.
void QueueCommands(const Napi::CallbackInfo& info, Box* b, unsigned n, const char* fn) {
  std::memcpy(b->scratch.data(), b->cmds, size_t{n} * sizeof(RingCommand));
  for (unsigned i = 0; i < n; i++) {
    const RingCommand& c = b->scratch[i];
    std::string e = !IsNetOp(c.op) ? b->ring.Validate(c)
                    : b->net       ? b->net->Validate(c)
                                   : std::string(RingOpName(c.op)) + ": no port server listens on this ring";
    if (e.empty()) continue;
    // One bad command (a bug, or shared memory written behind the TS checks)
    // costs that command only: the rest of the batch goes, the loop goes on.
    b->refusedWhy.push_back(std::string(fn) + ": ring " + std::to_string(b->id) + ", command " + std::to_string(i) + " of " + std::to_string(n) + ": " + e +
                            (IsNetOp(c.op) ? " (dropped)" : " (it completes with EINVAL)"));
    if (b->refusedWhy.size() > 64) b->refusedWhy.erase(b->refusedWhy.begin());  // a flood of them: the latest
    if (!IsNetOp(c.op) && WholeIn(c.userData, 0, kMaxSafeInteger)) b->refused.push_back({c.userData, -EINVAL, 0});
    b->scratch[i].op = kOpRefused;
  }
  for (unsigned i = 0; i < n; i++) {
    std::string why;
    if (b->scratch[i].op == kOpRefused) continue;
    if (IsNetOp(b->scratch[i].op)) {
      b->net->Command(b->scratch[i]);
      continue;
    }
    if (b->ring.Queue(b->scratch[i], &why) < 0) {
      WriteStats(b);
      Napi::Error err = CodedError(info.Env(),
                                   std::string(fn) + ": ring " + std::to_string(b->id) + ", command " + std::to_string(i) + " (" +
                                       RingOpName(b->scratch[i].op) + "): " + why + "; commands " + std::to_string(i) + ".." +
                                       std::to_string(n - 1) + " were not submitted",
                                   "GATIO_RING_FULL");
      err.Set("index", Napi::Number::New(info.Env(), i));
      throw err;
    }
  }
}

// ringTurn(id, nCommands, waitNs) -> completions copied (also header.count;
// header.more says whether more are waiting).
Napi::Value RingTurn(const Napi::CallbackInfo& info) {
  Box* b = Own(info, "ringTurn");
  unsigned n = static_cast<unsigned>(WholeNumber(info[1], "ringTurn", "nCommands", 0, b->cmdCap));
  int64_t waitNs = static_cast<int64_t>(WholeNumber(info[2], "ringTurn", "waitNs", 0, kMaxSafeInteger));
  if (b->net) b->net->ResetEvents();  // JS has handled the last turn's events
  QueueCommands(info, b, n, "ringTurn");
  if (b->net) b->net->Flush();
  std::string why;
  int rc = b->ring.Submit(waitNs, &why);
  // Refused commands' completions first (their userData's owners settle), then the kernel's.
  unsigned k = static_cast<unsigned>(std::min<size_t>(b->refused.size(), b->cplCap));
  std::copy(b->refused.begin(), b->refused.begin() + k, b->cpls);
  b->refused.erase(b->refused.begin(), b->refused.begin() + k);
  unsigned count = k + b->ring.Reap(b->cpls + k, b->cplCap - k);
  b->header->count = static_cast<int32_t>(count);
  b->header->more = (b->ring.More() || !b->refused.empty() ? 1 : 0) | (b->refusedWhy.empty() ? 0 : 2);
  WriteStats(b);
  if (rc < 0) ThrowErrno(info.Env(), "ringTurn: ring " + std::to_string(b->id) + ": " + why, -rc);
  return Napi::Number::New(info.Env(), count);
}

// ringSubmit(id, nCommands) -> 0: queues and submits, never touches the completion array.
Napi::Value RingSubmit(const Napi::CallbackInfo& info) {
  Box* b = Own(info, "ringSubmit");
  unsigned n = static_cast<unsigned>(WholeNumber(info[1], "ringSubmit", "nCommands", 0, b->cmdCap));
  QueueCommands(info, b, n, "ringSubmit");
  if (b->net) b->net->Flush();
  std::string why;
  int rc = b->ring.Submit(0, &why);
  WriteStats(b);
  if (rc < 0) ThrowErrno(info.Env(), "ringSubmit: ring " + std::to_string(b->id) + ": " + why, -rc);
  return info.Env().Undefined();
}

// ringRefused(id) -> why each command refused since the last call was (header.more bit 1); clears them.
Napi::Value RingRefused(const Napi::CallbackInfo& info) {
  Box* b = Own(info, "ringRefused");
  Napi::Array out = Napi::Array::New(info.Env(), b->refusedWhy.size());
  for (size_t i = 0; i < b->refusedWhy.size(); i++) out.Set(static_cast<uint32_t>(i), Napi::String::New(info.Env(), b->refusedWhy[i]));
  b->refusedWhy.clear();
  b->header->more &= ~2;
  return out;
}

// ringReady(id) -> CQEs visible in the CQ ring now, read without a syscall.
Napi::Value RingReady(const Napi::CallbackInfo& info) {
  Box* b = Own(info, "ringReady");
  return Napi::Number::New(info.Env(), b->ring.Ready());
}

// ringHeld(id) -> the kernel holds completions only a kernel entry (turn) will post.
Napi::Value RingHeld(const Napi::CallbackInfo& info) {
  Box* b = Own(info, "ringHeld");
  return Napi::Boolean::New(info.Env(), b->ring.NeedsEnter());
}

// ringEventfd(id, enabled): IORING_CQ_EVENTFD_DISABLED off/on (no syscall).
Napi::Value RingEventfd(const Napi::CallbackInfo& info) {
  Box* b = Own(info, "ringEventfd");
  int rc = b->ring.SetEventfdEnabled(info.Length() > 1 && info[1].ToBoolean().Value());
  if (rc < 0) ThrowErrno(info.Env(), "ringEventfd: ring " + std::to_string(b->id), -rc);
  return info.Env().Undefined();
}

// ringClose(id) -> true when every op completed (see Ring::Close).
Napi::Value RingClose(const Napi::CallbackInfo& info) {
  Box* b = Own(info, "ringClose");
  napi_remove_env_cleanup_hook(b->env, OnEnvTeardown, b);
  return Napi::Boolean::New(info.Env(), Destroy(b));
}

}  // namespace

void InitRing(Napi::Env env, Napi::Object exports) {
  exports.Set("ringCreate", Napi::Function::New(env, RingCreate, "ringCreate"));
  exports.Set("ringTurn", Napi::Function::New(env, RingTurn, "ringTurn"));
  exports.Set("ringSubmit", Napi::Function::New(env, RingSubmit, "ringSubmit"));
  exports.Set("ringReady", Napi::Function::New(env, RingReady, "ringReady"));
  exports.Set("ringRefused", Napi::Function::New(env, RingRefused, "ringRefused"));
  exports.Set("ringHeld", Napi::Function::New(env, RingHeld, "ringHeld"));
  exports.Set("ringEventfd", Napi::Function::New(env, RingEventfd, "ringEventfd"));
  exports.Set("ringClose", Napi::Function::New(env, RingClose, "ringClose"));
  InitNet(env, exports);
}

}  // namespace gatio
