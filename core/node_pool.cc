// NodePool's slow path: cutting a new slab (core/node_pool.h).
//
// Threads: the thread that owns the pool's tree.
#include "core/node_pool.h"

namespace canopy {

#ifndef CANOPY_NODE_POOL_ASAN
void NodePool::CutSlab() {
  // operator new[] of char aligns for any object of the slab's size, and
  // sizeof(Node) is a multiple of Node's alignment: every slot is aligned.
  static_assert(alignof(Node) <= alignof(std::max_align_t));
  slabs_.emplace_back(new char[kSlabBytes]);
  slab_next_ = slabs_.back().get();
  slab_left_ = kSlabBytes / sizeof(Node);
}
#endif

}  // namespace canopy
