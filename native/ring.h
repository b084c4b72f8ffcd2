// One io_uring per driver, driven from the thread that created it.
//
// This header has no N-API in it: the JS binding (ring.cc) and the native
// io-driver threads (io_driver.cc) both use this class. The command and
// completion record layouts are the contract with src/drivers/protocol/ring.ts and
// docs/drivers.md ("Ring").
//
// Threading: everything here, the destructor included, must be called on
// the thread that called Init() (IORING_SETUP_SINGLE_ISSUER; with
// DEFER_TASKRUN only that thread can reap; liburing's SQ/CQ bookkeeping is
// not thread-safe either). Callers check that; this class does not.
//
// Memory: `buf` offsets in commands are relative to RingConfig::base (the
// arena). The ring never owns that memory; whoever owns the Ring must keep
// it mapped until Close() has returned true (every op completed), because
// until then the kernel may still read or write it.
#pragma once

#include <liburing.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

// Constants newer than some liburing headers, with the kernel uapi's values
// (liburing 2.3 has them all; older headers would not).
#ifndef IORING_ASYNC_CANCEL_ANY
#define IORING_ASYNC_CANCEL_ANY (1U << 2)  // 5.19
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)  // 6.0
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)  // 6.1
#endif
#ifndef IORING_SQ_TASKRUN
#define IORING_SQ_TASKRUN (1U << 2)
#endif

namespace gatio {

// Our op numbers (not the kernel's): OP_* in src/drivers/protocol/ring.ts.
enum RingOp : uint8_t {
  kOpNop = 0,
  kOpTimeout = 1,        // off: relative nanoseconds; flags: IORING_TIMEOUT_* flags
  kOpTimeoutRemove = 2,  // off: userData of the timeout to remove
  kOpAsyncCancel = 3,    // off: userData of the op to cancel; flags: IORING_ASYNC_CANCEL_* flags
  kOpOpenat = 4,         // fd: directory fd (AT_FDCWD = -100); buf: NUL-terminated path; flags; mode
  kOpClose = 5,          // fd
  kOpRead = 6,           // fd, buf, len, off (-1: the file position)
  kOpWrite = 7,          // fd, buf, len, off (-1: the file position)
  kOpFsync = 8,          // fd; flags: IORING_FSYNC_DATASYNC
  kOpPollAdd = 9,        // fd; flags: poll mask (POLLIN...); len bit 0: multishot
  // Port servers (net_engine.h): commands to the ring's NetEngine, no SQE of their own.
  kOpNetSend = 10,     // fd: connection id; buf, len: staged bytes; flags: kSendWantDrain
  kOpNetEnd = 11,      // fd: connection id: send what is queued, then shut down writing
  kOpNetClose = 12,    // fd: connection id: close now, dropping what is queued
  kOpNetPause = 13,    // fd: connection id: stop reading
  kOpNetResume = 14,   // fd: connection id
  kOpNetRelease = 15,  // every buffer lent to JS since the last release goes back to its ring
  kOpNetSendTo = 16,   // fd: UDP server; buf, len: 32-byte address slot, then the payload
  kOpCount = 17,
};
inline bool IsNetOp(unsigned op) { return op >= kOpNetSend && op <= kOpNetSendTo; }
// In the binding's copy of a batch only: this command failed the checks and is skipped.
constexpr uint8_t kOpRefused = 0xff;

const char* RingOpName(unsigned op);

// 64 bytes, little-endian, written by JS (or an io driver), read once by Queue().
struct RingCommand {
  uint8_t op;
  uint8_t pad0[3];
  int32_t fd;
  double userData;  // integer < 2^53
  double off;
  uint32_t len;
  uint32_t flags;
  double buf;  // byte offset in the arena
  uint32_t mode;
  uint32_t pad1[5];
};
static_assert(sizeof(RingCommand) == 64, "command record is 64 bytes (docs/drivers.md)");

// 16 bytes: what JS reads back.
struct RingCompletion {
  double userData;
  int32_t res;
  uint32_t flags;
};
static_assert(sizeof(RingCompletion) == 16, "completion record is 16 bytes (docs/drivers.md)");

enum class TaskRun { kAuto, kDefer, kCoop, kNone };
const char* TaskRunName(TaskRun m);

struct RingConfig {
  unsigned entries = 256;           // SQ size (the kernel rounds up to a power of two); CQ is twice that
  TaskRun mode = TaskRun::kAuto;    // kAuto: DEFER_TASKRUN, else COOP_TASKRUN (see docs/drivers.md)
  int eventfd = -1;                 // registered with io_uring_register_eventfd when >= 0; not owned
  uint8_t* base = nullptr;          // the arena: `buf` offsets are relative to it; not owned
  uint64_t bytes = 0;
};

// Completions of ops a native owner submitted itself (a NetEngine): Reap
// hands them over instead of copying them out to JS.
class CqeSink {
 public:
  virtual ~CqeSink() = default;
  virtual bool Owns(uint64_t userData) const = 0;
  virtual void OnCqe(const io_uring_cqe* cqe) = 0;
  // false: stop reaping for this turn (its event array is full)
  virtual bool Room() const = 0;
  // after each Reap, once every completion it took was handed to OnCqe
  virtual void AfterReap() {}
};

struct RingStats {
  uint64_t submitted = 0;  // SQEs the kernel consumed
  uint64_t completed = 0;  // CQEs reaped (user ops only)
  uint64_t enters = 0;     // liburing calls that entered the kernel
  uint64_t inFlight = 0;   // ops queued or submitted whose final CQE has not been reaped
};

class Ring {
 public:
  Ring() = default;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring();  // Close(); see there

