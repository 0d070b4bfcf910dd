// The sqlite benchmark (see agent/bench_kinds.h), on Debian's libsqlite3,
// in a database file in ctx.dir (the data disk) with SQLite's defaults
// (rollback journal, synchronous=FULL: each commit reaches the disk).
//
// One transaction: BEGIN; 20 INSERTs of a random indexed key and 100 bytes
// of text; 5 SELECTs by that index; 1 UPDATE by it; COMMIT. Transactions
// run back to back for about 90 % of the budget (at most 5000); the
// figures are transactions per second (tps) and the 99th percentile of
// one transaction's time (p99_ms).
//
// The database is dir/canopy-bench-<pid>.sqlite. It cannot be unlinked
// while open (SQLite notices and refuses writes: SQLITE_READONLY_DBMOVED),
// so the file and its journal are removed on every way out of
// RunSqliteBench, and RemoveStaleBenchFiles() removes what a killed agent
// left, at the next start.
//
// Threads: runs on the caller's thread; the sqlite3 handle is its own.
#include <dirent.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/bench_kinds.h"

namespace canopy {
namespace agent {
namespace {

constexpr int kInserts = 20, kSelects = 5, kMaxTransactions = 5000;

// The open database and its files, closed and removed when it goes.
class BenchDb {
 public:
  explicit BenchDb(std::string path) : path_(std::move(path)) { Remove(); }
  ~BenchDb() {
    for (sqlite3_stmt* s : statements_) sqlite3_finalize(s);
    if (db_ != nullptr) sqlite3_close(db_);
    Remove();
  }
  absl::Status Open() {
    int rc =
        sqlite3_open_v2(path_.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    if (rc != SQLITE_OK) return Error("open", rc);
    return absl::OkStatus();
  }
  absl::Status Exec(const char* sql) {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    return rc == SQLITE_OK ? absl::OkStatus() : Error(sql, rc);
  }
  absl::StatusOr<sqlite3_stmt*> Prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql, -1, &s, nullptr);
    if (rc != SQLITE_OK) return Error(sql, rc);
    statements_.push_back(s);
    return s;
  }
  // Runs a prepared statement to its end (rows read and dropped).
  absl::Status Run(sqlite3_stmt* s) {
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? absl::OkStatus() : Error(sqlite3_sql(s), rc);
  }
  // "sqlite: INSERT: database or disk is full (path)": the statement by its
  // first word.
  absl::Status Error(absl::string_view what, int rc) {
    std::string m =
        absl::StrCat("sqlite: ", what.substr(0, what.find(' ')), ": ",
                     db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc),
                     " (", path_, ")");
    if (rc == SQLITE_FULL) return absl::ResourceExhaustedError(m);
    return absl::UnavailableError(m);
  }

 private:
  void Remove() {
    for (const char* suffix : {"", "-journal", "-wal", "-shm"}) {
      unlink(absl::StrCat(path_, suffix).c_str());
    }
  }
  std::string path_;
  sqlite3* db_ = nullptr;
  std::vector<sqlite3_stmt*> statements_;
};

}  // namespace

int RemoveStaleBenchFiles(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return 0;
  int n = 0;
  while (dirent* e = readdir(d)) {
    if (!absl::StartsWith(e->d_name, kBenchFilePrefix)) continue;
    if (unlink(absl::StrCat(dir, "/", e->d_name).c_str()) == 0) ++n;
  }
  closedir(d);
  return n;
}

absl::StatusOr<BenchFigures> RunSqliteBench(const BenchContext& ctx) {
  BenchDb db(absl::StrCat(ctx.dir, "/", kBenchFilePrefix, getpid(), ".sqlite"));
  if (absl::Status s = db.Open(); !s.ok()) return s;
  if (absl::Status s =
          db.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT);"
                  "CREATE INDEX t_k ON t(k);");
      !s.ok()) {
    return s;
  }
  absl::StatusOr<sqlite3_stmt*> begin = db.Prepare("BEGIN");
  absl::StatusOr<sqlite3_stmt*> commit = db.Prepare("COMMIT");
  absl::StatusOr<sqlite3_stmt*> insert =
      db.Prepare("INSERT INTO t(k, v) VALUES(?1, ?2)");
  absl::StatusOr<sqlite3_stmt*> select =
      db.Prepare("SELECT v FROM t WHERE k = ?1");
  absl::StatusOr<sqlite3_stmt*> update =
      db.Prepare("UPDATE t SET v = ?2 WHERE k = ?1");
  for (const auto* s : {&begin, &commit, &insert, &select, &update}) {
    if (!s->ok()) return s->status();
  }
  const std::string text(100, 'c');
  std::mt19937 rng(19);
  std::uniform_int_distribution<int> key(0, 1 << 20);
  std::vector<double> ms;
  absl::Time t0 = absl::Now();
  const absl::Time until = t0 + ctx.budget * 0.9;
  while (ms.size() < kMaxTransactions && (ms.empty() || absl::Now() < until)) {
    if (ctx.stopped()) return absl::CancelledError("sqlite: stopped");
    absl::Time t = absl::Now();
    if (absl::Status s = db.Run(*begin); !s.ok()) return s;
    int last = 0;
    for (int i = 0; i < kInserts; ++i) {
      last = key(rng);
      sqlite3_bind_int(*insert, 1, last);
      sqlite3_bind_text(*insert, 2, text.data(), static_cast<int>(text.size()),
                        SQLITE_STATIC);
      if (absl::Status s = db.Run(*insert); !s.ok()) return s;
    }
    for (int i = 0; i < kSelects; ++i) {
      sqlite3_bind_int(*select, 1, i == 0 ? last : key(rng));
      if (absl::Status s = db.Run(*select); !s.ok()) return s;
    }
    sqlite3_bind_int(*update, 1, last);
    sqlite3_bind_text(*update, 2, "updated", -1, SQLITE_STATIC);
    if (absl::Status s = db.Run(*update); !s.ok()) return s;
    if (absl::Status s = db.Run(*commit); !s.ok()) return s;
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t));
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - t0);
  std::sort(ms.begin(), ms.end());
  size_t p99 = static_cast<size_t>(std::ceil(0.99 * ms.size())) - 1;
  return BenchFigures{
      {"tps", ms.size() / seconds, kHigherIsBetter, true},
      {"p99_ms", ms[std::min(p99, ms.size() - 1)], kLowerIsBetter, true},
      {"transactions", static_cast<double>(ms.size()), kHigherIsBetter, false},
  };
}

}  // namespace agent
}  // namespace canopy
