// Buddy allocator: see buddy.h for the design and the locking rationale.
#include "buddy.h"

#include <algorithm>

namespace gatio {

BuddyAllocator::BuddyAllocator(uint64_t bytes, uint64_t minBlock) : bytes_(bytes), minBlock_(minBlock) {
  while (maxOrder_ < 62 && (minBlock_ << (maxOrder_ + 1)) <= bytes_) maxOrder_++;
  free_.resize(maxOrder_ + 1);
  // Cover [0, bytes) greedily with the largest blocks that are aligned to
  // their own size and fit.
  uint64_t off = 0;
  while (bytes_ - off >= minBlock_) {
    int order = maxOrder_;
    while (order > 0 && (off % SizeOf(order) != 0 || off + SizeOf(order) > bytes_)) order--;
    free_[order].insert(off);
    off += SizeOf(order);
  }
}

int BuddyAllocator::OrderFor(uint64_t size) const {
  if (size > bytes_) return -1;
  int order = 0;
  while (SizeOf(order) < size) order++;
  return order <= maxOrder_ ? order : -1;
}

int64_t BuddyAllocator::Allocate(uint64_t size, uint64_t align) {
  // A block of order k sits at a multiple of its size, so asking for a
  // block at least `align` large is enough to honour the alignment.
  int want = OrderFor(std::max({size, align, minBlock_}));
  std::lock_guard<std::mutex> lock(mu_);
  int order = want;
  if (order >= 0) {
    while (order <= maxOrder_ && free_[order].empty()) order++;
  }
  if (want < 0 || order > maxOrder_) {
    failed_++;
    return kNoFit;
  }
  auto first = free_[order].begin();
  uint64_t off = *first;
  free_[order].erase(first);
  // Split: keep the lower half, give the upper half back at each step.
  while (order > want) {
    order--;
    free_[order].insert(off + SizeOf(order));
  }
  allocations_++;
  live_.emplace(off, Live{static_cast<uint8_t>(want), allocations_});
  inUse_ += SizeOf(want);
  highWater_ = std::max(highWater_, inUse_);
  return static_cast<int64_t>(off);
}

uint64_t BuddyAllocator::Free(uint64_t offset) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(offset);
  if (it == live_.end()) return 0;
  return FreeLocked(it);
}

uint64_t BuddyAllocator::SerialOf(uint64_t offset) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(offset);
  return it == live_.end() ? 0 : it->second.serial;
}

uint64_t BuddyAllocator::FreeIf(uint64_t offset, uint64_t serial) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(offset);
  if (it == live_.end() || it->second.serial != serial) return 0;
  return FreeLocked(it);
}

uint64_t BuddyAllocator::FreeLocked(std::unordered_map<uint64_t, Live>::iterator it) {
  uint64_t offset = it->first;
  int order = it->second.order;
  live_.erase(it);
  uint64_t size = SizeOf(order);
  inUse_ -= size;
  // Merge with the buddy while it is free at the same order. A buddy that
  // would lie past the end was never created, so it is never found here.
  uint64_t off = offset;
  while (order < maxOrder_) {
    uint64_t buddy = off ^ SizeOf(order);
    if (free_[order].erase(buddy) == 0) break;
    off = std::min(off, buddy);
    order++;
  }
  free_[order].insert(off);
  return size;
}

BuddyStats BuddyAllocator::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  BuddyStats s;
  s.bytes = bytes_;
  s.inUse = inUse_;
  s.free = bytes_ - inUse_;
  s.highWater = highWater_;
  s.allocations = allocations_;
  s.liveBlocks = live_.size();
  s.failed = failed_;
  s.minBlock = minBlock_;
  for (int o = maxOrder_; o >= 0; o--) {
    if (!free_[o].empty()) {
      s.largestFree = SizeOf(o);
      break;
    }
  }
  return s;
}

}  // namespace gatio
