// The MPSC message queue of src/drivers/protocol/queue.ts, for native threads: same
// bytes, same algorithm (layout and protocol in docs/drivers.md, "Message
// queue"). Header-only and free of N-API, so io-driver threads can use it.
//
// A QueueRef is a pointer into memory it does not own: whoever holds it
// must keep the arena mapped (a HeldArena, addon.h) for as long as the
// QueueRef is used.
//
// Positions and sequences are int32 in memory and wrap around; they are
// computed here as uint32 (wrap-around is defined for unsigned) and only
// their differences are read as signed.
#pragma once

#include <sys/eventfd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace gatio {

class QueueRef {
 public:
  static constexpr int32_t kMagic = 0x47515545;  // "GQUE"
  static constexpr uint32_t kHeaderBytes = 256;
  static constexpr uint32_t kSlotHeader = 8;  // seq + len
  static constexpr int32_t kTombstone = -1;   // len of a slot whose producer failed mid-write
  // Header field offsets (bytes from the queue's base).
  static constexpr uint32_t kMagicAt = 0, kCapacityAt = 4, kSlotBytesAt = 8, kTailAt = 64, kHeadAt = 128,
                            kStateAt = 192, kWakeFdAt = 196, kWakeupsAt = 200, kFullAt = 204,
                            kGenerationAt = 208;  // the consumer's generation (queue.ts): bumped by the main thread only

  static constexpr uint64_t BytesFor(uint32_t capacity, uint32_t slotBytes) {
    return kHeaderBytes + uint64_t(capacity) * slotBytes;
  }

  // nullptr when `available` bytes at `base` hold a formatted queue (magic,
  // geometry, size); otherwise why not.
  static const char* Check(const void* base, uint64_t available) {
    if (reinterpret_cast<uintptr_t>(base) % 64 != 0) return "the queue's base is not 64-byte aligned";
    if (available < kHeaderBytes) return "the queue's header does not fit in the buffer";
    const uint8_t* b = static_cast<const uint8_t*>(base);
    if (Load(b, kMagicAt) != kMagic) return "no message queue there (bad magic; was MessageQueue.init called there?)";
    int32_t cap = Load(b, kCapacityAt), slot = Load(b, kSlotBytesAt);
    if (cap < 2 || cap > (1 << 30) || (cap & (cap - 1)) != 0) return "corrupt queue header (capacity)";
    if (slot < 16 || slot > (1 << 24) || slot % 8 != 0) return "corrupt queue header (slotBytes)";
    if (BytesFor(uint32_t(cap), uint32_t(slot)) > available) return "the queue's slots do not fit in the buffer";
    return nullptr;
  }

  // A queue already formatted at `base` (by MessageQueue.init). Throws
  // std::invalid_argument if Check fails; pass `available` when known.
  static QueueRef Attach(void* base, uint64_t available = UINT64_MAX) {
    if (const char* why = Check(base, available)) throw std::invalid_argument(why);
    uint8_t* b = static_cast<uint8_t*>(base);
    return QueueRef(b, uint32_t(Load(b, kCapacityAt)), uint32_t(Load(b, kSlotBytesAt)));
  }

  uint32_t MaxPayload() const { return slotBytes_ - kSlotHeader; }

  // The consumer's generation (queue.ts): bumped by the main thread when a consumer dies.
  int32_t Generation() { return At(kGenerationAt).load(std::memory_order_acquire); }

  // ---- producer side (any thread) ----

  // Copies len bytes into a free slot; false when full (or len > MaxPayload()).
  bool TryPush(const void* data, uint32_t len) {
    return TryPushWith(len, [&](uint8_t* dst) { std::memcpy(dst, data, len); });
  }

  // Claims a slot and calls write(uint8_t* dst) to fill len bytes in place.
  // False (write not called) when full or len > MaxPayload(). If write
  // throws, the slot is published as a tombstone and the exception rethrown.
  template <typename F>
  bool TryPushWith(uint32_t len, F&& write) {
    if (len > MaxPayload()) return false;
    uint8_t* slot = Claim();
    if (!slot) return false;
    try {
      write(slot + kSlotHeader);
    } catch (...) {
      Publish(slot, kTombstone);
      throw;
    }
    Publish(slot, int32_t(len));
    return true;
  }

  // After pushing (once per batch): wake the consumer if it is parked. Only
  // the producer that wins the CAS writes the eventfd. True if this call woke it.
  bool WakeIfParked() {
    Ref state = At(kStateAt);
    if (state.load(std::memory_order_seq_cst) != 1) return false;
    int32_t expected = 1;
    if (!state.compare_exchange_strong(expected, 0, std::memory_order_seq_cst)) return false;
    At(kWakeupsAt).fetch_add(1, std::memory_order_relaxed);
    int fd = At(kWakeFdAt).load(std::memory_order_relaxed);
    if (fd >= 0) {
      while (eventfd_write(fd, 1) != 0 && errno == EINTR) {
      }
    }
    return true;
  }

  // ---- consumer side (one thread at a time) ----

