// A buddy allocator over a range of byte offsets [0, bytes).
//
// It hands out offsets, never pointers: it does not know where the memory
// is, and it never touches it. Its bookkeeping (free lists, live blocks)
// lives in ordinary heap memory, so the managed memory can be unbound,
// untouched (not yet faulted in) or shared with the kernel without the
// allocator reading or writing a byte of it.
//
// Why buddy: blocks are powers of two, naturally aligned to their size
// (alignment comes for free), splitting and merging are O(orders), and
// fragmentation stays bounded without a compaction pass. The cost is
// internal waste (a 5 KiB request takes an 8 KiB block), acceptable for I/O
// buffers which are mostly powers of two anyway.
//
// Thread safety: every public method takes one std::mutex. Critical
// sections are a few set/map operations (no syscalls, no memory touched),
// so contention between the few threads of one TPC is short; a lock-free
// buddy is much harder to get right, and per-thread caches can be layered
// on top later if measurements ask for it.
#pragma once

#include <cstdint>
#include <mutex>
#include <set>
#include <unordered_map>
#include <vector>

namespace gatio {

struct BuddyStats {
  uint64_t bytes = 0;        // managed bytes
  uint64_t inUse = 0;        // sum of live block sizes (rounded)
  uint64_t free = 0;         // bytes - inUse
  uint64_t highWater = 0;    // max inUse ever
  uint64_t allocations = 0;  // successful allocations, total
  uint64_t liveBlocks = 0;
  uint64_t failed = 0;       // allocations that found no block
  uint64_t largestFree = 0;  // size of the largest free block
  uint64_t minBlock = 0;
};

class BuddyAllocator {
 public:
  static constexpr int64_t kNoFit = -1;

  // bytes must be a multiple of minBlock; minBlock a power of two.
  // A size that is not a power of two is covered by the largest aligned
  // power-of-two blocks that fit ([0,8) + [8,12) for 12 units); their
  // buddies beyond the end never exist, so they simply never merge.
  BuddyAllocator(uint64_t bytes, uint64_t minBlock);

  // The offset of a block of at least max(size, align, minBlock) bytes
  // rounded up to a power of two, aligned to that size; kNoFit when none is
  // free (counted in stats().failed). size > 0, align a power of two or 0.
  int64_t Allocate(uint64_t size, uint64_t align);

  // Returns the block's size, or 0 when offset is not the start of a live
  // block (double free, interior or foreign offset): state is unchanged.
  uint64_t Free(uint64_t offset);

  // Every allocation gets a serial (1, 2, ...: never reused). SerialOf is
  // the live block's at `offset`, or 0. FreeIf frees it only if it is still
  // that allocation: a stale handle (its block freed, maybe handed out
  // again) gets 0 and frees nobody else's block.
  uint64_t SerialOf(uint64_t offset) const;
  uint64_t FreeIf(uint64_t offset, uint64_t serial);

  BuddyStats Stats() const;

 private:
  int OrderFor(uint64_t size) const;  // -1 when larger than any block
  uint64_t SizeOf(int order) const { return minBlock_ << order; }

  const uint64_t bytes_;
  const uint64_t minBlock_;
  int maxOrder_ = 0;

  mutable std::mutex mu_;
  std::vector<std::set<uint64_t>> free_;          // per order: free block offsets, lowest first
  struct Live {
    uint8_t order;
    uint64_t serial;
  };
  std::unordered_map<uint64_t, Live> live_;       // offset -> its block
  uint64_t FreeLocked(std::unordered_map<uint64_t, Live>::iterator it);
  uint64_t inUse_ = 0, highWater_ = 0, allocations_ = 0, failed_ = 0;
};

}  // namespace gatio
