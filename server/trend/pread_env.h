// PreadEnv: LevelDB's default Env, except that table files are read with
// pread(2) instead of being mapped into memory.
//
// LevelDB maps up to 1 000 table files on 64-bit machines. Mapped pages
// that a compaction or a query touched count in the process's RSS until the
// kernel takes them back, so a history that is read (a restart reading the
// series dictionary, a burst of compactions) showed tens to hundreds of MB
// of "memory" that was only the page cache (issue 17). Read with pread, the
// same pages stay in the page cache, shared and reclaimable, and out of the
// RSS. RocksDB reads its tables this way by default (allow_mmap_reads).
//
//   options.env = PreadEnv();
//
// Threads: any. The Env is a process-wide singleton that is never
// destroyed; a file's Read may be called from several threads at once.
#ifndef CANOPY_SERVER_TREND_PREAD_ENV_H_
#define CANOPY_SERVER_TREND_PREAD_ENV_H_

namespace leveldb {
class Env;
}  // namespace leveldb

namespace canopy {

// Env::Default() with table files read by pread.
leveldb::Env* PreadEnv();

}  // namespace canopy

#endif  // CANOPY_SERVER_TREND_PREAD_ENV_H_
