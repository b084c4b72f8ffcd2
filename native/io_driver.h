// The messages between requesters (JS drivers, the main thread) and the
// native io drivers: the C++ mirror of IoRequest / IoDone in
// src/drivers/protocol/messages.ts (layout documented there and in docs/drivers.md,
// "Native io drivers"). Fixed binary layouts, little-endian; the static
// asserts pin every offset to the TS side's.
#pragma once
#include <cstddef>
#include <cstdint>

namespace gatio {

constexpr uint8_t kKindIoRequest = 6;  // Kind.IoRequest
constexpr uint8_t kKindIoDone = 7;     // Kind.IoDone
constexpr uint8_t kKindDriverExited = 8;  // Kind.DriverExited

// op: the ring's op numbers (RingOp in ring.h, OP_* in ring.ts); an io
// driver accepts NOP, OPENAT, CLOSE, READ, WRITE and FSYNC.
struct IoRequestMsg {
  uint8_t kind;       // kKindIoRequest
  uint8_t op;         // RingOp
  uint16_t bufArena;  // TPC index of the arena holding buf (layout.arenas)
  int32_t fd;         // OPENAT: the directory fd (AT_FDCWD = -100)
  double callId;      // the requester's id, echoed in IoDone; integer < 2^53
  uint16_t replyTo;   // endpoint that gets the IoDone (0 main, driver d: d + 1)
  uint16_t gen;       // the io driver's inbox generation the requester read (queue.ts): a restarted driver drops older ones
  uint32_t mode;      // OPENAT: mode
  double off;         // READ/WRITE: file offset, -1 = the file position
  uint32_t len;       // READ/WRITE: bytes; OPENAT: path bytes including its NUL
  uint32_t flags;     // OPENAT: open flags; FSYNC: 1 = DATASYNC
  double buf;         // byte offset of the buffer (OPENAT: the path) in arena bufArena
  double block;       // the arena block holding buf (an io buffer's, the path's), or -1: echoed in IoDone
};
static_assert(sizeof(IoRequestMsg) == 56, "IoRequest is 56 bytes (protocol/messages.ts IoReqAt.Bytes)");
static_assert(offsetof(IoRequestMsg, op) == 1 && offsetof(IoRequestMsg, bufArena) == 2 && offsetof(IoRequestMsg, fd) == 4 &&
                  offsetof(IoRequestMsg, callId) == 8 && offsetof(IoRequestMsg, replyTo) == 16 && offsetof(IoRequestMsg, gen) == 18 &&
                  offsetof(IoRequestMsg, mode) == 20 && offsetof(IoRequestMsg, off) == 24 && offsetof(IoRequestMsg, len) == 32 &&
                  offsetof(IoRequestMsg, flags) == 36 && offsetof(IoRequestMsg, buf) == 40 && offsetof(IoRequestMsg, block) == 48,
              "IoRequest offsets (protocol/messages.ts)");

struct IoDoneMsg {
  uint8_t kind;     // kKindIoDone
  uint8_t op;       // the request's op
  uint16_t driver;  // the io driver's id (plan)
  int32_t res;      // the CQE's result: >= 0, or a negated errno
  double callId;    // the request's
  uint32_t flags;   // the CQE's flags
  uint16_t bufArena;  // the request's
  uint16_t reserved;
  double block;       // the request's: whoever reads this IoDone for a call that is gone frees it (io.ts)
};
static_assert(sizeof(IoDoneMsg) == 32, "IoDone is 32 bytes (protocol/messages.ts IoDoneAt.Bytes)");
static_assert(offsetof(IoDoneMsg, driver) == 2 && offsetof(IoDoneMsg, res) == 4 && offsetof(IoDoneMsg, callId) == 8 &&
                  offsetof(IoDoneMsg, flags) == 16 && offsetof(IoDoneMsg, bufArena) == 20 && offsetof(IoDoneMsg, block) == 24,
              "IoDone offsets (protocol/messages.ts)");

// To the main thread from an io driver whose thread stopped on its own (a
// failure, not ioDriverStop): it has drained its ring and exited.
struct DriverExitedMsg {
  uint8_t kind;  // kKindDriverExited
  uint8_t drained;  // 1: every op completed before it exited (the kernel is done with every buffer)
  uint16_t driver;  // the io driver's id (plan)
  uint32_t reserved;
};
static_assert(sizeof(DriverExitedMsg) == 8 && offsetof(DriverExitedMsg, driver) == 2, "DriverExited (protocol/messages.ts)");

// Slots of a driver's Float64 stats block (Stat in src/drivers/protocol/layout.ts)
// that an io driver writes. Alive belongs to the main thread, but for the
// io thread clearing it as it exits on its own (routing then skips it).
enum IoStat : unsigned {
  kStatAlive = 0,
  kStatPending = 2,  // ops in the ring + completions waiting for room in a reply queue
  kStatParks = 5,
  kStatWakeups = 6,
  kStatTurns = 7,
  kStatMessages = 8,  // requests popped
  kStatRingSubmissions = 9,
  kStatRingCompletions = 10,
  kStatTid = 11,
  kStatCpu = 12,
  kStatUpdated = 15,
  kStatSlots = 32,
};

}  // namespace gatio
