// NodePool: the memory a Tree's nodes live in. Internal to libcanopy.
//
// Nodes are cut from 64 KiB slabs: no allocator header per node (16 bytes
// of a 112-byte node), and a freed node goes on a free list that is used
// before a new slab is cut. Release() gives back the slabs whose nodes are
// all free (after a large removal); the others go with the pool.
//
//   NodePool pool;
//   Node* n = new (pool.Allocate()) Node(...);  // what Tree::NewNode does
//   n->~Node();
//   pool.Free(n);
//
// Threads: a pool belongs to one Tree and is used by the thread that owns
// that tree (the caller's); it is not thread-safe.
#ifndef CANOPY_CORE_NODE_POOL_H_
#define CANOPY_CORE_NODE_POOL_H_

#include <cstddef>
#include <memory>
#include <new>
#include <vector>

#include "canopy/tree.h"

#if defined(__SANITIZE_ADDRESS__)
#define CANOPY_NODE_POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CANOPY_NODE_POOL_ASAN 1
#endif
#endif

namespace canopy {

class NodePool {
 public:
  NodePool() = default;
  ~NodePool();
  NodePool(const NodePool&) = delete;
  NodePool& operator=(const NodePool&) = delete;

  // Room for one Node, uninitialised.
  void* Allocate() {
#ifdef CANOPY_NODE_POOL_ASAN
    return ::operator new(sizeof(Node));  // let ASan see every node's life
#else
    if (free_ != nullptr) {
      void* p = free_;
      free_ = *static_cast<void**>(free_);
      return p;
    }
    if (slab_left_ == 0) CutSlab();
    void* p = slab_next_;
    slab_next_ += sizeof(Node);
    --slab_left_;
    return p;
#endif
  }

  // Gives back what Allocate returned (the node already destroyed).
  void Free(void* p) {
#ifdef CANOPY_NODE_POOL_ASAN
    ::operator delete(p);
#else
    *static_cast<void**>(p) = free_;
    free_ = p;
#endif
  }

  // Frees the slabs none of whose nodes is in use; returns their bytes.
  // Walks the free list once: call it after large removals, not per node.
  size_t Release();

 private:
#ifndef CANOPY_NODE_POOL_ASAN
  // Slabs are aligned to their size: a node's slab is its address rounded
  // down.
  static constexpr size_t kSlabBytes = 64 * 1024;
  static constexpr size_t kPerSlab = kSlabBytes / sizeof(Node);
  void CutSlab();

  std::vector<char*> slabs_;  // from aligned_alloc
  char* slab_next_ = nullptr;
  size_t slab_left_ = 0;
  void* free_ = nullptr;  // freed nodes, each holding the next's address
#endif
};

}  // namespace canopy

#endif  // CANOPY_CORE_NODE_POOL_H_
