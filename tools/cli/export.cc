// canopy export --day=D --out=DIR: one CSV file per series for the UTC day
// D (GET /trend?format=csv per series, after one coarse listing query) and
// DIR/canopy-export-D.tar.gz of them (tools/cli/tar.h).
//
// Threads: the CLI's one thread.
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tools/cli/commands.h"
#include "tools/cli/output.h"
#include "tools/cli/tar.h"
#include "tools/cli/trend_reply.h"

ABSL_FLAG(std::string, day, "",
          "export: the UTC day, YYYY-MM-DD (or today, yesterday)");
ABSL_FLAG(std::string, key, "**", "export: the keys to export (a pattern)");
ABSL_FLAG(std::string, out, "", "export: the directory to write to");

namespace canopy {
namespace cli {
namespace {

// A file name for a key: commas kept, bytes unsafe in file names (on POSIX
// and Windows, and in shells for a first . or -) percent-encoded, so that
// the name maps back to the key; long names are cut and end in ~HASH.
std::string FileNameOf(absl::string_view key) {
  std::string name;
  for (size_t i = 0; i < key.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(key[i]);
    bool unsafe =
        c < 0x20 || c == 0x7f ||
        absl::string_view("/\\:*?\"<>|%").find(static_cast<char>(c)) !=
            absl::string_view::npos ||
        (i == 0 && (c == '.' || c == '-'));
    if (unsafe) {
      absl::StrAppend(&name, absl::StrFormat("%%%02X", c));
    } else {
      name += static_cast<char>(c);
    }
  }
  constexpr size_t kMaxName = 200;  // NAME_MAX is 255, with room for .csv
  if (name.size() > kMaxName) {
    uint32_t hash = 2166136261u;  // FNV-1a of the key
    for (unsigned char c : key) hash = (hash ^ c) * 16777619u;
    size_t cut = kMaxName - 10;
    while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) {
      --cut;  // not inside a UTF-8 sequence
    }
    if (cut >= 2 && name[cut - 1] == '%') cut -= 1;  // nor inside %XX
    if (cut >= 2 && name[cut - 2] == '%') cut -= 2;
    name =
        absl::StrCat(name.substr(0, cut), "~", absl::StrFormat("%08x", hash));
  }
  return name;
}

absl::Status MakeDirs(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i < path.size() && path[i] != '/') continue;
    std::string partial = path.substr(0, i);
    if (mkdir(partial.c_str(), 0777) != 0 && errno != EEXIST) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot create ", partial, ": ", std::strerror(errno)));
    }
  }
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not a directory"));
  }
  return absl::OkStatus();
}

absl::Status WriteFile(const std::string& path, absl::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out) out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (out) out.close();
  if (!out) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

// The rows of the column `key` in a /trend CSV reply: "time,value" lines
// with a value (a glob character in a key may match other keys too).
absl::StatusOr<std::vector<std::string>> CsvColumn(absl::string_view body,
                                                   const std::string& key) {
  std::vector<absl::string_view> lines =
      absl::StrSplit(body, '\n', absl::SkipEmpty());
  if (lines.empty()) return absl::DataLossError("empty CSV from the server");
  std::vector<std::string> header = CsvFields(lines[0]);
  size_t column = 0;
  for (size_t i = 1; i < header.size(); ++i) {
    if (header[i] == key) column = i;
  }
  if (header[0] != "time" || column == 0) {
    return absl::DataLossError(
        absl::StrCat("the server's CSV for ", key, " has no column for it"));
  }
  std::vector<std::string> rows;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> cells = CsvFields(lines[i]);
    if (column < cells.size() && !cells[column].empty()) {
      rows.push_back(absl::StrCat(cells[0], ",", cells[column]));
    }
  }
  return rows;
}

}  // namespace

const char kExportHelp[] =
    R"help(Usage: canopy [flags] export --day=D --out=DIR [KEY...]

Writes one CSV file per series for the UTC day D, DIR/<key>.csv with the
header "time,<key>" and times in epoch seconds, then packs them into
DIR/canopy-export-D.tar.gz (which unpacks into canopy-export-D/; needs tar).
File names keep the commas of the key; bytes unsafe in file names are
percent-encoded, and names past 200 bytes end in ~ and a hash.

  --day=D     the UTC day: YYYY-MM-DD, today or yesterday
  --out=DIR   where to write (created if missing)
  --key=K     the keys to export (default **, everything); KEY arguments
              do the same
  --step=S    seconds per row (default 10s)
  --fn=F      avg (default), sum, min, max, last, count, rate, p50, p90,
              p99

Example:
  canopy export --day=2026-11-20 --key='host,web1,**' --out=/tmp/nov20
)help";

