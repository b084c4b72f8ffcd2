// buddy allocator (arena sub-allocation)
