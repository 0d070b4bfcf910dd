// NodePool's slow path: cutting a new slab (core/node_pool.h).
//
// Threads: the thread that owns the pool's tree.
#include "core/node_pool.h"

#include <cstdint>
#include <cstdlib>
#include <new>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"

namespace canopy {

#ifndef CANOPY_NODE_POOL_ASAN
NodePool::~NodePool() {
  for (char* slab : slabs_) std::free(slab);
}

void NodePool::CutSlab() {
  // Aligned to its size (so Release finds a node's slab), hence to any
  // object's alignment; sizeof(Node) is a multiple of Node's alignment:
  // every slot is aligned.
  static_assert(alignof(Node) <= alignof(std::max_align_t));
  void* slab = std::aligned_alloc(kSlabBytes, kSlabBytes);
  if (slab == nullptr) throw std::bad_alloc();
  slabs_.push_back(static_cast<char*>(slab));
  slab_next_ = slabs_.back();
  slab_left_ = kPerSlab;
}

size_t NodePool::Release() {
  auto slab_of = [](void* p) {
    return reinterpret_cast<char*>(reinterpret_cast<uintptr_t>(p) &
                                   ~uintptr_t{kSlabBytes - 1});
  };
  // The slab being cut is never released (its uncut slots are on no list).
  char* cutting = slab_left_ > 0 ? slab_of(slab_next_) : nullptr;
  absl::flat_hash_map<char*, size_t> free_in;
  for (void* p = free_; p != nullptr; p = *static_cast<void**>(p)) {
    ++free_in[slab_of(p)];
  }
  absl::flat_hash_set<char*> empty;
  for (const auto& [slab, n] : free_in) {
    if (n == kPerSlab && slab != cutting) empty.insert(slab);
  }
  if (empty.empty()) return 0;
  // The free list without the released slabs' nodes.
  void* kept = nullptr;
  for (void* p = free_; p != nullptr;) {
    void* next = *static_cast<void**>(p);
    if (!empty.contains(slab_of(p))) {
      *static_cast<void**>(p) = kept;
      kept = p;
    }
    p = next;
  }
  free_ = kept;
  size_t keep = 0;
  for (char* slab : slabs_) {
    if (empty.contains(slab)) {
      std::free(slab);
    } else {
      slabs_[keep++] = slab;
    }
  }
  slabs_.resize(keep);
  slabs_.shrink_to_fit();
  return empty.size() * kSlabBytes;
}
#else
NodePool::~NodePool() = default;
size_t NodePool::Release() { return 0; }
#endif

}  // namespace canopy