  // Sets the ring up on the calling thread. 0, or -errno with *why saying what failed.
  int Init(const RingConfig& cfg, std::string* why);

  // "" when the command can be queued; otherwise what is wrong with it,
  // naming the op (for example a buffer that is not inside the arena).
  std::string Validate(const RingCommand& c) const;

  // Queues one command (already validated) as an SQE. Submits what is queued
  // first when the SQ is full. 0, or -errno with *why.
  int Queue(const RingCommand& c, std::string* why);

  // An SQE for the caller to fill (io drivers preparing their own ops),
  // counted in flight; nullptr, with *why, if the SQ stays full.
  io_uring_sqe* Sqe(std::string* why);

  // Hands queued SQEs to the kernel and, when waitNs > 0 and nothing is
  // reapable yet, waits up to waitNs for one completion. Enters the kernel
  // only when there is something to submit, completions the kernel holds
  // back (DEFER_TASKRUN work, CQ overflow), or a wait. >= 0, or -errno.
  int Submit(int64_t waitNs, std::string* why);

  // Copies up to `cap` completions out and marks them seen.
  unsigned Reap(RingCompletion* out, unsigned cap);

  // CQEs visible in the CQ ring right now (no syscall).
  unsigned Ready() const { return io_uring_cq_ready(&ring_); }
  // The kernel holds completions that only a kernel entry will post
  // (deferred task work, or CQ overflow). Needs IORING_SETUP_TASKRUN_FLAG;
  // without it we cannot know, so it answers true.
  bool NeedsEnter() const;
  // Something for the next turn: completions to reap, or SQEs a native
  // owner queued while reaping (a NetEngine re-arming) not yet submitted.
  // Without TASKRUN_FLAG held work cannot be seen: the eventfd wakes the loop instead.
  bool More() const { return Ready() > 0 || io_uring_sq_ready(&ring_) > 0 || (taskrunFlag() && NeedsEnter()); }

  // IORING_CQ_EVENTFD_DISABLED: a running driver turns the eventfd off so
  // completions do not signal it, and back on before it parks. No syscall.
  // The flag is a plain store to the CQ ring's flags; the caller re-checks
  // Ready()/NeedsEnter() right after enabling, before it parks. A full fence
  // keeps that load from being ordered before the store (StoreLoad): without
  // it a completion posted in between could find the eventfd still disabled
  // and the re-check still empty, and the driver would sleep through it.
  int SetEventfdEnabled(bool on) {
    int rc = io_uring_cq_eventfd_toggle(&ring_, on);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return rc;
  }

  // Cancels everything in flight (IORING_ASYNC_CANCEL_ANY) and waits until
  // every op has completed, up to timeoutMs, then io_uring_queue_exit.
  // Returns false when ops were still in flight at the deadline: the kernel
  // may then still use their buffers, so the owner must keep the arena
  // mapped forever (leak, not corrupt). Idempotent.
  bool Close(int timeoutMs);

  TaskRun mode() const { return mode_; }
  unsigned setupFlags() const { return flags_; }
  bool taskrunFlag() const { return flags_ & IORING_SETUP_TASKRUN_FLAG; }
  unsigned sqEntries() const { return ring_.sq.ring_entries; }
  unsigned cqEntries() const { return ring_.cq.ring_entries; }
  int fd() const { return ring_.ring_fd; }
  io_uring* raw() { return &ring_; }  // for registrations (buffer rings), on the owning thread
  void SetSink(CqeSink* sink) { sink_ = sink; }
  const RingStats& stats() const { return stats_; }

 private:
  int Enter(bool getEvents, int64_t waitNs);

  io_uring ring_{};
  bool live_ = false;
  TaskRun mode_ = TaskRun::kNone;
  unsigned flags_ = 0;
  uint8_t* base_ = nullptr;
  uint64_t bytes_ = 0;
  RingStats stats_;
  CqeSink* sink_ = nullptr;
  // TIMEOUT's __kernel_timespec, one slot per SQE slot (index = sqe -
  // ring_.sq.sqes). Owned by the Ring. The kernel copies it while it
  // consumes that SQE (inside io_uring_enter); liburing hands the same SQE
  // slot out again only after the kernel has consumed it, so slot i's
  // timespec stays untouched from Queue() until the submit that reads it.
  std::vector<__kernel_timespec> timespecs_;
};

}  // namespace gatio