int ExportCommand(const Server& server, const Args& args) {
  std::vector<std::string> keys = args;
  if (keys.empty()) keys.push_back(absl::GetFlag(FLAGS_key));
  if (absl::Status s = CheckPatterns(keys); !s.ok()) return Fail(s.message());
  std::string day = absl::GetFlag(FLAGS_day);
  const std::string dir = absl::GetFlag(FLAGS_out);
  if (day.empty()) return UsageError("export needs --day=YYYY-MM-DD");
  if (dir.empty()) return UsageError("export needs --out=DIR");
  const absl::TimeZone utc = absl::UTCTimeZone();
  if (day == "today" || day == "yesterday") {
    absl::Time t =
        absl::Now() - (day == "today" ? absl::ZeroDuration() : absl::Hours(24));
    day = absl::FormatTime("%Y-%m-%d", t, utc);
  }
  absl::Time start;
  std::string error;
  if (!absl::ParseTime("%Y-%m-%d", day, utc, &start, &error) ||
      absl::FormatTime("%Y-%m-%d", start, utc) != day) {
    return UsageError(
        absl::StrCat("bad --day \"", day, "\" (expected YYYY-MM-DD)"));
  }
  const int64_t from = absl::ToUnixSeconds(start);
  const int64_t to = from + 86400 - 1;  // /trend's "to" is inclusive
  std::string step = absl::GetFlag(FLAGS_step);
  if (step.empty()) step = "10s";
  const std::string fn = absl::GetFlag(FLAGS_fn);
  const std::string range =
      absl::StrCat("&from=", from, "&to=", to, "&fn=", UrlEncode(fn));

  // The series under the keys: one coarse JSON query (one point a day), so
  // that listing stays cheap however many series match.
  absl::StatusOr<HttpReply> list = server.Call(
      "GET", absl::StrCat("/trend?", KeyQuery(keys), range, "&step=86400"));
  if (!list.ok()) return Fail(list.status().message());
  absl::StatusOr<TrendReply> listed = ParseTrend(*list);
  if (!listed.ok()) return Fail(listed.status().message());
  if (listed->truncated) {
    return Fail(absl::StrCat(
        "more than ", listed->series.size(), " series under ",
        absl::StrJoin(keys, " "),
        " (the server lists at most that many); export a narrower --key"));
  }
  if (absl::Status s = MakeDirs(dir); !s.ok()) return Fail(s.message());

  std::vector<std::string> files;
  absl::flat_hash_set<std::string> names;
  size_t empty = 0;
  for (const Series& s : listed->series) {
    absl::StatusOr<HttpReply> reply = server.Call(
        "GET", absl::StrCat("/trend?key=", UrlEncode(s.key), range,
                            "&step=", UrlEncode(step), "&format=csv"));
    if (!reply.ok()) {
      return Fail(absl::StrCat(s.key, ": ", reply.status().message()));
    }
    absl::StatusOr<std::vector<std::string>> rows =
        CsvColumn(reply->body, s.key);
    if (!rows.ok()) return Fail(rows.status().message());
    if (rows->empty()) {
      ++empty;
      continue;
    }
    std::string name = FileNameOf(s.key) + ".csv";
    for (int n = 2; !names.insert(name).second; ++n) {
      name = absl::StrCat(FileNameOf(s.key), "~", n, ".csv");
    }
    std::string text = absl::StrCat("time,", CsvField(s.key), "\n",
                                    absl::StrJoin(*rows, "\n"), "\n");
    std::string path = absl::StrCat(dir, "/", name);
    if (absl::Status w = WriteFile(path, text); !w.ok()) {
      return Fail(w.message());
    }
    files.push_back(name);
    std::cout << "wrote " << path << " (" << rows->size()
              << (rows->size() == 1 ? " row)" : " rows)") << '\n';
  }
  if (files.empty()) {
    return Fail(absl::StrCat("no history under ", absl::StrJoin(keys, " "),
                             " on ", day, " (UTC)"));
  }
  const std::string top = absl::StrCat("canopy-export-", day);
  const std::string archive = absl::StrCat(dir, "/", top, ".tar.gz");
  if (absl::Status s = TarGz(dir, files, archive, top); !s.ok()) {
    return Fail(s.message());
  }
  struct stat st;
  int64_t bytes = stat(archive.c_str(), &st) == 0 ? st.st_size : 0;
  std::cout << "wrote " << archive << " (" << files.size()
            << (files.size() == 1 ? " file, " : " files, ") << bytes
            << " bytes)";
  if (empty > 0) {
    std::cout << "; " << empty << " series without points that day skipped";
  }
  std::cout << std::endl;
  return kOk;
}

}  // namespace cli
}  // namespace canopy
