// The process's memory: returning freed heap pages to the system, and
// reading what the process holds (VmRSS, VmHWM) for figures and tests.
//
//   canopy::ReleaseFreeMemory();           // after freeing a lot
//   canopy::ProcessMemory m = canopy::ReadProcessMemory();
//
// Threads: any. ReleaseFreeMemory takes the allocator's locks for as long
// as it walks the free lists (a few ms for a heap of a GB).
#ifndef CANOPY_MEMORY_H_
#define CANOPY_MEMORY_H_

#include <cstdint>

namespace canopy {

// Hands free heap pages back to the system (glibc's malloc_trim: the top of
// the heap and whole free pages inside it). glibc otherwise keeps what a
// large batch freed, and RSS stays at its peak. No-op elsewhere.
void ReleaseFreeMemory();

struct ProcessMemory {
  uint64_t rss = 0;   // VmRSS, bytes
  uint64_t peak = 0;  // VmHWM, bytes
};
// From /proc/self/status; zeros if it cannot be read.
ProcessMemory ReadProcessMemory();

// True in an ASan, TSan or MSan build: freed memory stays in the
// sanitizer's quarantine and RSS says nothing about what is held.
constexpr bool kSanitized =
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
    true;
#else
    false;
#endif
#else
    false;
#endif

}  // namespace canopy

#endif  // CANOPY_MEMORY_H_