  // Pops one message: handler(const uint8_t* data, uint32_t len) sees it in
  // place; the slot goes back to producers when handler returns (or throws).
  // False when empty. Tombstones are skipped.
  template <typename F>
  bool TryPop(F&& handler) {
    return Drain(std::forward<F>(handler), 1) == 1;
  }

  // Pops up to `max` messages (see TryPop); returns how many were handled.
  template <typename F>
  uint32_t Drain(F&& handler, uint32_t max = UINT32_MAX) {
    Ref head = At(kHeadAt);
    uint32_t pos = uint32_t(head.load(std::memory_order_relaxed));
    uint32_t n = 0;
    while (n < max) {
      bool ahead;
      uint8_t* slot = Ready(pos, &ahead);
      if (ahead) throw std::logic_error("message queue: a slot is ahead of head (more than one consumer at a time?)");
      if (!slot) break;
      int32_t len;
      std::memcpy(&len, slot + 4, 4);
      try {
        if (len >= 0) handler(static_cast<const uint8_t*>(slot + kSlotHeader), uint32_t(len));
      } catch (...) {
        Release(slot, pos);  // a message whose handler throws counts as consumed
        throw;
      }
      Release(slot, pos);
      if (len >= 0) n++;
    }
    return n;
  }

  // Exact on the consumer's thread; approximate elsewhere.
  bool IsEmpty() {
    bool ahead;
    return !Ready(uint32_t(At(kHeadAt).load(std::memory_order_relaxed)), &ahead) && !ahead;
  }

  // state = 1, then re-check (seq_cst: the Dekker handshake with WakeIfParked).
  // True: still empty, sleep on the wakeFd. False: state reset to 0, keep running.
  bool PrepareToPark() {
    At(kStateAt).store(1, std::memory_order_seq_cst);
    if (IsEmpty()) return true;
    At(kStateAt).store(0, std::memory_order_seq_cst);
    return false;
  }

  // After waking (and draining the eventfd).
  void Unparked() { At(kStateAt).store(0, std::memory_order_seq_cst); }

 private:
  using Ref = std::atomic_ref<int32_t>;

  QueueRef(uint8_t* base, uint32_t capacity, uint32_t slotBytes)
      : base_(base), capacity_(capacity), mask_(capacity - 1), slotBytes_(slotBytes) {}

  static int32_t Load(const uint8_t* b, uint32_t at) {
    return Ref(*const_cast<int32_t*>(reinterpret_cast<const int32_t*>(b + at))).load(std::memory_order_acquire);
  }
  Ref At(uint32_t at) { return Ref(*reinterpret_cast<int32_t*>(base_ + at)); }
  static Ref Seq(uint8_t* slot) { return Ref(*reinterpret_cast<int32_t*>(slot)); }
  uint8_t* SlotOf(uint32_t pos) { return base_ + kHeaderBytes + uint64_t(pos & mask_) * slotBytes_; }

  // A producer's slot (its seq still equals the claimed position), or nullptr when full.
  uint8_t* Claim() {
    Ref tail = At(kTailAt);
    int32_t pos = tail.load(std::memory_order_relaxed);
    for (;;) {
      uint8_t* slot = SlotOf(uint32_t(pos));
      int32_t d = int32_t(uint32_t(Seq(slot).load(std::memory_order_acquire)) - uint32_t(pos));
      if (d == 0) {
        // On failure compare_exchange_weak reloads pos with the current tail.
        if (tail.compare_exchange_weak(pos, int32_t(uint32_t(pos) + 1), std::memory_order_relaxed)) return slot;
      } else if (d < 0) {
        At(kFullAt).fetch_add(1, std::memory_order_relaxed);
        return nullptr;
      } else {
        pos = tail.load(std::memory_order_relaxed);
      }
    }
  }

  // seq_cst store: with the seq_cst load of state in WakeIfParked, one half
  // of the Dekker handshake (the consumer's half is in PrepareToPark).
  void Publish(uint8_t* slot, int32_t len) {
    std::memcpy(slot + 4, &len, 4);
    Ref seq = Seq(slot);
    seq.store(int32_t(uint32_t(seq.load(std::memory_order_relaxed)) + 1), std::memory_order_seq_cst);
  }

  // Hands the slot at head position pos back to producers and advances head.
  void Release(uint8_t* slot, uint32_t& pos) {
    Seq(slot).store(int32_t(pos + capacity_), std::memory_order_release);
    pos++;
    At(kHeadAt).store(int32_t(pos), std::memory_order_release);
  }

  // The slot at head position pos if it holds a published message, else
  // nullptr. `ahead`: the slot already moved past pos (on the consumer's
  // thread, a second consumer; elsewhere, only that head moved meanwhile).
  uint8_t* Ready(uint32_t pos, bool* ahead = nullptr) {
    uint8_t* slot = SlotOf(pos);
    int32_t d = int32_t(uint32_t(Seq(slot).load(std::memory_order_seq_cst)) - (pos + 1));
    if (ahead) *ahead = d > 0;
    return d == 0 ? slot : nullptr;
  }

  uint8_t* base_;
  uint32_t capacity_;
  uint32_t mask_;
  uint32_t slotBytes_;
};

}  // namespace gatio
