// canopy: the command-line client of canopyd.
//
//   canopy get host,web1,cpu,user            # the leaves under a key, now
//   canopy watch 'host,*,load'               # their changes, as they come
//   canopy push web,hits=1 --action=add      # write leaves
//   canopy tree host,web1 --depth=2          # the subtree, drawn like tree(1)
//   canopy diff br,ie br,webkit              # two subtrees side by side
//   canopy rm host,old                       # remove a subtree
//   canopy trend host,web1,load,1 --from=-6h --spark   # history
//   canopy export --day=2026-11-20 --out=dump          # a day as CSV + tar.gz
//   canopy pipe --follow /var/log/nginx/access.log      # logs to the pipes
//
// Every subcommand is one or a few requests through canopy::HttpClient against
// the HTTP API in API.md ("Reading", "Pushing data"); replies are read with
// RapidJSON. Errors print one line, "canopy: <what went wrong>", and the exit
// code is 1 (2 for a usage error). Single-threaded.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "canopy/duration.h"
#include "canopy/http_client.h"
#include "canopy/key.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

ABSL_FLAG(std::string, server, "http://127.0.0.1:7575",
          "canopyd's HTTP address, http://HOST:PORT");
ABSL_FLAG(std::string, token, "",
          "sent as 'Authorization: Bearer TOKEN' (canopyd --write_token or "
          "--read_token)");
ABSL_FLAG(double, timeout, 10, "seconds to wait for a reply");
ABSL_FLAG(std::string, config, "",
          "a file of flag=value lines (# comments); the command line wins");
ABSL_FLAG(bool, json, false, "print the server's JSON reply as it is");
ABSL_FLAG(int, limit, 0, "get: at most this many leaves (0: server default)");
ABSL_FLAG(int, count, 0, "watch: stop after this many replies with changes");
ABSL_FLAG(int64_t, since, -1,
          "watch: start after this seq (-1: from now; 0: every leaf first)");
ABSL_FLAG(std::string, action, "",
          "push: the action of the pushed keys (add, avg, max, min, last, "
          "timer, set)");
ABSL_FLAG(std::string, file, "",
          "push: send this JSON file as it is ('-' for stdin)");
ABSL_FLAG(int, depth, -1, "tree: how many levels below the key (-1: all)");
ABSL_FLAG(bool, actions, false, "tree: show each node's action");
ABSL_FLAG(std::string, from, "-1h",
          "trend: start: epoch seconds, -1h, -7d, now, or a local time "
          "(2026-11-20T10:00, 2026-11-20)");
ABSL_FLAG(std::string, to, "now", "trend: end (inclusive), as --from");
ABSL_FLAG(std::string, step, "",
          "trend: seconds per point (60, 10s, 1m, 1h; default: the server "
          "picks ~600 points); export: default 10s");
ABSL_FLAG(std::string, fn, "avg",
          "trend, export: avg, sum, min, max, last, count, rate, p50, p90, "
          "p99");
ABSL_FLAG(bool, csv, false, "trend: print the server's CSV as it is");
ABSL_FLAG(bool, spark, false,
          "trend: one line per series: sparkline, min, max, last");
ABSL_FLAG(int, width, 60, "trend --spark: most characters per sparkline");
ABSL_FLAG(std::string, day, "",
          "export: the UTC day, YYYY-MM-DD (or today, yesterday)");
ABSL_FLAG(std::string, key, "**", "export: the keys to export (a pattern)");
ABSL_FLAG(std::string, out, "", "export: the directory to write to");
ABSL_FLAG(std::string, format, "combined",
          "pipe: the log format: combined (or nginx), common, squid, or an "
          "nginx log_format string");
ABSL_FLAG(std::string, prefix, "web", "pipe: the key prefix of the counts");
ABSL_FLAG(bool, follow, false,
          "pipe: keep reading like tail -F (new lines, rotation, truncation) "
          "until SIGINT or SIGTERM");
ABSL_FLAG(int, batch_lines, 5000, "pipe: lines per POST /push");

namespace canopy {
namespace cli {
namespace {

constexpr char kUsage[] =
    R"usage(canopy: the command-line client of canopyd.

Usage: canopy [flags] COMMAND [ARGS...]

Commands:
  get KEY...           the leaves under KEY now, as "key value" lines
  watch KEY...         print changed leaves as they change (long-poll);
                       "key (removed)" for removed leaves; Ctrl-C stops
  push key=value...    write leaves (numbers stay numbers, else text);
  push - | --file=F    send a JSON tree from stdin or a file as it is
  tree [KEY]           the subtree under KEY (default: the root), drawn
  diff A B             the subtrees A and B aligned by relative path
  rm KEY               remove the subtree KEY
  trend KEY...         history: per series a table of local time and value
                       (6 significant digits); --spark: one line per series
                       (sparkline, min, max, last); --csv, --json: the
                       server's reply, exact (times in epoch seconds)
  export --day=D --out=DIR
                       one CSV file per series for the UTC day D
                       (DIR/<key>.csv, header "time,<key>", epoch seconds)
                       and DIR/canopy-export-D.tar.gz of them (needs tar)
  pipe FILE...         send access logs ('-' for stdin) to the server's log
                       pipes (POST /push accesslog=, --batch_lines lines at
                       a time): hits, bytes, status, browsers, OS, URLs,
                       times, traffic per domain under --prefix; --follow
                       keeps reading like tail -F (rotation by rename or
                       copy-truncate included) until Ctrl-C or SIGTERM.
                       Prints lines sent and what the server counted
  help                 this text

Keys are segments joined by commas: host,web1,cpu,user. In get, watch, trend
and export a segment may be * (any one), a glob (web*), or ** (any depth).

Flags:
  --server=URL     canopyd's address (default http://127.0.0.1:7575)
  --token=T        sent as "Authorization: Bearer T"
  --timeout=S      seconds to wait for a reply (default 10)
  --config=FILE    flag=value lines, overridden by the command line
  --json           print the server's JSON reply as it is (get, watch, tree,
                   diff; watch prints one reply per line)
  --limit=N        get: at most N leaves
  --count=N        watch: stop after N replies with changes
  --since=S        watch: start after seq S (default: from now; 0: all)
  --action=A       push: action of the pushed keys (add, avg, max, ...)
  --file=F         push: a JSON file to send ('-' for stdin)
  --depth=N        tree: levels below the key
  --actions        tree: show each node's action
  --from=T         trend: start (default -1h): epoch seconds, -1h, -7d, now,
                   or local time 2026-11-20T10:00[:00] / 2026-11-20
  --to=T           trend: end, inclusive (default now)
  --step=S         trend: seconds per point (60, 10s, 1m, 1h; default: the
                   server's choice, ~600 points); export: default 10s
  --fn=F           trend, export: avg (default), sum, min, max, last, count,
                   rate, p50, p90, p99
  --csv            trend: print CSV (time,<key>,... one column per key)
  --spark          trend: sparklines (at most --width=N characters, 60)
  --day=D          export: UTC day YYYY-MM-DD, today or yesterday
  --key=K          export: keys to export (default **, everything); KEY
                   arguments do the same
  --out=DIR        export: where to write (created if missing)
  --format=F       pipe: combined (default; also nginx), common, squid, or
                   an nginx log_format string ('$remote_addr - ... $host')
  --prefix=P       pipe: key prefix of the counts (default web; web,eu)
  --follow         pipe: follow the files (poll every 250 ms; a file renamed
                   away is drained, then the new one read from its start; a
                   truncated one is read again from its start)
  --batch_lines=N  pipe: lines per request (default 5000; at most 2 MiB);
                   lines over 64 KiB are not sent

Export file names: the key, commas kept (host,web1,cpu,idle.csv); bytes
unsafe in file names (/ \ : * ? " < > | %, control characters, a leading
. or -) are percent-encoded (%2F), so a name maps back to its key; names
past 200 bytes are cut and end in ~ and a hash. The archive unpacks into
canopy-export-D/.

Examples:
  canopy push web,hits=1 web,host=web1 --action=add
  canopy get 'host,*,load,1'
  canopy watch host,web1,cpu --count=1
  canopy tree host,web1 --depth=2 --actions
  canopy trend 'host,web1,load,1' --from=-6h --step=5m
  canopy trend 'host,*,cpu,idle' --from=-1d --spark
  canopy export --day=2026-11-20 --key='host,web1,**' --out=/tmp/nov20
  canopy pipe --format=nginx --prefix=web /var/log/nginx/access.log.1
  canopy pipe --follow --prefix=web,eu /var/log/nginx/access.log
  zcat access.log.*.gz | canopy pipe -
)usage";

// Exit codes.
constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsageError = 2;

// How long a watch asks the server to hold each /pull.
constexpr int kPollSeconds = 30;

int Fail(absl::string_view message) {
  std::cout.flush();
  std::cerr << "canopy: " << message << std::endl;
  return kFailed;
}

int UsageError(absl::string_view message) {
  std::cout.flush();
  std::cerr << "canopy: " << message << " (see canopy --help)" << std::endl;
  return kUsageError;
}

// ---------------------------------------------------------------------------
// Talking to the server.

class Server {
 public:
  explicit Server(HttpClient client, std::string token, double timeout)
      : client_(std::move(client)),
        token_(std::move(token)),
        timeout_(timeout) {}

  // Sends a request and turns a non-2xx reply into an error carrying the
  // server's {"error": ...} message. `timeout` overrides --timeout.
  absl::StatusOr<HttpReply> Call(absl::string_view method,
                                 absl::string_view target,
                                 absl::string_view body = "",
                                 absl::string_view content_type = "",
                                 double timeout = 0) const {
    HttpHeaders headers;
    if (!token_.empty()) {
      headers.emplace_back("Authorization", absl::StrCat("Bearer ", token_));
    }
    if (!content_type.empty()) {
      headers.emplace_back("Content-Type", std::string(content_type));
    }
    HttpClient client(client_.host(), client_.port(),
                      timeout > 0 ? timeout : timeout_);
    absl::StatusOr<HttpReply> reply =
        client.Request(method, target, body, headers);
    if (!reply.ok()) return Explain(reply.status());
    if (reply->status < 200 || reply->status > 299) {
      return ErrorFromReply(*reply);
    }
    return reply;
  }

  // The reply whatever its status; only transport errors fail.
  absl::StatusOr<HttpReply> CallAny(absl::string_view method,
                                    absl::string_view target,
                                    absl::string_view body,
                                    absl::string_view content_type) const {
    HttpHeaders headers;
    if (!token_.empty()) {
      headers.emplace_back("Authorization", absl::StrCat("Bearer ", token_));
    }
    headers.emplace_back("Content-Type", std::string(content_type));
    HttpClient client(client_.host(), client_.port(), timeout_);
    absl::StatusOr<HttpReply> reply =
        client.Request(method, target, body, headers);
    if (!reply.ok()) return Explain(reply.status());
    return reply;
  }

  // The error of a non-2xx reply, as Call makes it.
  static absl::Status ReplyError(const HttpReply& reply) {
    return ErrorFromReply(reply);
  }

  std::string address() const {
    return absl::StrCat(client_.host(), ":", client_.port());
  }

 private:
  // Turns a transport error into a line that says what to check.
  absl::Status Explain(const absl::Status& s) const {
    if (absl::IsDeadlineExceeded(s)) {
      return absl::DeadlineExceededError(
          absl::StrCat("no reply from ", address(), " within ",
                       absl::StrFormat("%g", timeout_), "s (see --timeout)"));
    }
    if (absl::StrContains(s.message(), "cannot connect")) {
      return absl::UnavailableError(
          absl::StrCat(s.message(), " (is canopyd running? see --server)"));
    }
    return absl::Status(s.code(), absl::StrCat(address(), ": ", s.message()));
  }

  static absl::Status ErrorFromReply(const HttpReply& reply) {
    std::string message;
    rapidjson::Document doc;
    doc.Parse(reply.body.data(), reply.body.size());
    if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("error") &&
        doc["error"].IsString()) {
      message = doc["error"].GetString();
      if (doc.HasMember("line") && doc["line"].IsUint64() &&
          doc["line"].GetUint64() > 0) {
        absl::StrAppend(&message, " (line ", doc["line"].GetUint64());
        if (doc.HasMember("column") && doc["column"].IsUint64()) {
          absl::StrAppend(&message, ", column ", doc["column"].GetUint64());
        }
        message += ")";
      }
    } else {
      absl::string_view first_line = reply.body;
      first_line = first_line.substr(0, first_line.find('\n'));
      first_line = absl::StripAsciiWhitespace(first_line);
      if (first_line.size() > 200) first_line = first_line.substr(0, 200);
      message = absl::StrCat("HTTP ", reply.status,
                             first_line.empty() ? "" : ": ", first_line);
    }
    absl::StatusCode code = absl::StatusCode::kUnknown;
    if (reply.status == 400) code = absl::StatusCode::kInvalidArgument;
    if (reply.status == 401 || reply.status == 403) {
      code = absl::StatusCode::kPermissionDenied;
    }
    if (reply.status == 404) code = absl::StatusCode::kNotFound;
    if (reply.status == 413 || reply.status == 507) {
      code = absl::StatusCode::kResourceExhausted;
    }
    if (reply.status == 502 || reply.status == 503 || reply.status == 504) {
      code = absl::StatusCode::kUnavailable;
    }
    return absl::Status(code, message);
  }

  HttpClient client_;
  std::string token_;
  double timeout_;
};

absl::StatusOr<rapidjson::Document> ParseReply(const HttpReply& reply) {
  rapidjson::Document doc;
  doc.Parse(reply.body.data(), reply.body.size());
  if (doc.HasParseError()) {
    return absl::DataLossError(
        absl::StrCat("the server's reply is not JSON: ",
                     rapidjson::GetParseError_En(doc.GetParseError()),
                     " at byte ", doc.GetErrorOffset()));
  }
  if (!doc.IsObject()) {
    return absl::DataLossError("the server's reply is not a JSON object");
  }
  return doc;
}

// "key=a&key=b" for the query string.
std::string KeyQuery(const std::vector<std::string>& keys) {
  std::vector<std::string> parts;
  for (const std::string& k : keys) {
    parts.push_back(absl::StrCat("key=", UrlEncode(k)));
  }
  return absl::StrJoin(parts, "&");
}

absl::Status CheckPatterns(const std::vector<std::string>& keys) {
  for (const std::string& k : keys) {
    absl::StatusOr<Pattern> p = Pattern::Parse(k);
    if (!p.ok()) return p.status();
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Printing.

// The shortest decimal text that reads back as `d`.
std::string NumberText(double d) {
  // Whole numbers in full ("40", not "4e+01"), up to 2^53.
  if (std::isfinite(d) && d == std::trunc(d) &&
      std::fabs(d) <= 9007199254740992.0) {
    return absl::StrFormat("%.0f", d);
  }
  for (int precision = 1; precision < 17; ++precision) {
    std::string text = absl::StrFormat("%.*g", precision, d);
    if (std::strtod(text.c_str(), nullptr) == d) return text;
  }
  return absl::StrFormat("%.17g", d);
}

// A figure to read, not to parse: six significant digits (1234.57, 0.333333),
// whole numbers in full.
std::string ShortNumber(double d) {
  if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 1e15) {
    return NumberText(d);
  }
  return absl::StrFormat("%.6g", d);
}

// A value as a person reads it: numbers in their shortest form, text as it
// is, null as "(removed)", anything else (a timer's figures) as compact JSON.
std::string ValueText(const rapidjson::Value& v) {
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  if (v.IsNull()) return "(removed)";
  if (v.IsInt64()) return absl::StrCat(v.GetInt64());
  if (v.IsUint64()) return absl::StrCat(v.GetUint64());
  if (v.IsDouble()) return NumberText(v.GetDouble());
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buf);
  v.Accept(writer);
  return std::string(buf.GetString(), buf.GetSize());
}

// Display width of UTF-8 text: one column per code point.
size_t Width(absl::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string Pad(absl::string_view s, size_t width) {
  std::string out(s);
  size_t w = Width(s);
  if (w < width) out.append(width - w, ' ');
  return out;
}

// Prints rows of columns, each column padded to its widest cell; the last
// column is not padded.
void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], Width(row[i]));
    }
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i + 1 < row.size()) {
        absl::StrAppend(&line, Pad(row[i], widths[i]), "  ");
      } else {
        line += row[i];
      }
    }
    std::cout << absl::StripTrailingAsciiWhitespace(line) << '\n';
  }
}

// The {"key": value} pairs of an "items" array, in order.
std::vector<std::pair<std::string, const rapidjson::Value*>> Items(
    const rapidjson::Document& doc) {
  std::vector<std::pair<std::string, const rapidjson::Value*>> out;
  auto it = doc.FindMember("items");
  if (it == doc.MemberEnd() || !it->value.IsArray()) return out;
  for (const rapidjson::Value& item : it->value.GetArray()) {
    if (!item.IsObject()) continue;
    for (const auto& m : item.GetObject()) {
      out.emplace_back(
          std::string(m.name.GetString(), m.name.GetStringLength()), &m.value);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// The commands. Each returns the process's exit code.

int PrintRaw(const HttpReply& reply) {
  std::cout << reply.body;
  if (reply.body.empty() || reply.body.back() != '\n') std::cout << '\n';
  return kOk;
}

int Get(const Server& server, const std::vector<std::string>& keys) {
  if (keys.empty()) return UsageError("get needs at least one KEY");
  if (absl::Status s = CheckPatterns(keys); !s.ok()) return Fail(s.message());
  std::string target = absl::StrCat("/get?", KeyQuery(keys));
  if (int limit = absl::GetFlag(FLAGS_limit); limit > 0) {
    absl::StrAppend(&target, "&limit=", limit);
  }
  absl::StatusOr<HttpReply> reply = server.Call("GET", target);
  if (!reply.ok()) return Fail(reply.status().message());
  if (absl::GetFlag(FLAGS_json)) return PrintRaw(*reply);
  absl::StatusOr<rapidjson::Document> doc = ParseReply(*reply);
  if (!doc.ok()) return Fail(doc.status().message());
  std::vector<std::vector<std::string>> rows;
  for (const auto& [key, value] : Items(*doc)) {
    rows.push_back({key, ValueText(*value)});
  }
  PrintTable(rows);
  auto truncated = doc->FindMember("truncated");
  if (truncated != doc->MemberEnd() && truncated->value.IsTrue()) {
    std::cout.flush();
    std::cerr << "canopy: truncated after " << rows.size()
              << " leaves (see --limit)" << std::endl;
  }
  return kOk;
}

// Retries with exponential backoff and jitter while the server is away, and
// says so once per outage on stderr.
class Backoff {
 public:
  void Wait(const absl::Status& why) {
    if (failures_ == 0) {
      std::cerr << "canopy: " << why.message() << "; retrying" << std::endl;
    }
    double base = std::min(kMaxSeconds, 0.25 * (1 << std::min(failures_, 8)));
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    double seconds = std::min(kMaxSeconds, base * jitter(rng_));
    ++failures_;
    std::this_thread::sleep_for(
        std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)));
  }

  void Succeeded() {
    if (failures_ > 0) std::cerr << "canopy: reconnected" << std::endl;
    failures_ = 0;
  }

 private:
  static constexpr double kMaxSeconds = 30;
  int failures_ = 0;
  std::mt19937 rng_{std::random_device{}()};
};

// True for the errors a watch outlives: the server is down, restarting,
// overloaded, or the connection broke.
bool Transient(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) ||
         absl::IsDataLoss(s);
}

int Watch(const Server& server, const std::vector<std::string>& keys) {
  if (keys.empty()) return UsageError("watch needs at least one KEY");
  if (absl::Status s = CheckPatterns(keys); !s.ok()) return Fail(s.message());
  const std::string query = KeyQuery(keys);
  const bool json = absl::GetFlag(FLAGS_json);
  const int count = absl::GetFlag(FLAGS_count);
  Backoff backoff;

  // Without --since, start from the seq of now so that no change between
  // this request and the first /pull is lost.
  int64_t since = absl::GetFlag(FLAGS_since);
  while (since < 0) {
    absl::StatusOr<HttpReply> reply =
        server.Call("GET", absl::StrCat("/get?", query, "&limit=1"));
    if (!reply.ok()) {
      if (!Transient(reply.status())) return Fail(reply.status().message());
      backoff.Wait(reply.status());
      continue;
    }
    absl::StatusOr<rapidjson::Document> doc = ParseReply(*reply);
    if (!doc.ok()) return Fail(doc.status().message());
    auto seq = doc->FindMember("seq");
    if (seq == doc->MemberEnd() || !seq->value.IsInt64()) {
      return Fail("the server's /get reply has no seq");
    }
    since = seq->value.GetInt64();
    backoff.Succeeded();
  }

  // The leaves seen so far, to report those gone when the server resets us.
  absl::flat_hash_set<std::string> known;
  int replies = 0;
  while (count <= 0 || replies < count) {
    std::string target = absl::StrCat("/pull?", query, "&since=", since,
                                      "&timeout=", kPollSeconds);
    absl::StatusOr<HttpReply> reply = server.Call(
        "GET", target, "", "", kPollSeconds + absl::GetFlag(FLAGS_timeout));
    if (!reply.ok()) {
      if (!Transient(reply.status())) return Fail(reply.status().message());
      backoff.Wait(reply.status());
      continue;
    }
    backoff.Succeeded();
    absl::StatusOr<rapidjson::Document> doc = ParseReply(*reply);
    if (!doc.ok()) return Fail(doc.status().message());
    auto seq = doc->FindMember("seq");
    if (seq == doc->MemberEnd() || !seq->value.IsInt64()) {
      return Fail("the server's /pull reply has no seq");
    }
    since = seq->value.GetInt64();
    auto reset_member = doc->FindMember("reset");
    bool reset =
        reset_member != doc->MemberEnd() && reset_member->value.IsTrue();
    std::vector<std::pair<std::string, const rapidjson::Value*>> items =
        Items(*doc);
    if (items.empty() && !reset) continue;  // the poll timed out

    if (json) {
      std::string line = reply->body;
      line.erase(std::remove(line.begin(), line.end(), '\n'), line.end());
      std::cout << line << std::endl;
    } else {
      std::vector<std::vector<std::string>> rows;
      if (reset) {
        // Every leaf under the keys follows; those we knew that are not
        // among them are gone.
        absl::flat_hash_set<std::string> now;
        for (const auto& item : items) now.insert(item.first);
        std::vector<std::string> gone;
        for (const std::string& k : known) {
          if (!now.contains(k)) gone.push_back(k);
        }
        std::sort(gone.begin(), gone.end());
        for (std::string& k : gone) rows.push_back({std::move(k), "(removed)"});
        known.clear();
      }
      for (const auto& [key, value] : items) {
        rows.push_back({key, ValueText(*value)});
      }
      PrintTable(rows);
      std::cout.flush();
    }
    for (const auto& [key, value] : items) {
      if (value->IsNull()) {
        known.erase(key);
      } else {
        known.insert(key);
      }
    }
    ++replies;
  }
  return kOk;
}

// True if `s` is a number in JSON's grammar, so that it can be sent as is.
bool IsJsonNumber(absl::string_view s) {
  size_t i = 0;
  auto digits = [&]() {
    size_t start = i;
    while (i < s.size() && absl::ascii_isdigit(s[i])) ++i;
    return i - start;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (digits() == 0) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == s.size();
}

absl::StatusOr<std::string> ReadInput(const std::string& file) {
  std::string data;
  if (file == "-") {
    data.assign(std::istreambuf_iterator<char>(std::cin),
                std::istreambuf_iterator<char>());
    if (std::cin.bad()) return absl::DataLossError("cannot read stdin");
    return data;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", file, ": ", std::strerror(errno)));
  }
  data.assign(std::istreambuf_iterator<char>(in),
              std::istreambuf_iterator<char>());
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", file));
  return data;
}

// {"key": value, ..., "defaultaction": A} from key=value arguments.
absl::StatusOr<std::string> BuildPush(const std::vector<std::string>& args,
                                      const std::string& action) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buf);
  writer.StartObject();
  for (const std::string& arg : args) {
    size_t eq = arg.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", arg, "\" is not key=value"));
    }
    absl::string_view key = absl::string_view(arg).substr(0, eq);
    absl::string_view value = absl::string_view(arg).substr(eq + 1);
    absl::StatusOr<KeySegments> segments = SplitKey(key);
    if (!segments.ok()) return segments.status();
    if (segments->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", arg, "\" has no key before '='"));
    }
    writer.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    if (IsJsonNumber(value)) {
      writer.RawValue(value.data(), value.size(), rapidjson::kNumberType);
    } else {
      writer.String(value.data(),
                    static_cast<rapidjson::SizeType>(value.size()));
    }
  }
  if (!action.empty()) {
    writer.Key("defaultaction");
    writer.String(action.data(),
                  static_cast<rapidjson::SizeType>(action.size()));
  }
  writer.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

int Push(const Server& server, const std::vector<std::string>& args) {
  std::string file = absl::GetFlag(FLAGS_file);
  const std::string action = absl::GetFlag(FLAGS_action);
  if (args.size() == 1 && args[0] == "-") {
    if (!file.empty()) return UsageError("give either - or --file, not both");
    file = "-";
  }
  std::string body;
  if (!file.empty()) {
    if (file != "-" && !args.empty()) {
      return UsageError("give either --file or key=value arguments, not both");
    }
    if (!action.empty()) {
      return UsageError(
          "--action applies to key=value pushes; put \"defaultaction\" in the "
          "JSON instead");
    }
    absl::StatusOr<std::string> data = ReadInput(file);
    if (!data.ok()) return Fail(data.status().message());
    body = *std::move(data);
  } else {
    if (args.empty()) {
      return UsageError("push needs key=value arguments, - or --file");
    }
    absl::StatusOr<std::string> built = BuildPush(args, action);
    if (!built.ok()) return Fail(built.status().message());
    body = *std::move(built);
  }
  absl::StatusOr<HttpReply> reply =
      server.Call("POST", "/push", body, "application/json");
  if (!reply.ok()) return Fail(reply.status().message());
  if (absl::GetFlag(FLAGS_json)) return PrintRaw(*reply);
  absl::StatusOr<rapidjson::Document> doc = ParseReply(*reply);
  if (!doc.ok()) return Fail(doc.status().message());
  auto accepted = doc->FindMember("accepted");
  if (accepted == doc->MemberEnd() || !accepted->value.IsNumber()) {
    return Fail("the server's /push reply has no \"accepted\"");
  }
  std::cout << "accepted " << ValueText(accepted->value) << std::endl;
  return kOk;
}

// Draws a node of /api/q/K.json?meta=1 and its children like tree(1).
class TreePrinter {
 public:
  explicit TreePrinter(bool actions) : actions_(actions) {}

  void Print(const rapidjson::Value& node, const std::string& label) {
    std::cout << Line(label, node) << '\n';
    Children(node, "");
    std::cout << '\n'
              << nodes_ << (nodes_ == 1 ? " node, " : " nodes, ") << leaves_
              << (leaves_ == 1 ? " leaf" : " leaves") << '\n';
  }

 private:
  std::string Line(absl::string_view name, const rapidjson::Value& node) {
    ++nodes_;
    std::string line(name);
    if (!node.IsObject()) {  // a bare value, should a server send one
      absl::StrAppend(&line, "  ", ValueText(node));
      ++leaves_;
      return line;
    }
    // A leaf has a value and no children; a node cut off by --depth has
    // no children shown either, but (unless its action aggregates) no value.
    auto children = node.FindMember("children");
    auto value = node.FindMember("value");
    if ((children == node.MemberEnd() || !children->value.IsObject() ||
         children->value.ObjectEmpty()) &&
        value != node.MemberEnd()) {
      ++leaves_;
    }
    if (value != node.MemberEnd() && !value->value.IsNull()) {
      absl::StrAppend(&line, "  ", ValueText(value->value));
    }
    auto rate = node.FindMember("rate");
    if (rate != node.MemberEnd() && rate->value.IsNumber()) {
      absl::StrAppend(&line, "  ", NumberText(rate->value.GetDouble()), "/s");
    }
    auto action = node.FindMember("action");
    if (actions_ && action != node.MemberEnd() && action->value.IsString()) {
      absl::StrAppend(&line, "  [", action->value.GetString(), "]");
    }
    auto markers = node.FindMember("markers");
    if (markers != node.MemberEnd() && markers->value.IsArray() &&
        !markers->value.Empty()) {
      const rapidjson::Value& last = markers->value[markers->value.Size() - 1];
      auto text = last.IsObject() ? last.FindMember("text") : last.MemberEnd();
      if (last.IsObject() && text != last.MemberEnd() &&
          text->value.IsString()) {
        absl::StrAppend(&line, "  \u2691 ", text->value.GetString());
        if (markers->value.Size() > 1) {
          absl::StrAppend(&line, " (+", markers->value.Size() - 1, ")");
        }
      }
    }
    return line;
  }

  void Children(const rapidjson::Value& node, const std::string& indent) {
    if (!node.IsObject()) return;
    auto children = node.FindMember("children");
    if (children == node.MemberEnd() || !children->value.IsObject()) return;
    const auto& obj = children->value;
    size_t left = obj.MemberCount();
    for (const auto& child : obj.GetObject()) {
      bool last = --left == 0;
      absl::string_view name(child.name.GetString(),
                             child.name.GetStringLength());
      std::cout << indent
                << (last ? "\u2514\u2500\u2500 " : "\u251c\u2500\u2500 ")
                << Line(name, child.value) << '\n';
      Children(child.value, indent + (last ? "    " : "\u2502   "));
    }
  }

  bool actions_;
  size_t nodes_ = 0;
  size_t leaves_ = 0;
};

int Tree(const Server& server, const std::vector<std::string>& args) {
  if (args.size() > 1) return UsageError("tree takes at most one KEY");
  std::string key = args.empty() ? "" : args[0];
  if (absl::StatusOr<KeySegments> s = SplitKey(key); !s.ok()) {
    return Fail(s.status().message());
  }
  std::string target = absl::StrCat("/api/q/", UrlEncode(key), ".json?meta=1");
  if (int depth = absl::GetFlag(FLAGS_depth); depth >= 0) {
    absl::StrAppend(&target, "&depth=", depth);
  }
  absl::StatusOr<HttpReply> reply = server.Call("GET", target);
  if (!reply.ok()) return Fail(reply.status().message());
  if (absl::GetFlag(FLAGS_json)) return PrintRaw(*reply);
  absl::StatusOr<rapidjson::Document> doc = ParseReply(*reply);
  if (!doc.ok()) return Fail(doc.status().message());
  TreePrinter printer(absl::GetFlag(FLAGS_actions));
  printer.Print(*doc, key.empty() ? "." : key);
  return kOk;
}

std::string DeltaText(const rapidjson::Value& v) {
  if (!v.IsNumber()) return "";
  double d = v.GetDouble();
  return absl::StrCat(d > 0 ? "+" : "", NumberText(d));
}

int Diff(const Server& server, const std::vector<std::string>& args) {
  if (args.size() != 2) return UsageError("diff takes two KEYs");
  for (const std::string& key : args) {
    if (absl::StatusOr<KeySegments> s = SplitKey(key); !s.ok()) {
      return Fail(s.status().message());
    }
  }
  std::string target =
      absl::StrCat("/diff/", UrlEncode(args[0]), "/", UrlEncode(args[1]));
  absl::StatusOr<HttpReply> reply = server.Call("GET", target);
  if (!reply.ok()) return Fail(reply.status().message());
  if (absl::GetFlag(FLAGS_json)) return PrintRaw(*reply);
  absl::StatusOr<rapidjson::Document> doc = ParseReply(*reply);
  if (!doc.ok()) return Fail(doc.status().message());

  auto field = [](const rapidjson::Value& entry, const char* name) {
    static const rapidjson::Value kNull;
    if (!entry.IsObject()) return &kNull;
    auto it = entry.FindMember(name);
    return it == entry.MemberEnd() ? &kNull : &it->value;
  };
  auto entries = [&](const char* name) {
    std::vector<const rapidjson::Value*> out;
    auto it = doc->FindMember(name);
    if (it == doc->MemberEnd() || !it->value.IsArray()) return out;
    for (const auto& e : it->value.GetArray()) out.push_back(&e);
    return out;
  };
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"PATH", args[0], args[1], "DELTA"});
  for (const rapidjson::Value* e : entries("both")) {
    rows.push_back({ValueText(*field(*e, "path")), ValueText(*field(*e, "a")),
                    ValueText(*field(*e, "b")),
                    DeltaText(*field(*e, "delta"))});
  }
  for (const rapidjson::Value* e : entries("only_a")) {
    rows.push_back({ValueText(*field(*e, "path")),
                    ValueText(*field(*e, "value")), "-", "only in A"});
  }
  for (const rapidjson::Value* e : entries("only_b")) {
    rows.push_back({ValueText(*field(*e, "path")), "-",
                    ValueText(*field(*e, "value")), "only in B"});
  }
  PrintTable(rows);
  return kOk;
}

int Remove(const Server& server, const std::vector<std::string>& args) {
  if (args.size() != 1) return UsageError("rm takes one KEY");
  const std::string& key = args[0];
  absl::StatusOr<KeySegments> segments = SplitKey(key);
  if (!segments.ok()) return Fail(segments.status().message());
  if (segments->empty()) return UsageError("rm will not remove the root");
  absl::StatusOr<HttpReply> reply =
      server.Call("DELETE", absl::StrCat("/api/q/", UrlEncode(key)));
  if (!reply.ok()) return Fail(reply.status().message());
  if (absl::GetFlag(FLAGS_json)) return PrintRaw(*reply);
  std::string what = absl::StrCat("removed ", key);
  rapidjson::Document doc;
  doc.Parse(reply->body.data(), reply->body.size());
  if (!doc.HasParseError() && doc.IsObject()) {
    auto removed = doc.FindMember("removed");
    if (removed != doc.MemberEnd() && removed->value.IsNumber()) {
      absl::StrAppend(&what, " (", ValueText(removed->value),
                      removed->value.IsInt64() && removed->value.GetInt64() == 1
                          ? " leaf)"
                          : " leaves)");
    }
  }
  std::cout << what << std::endl;
  return kOk;
}

// ---------------------------------------------------------------------------
// History: trend and export (GET /trend).

// A time flag as the server takes it: epoch seconds, now and -1h pass as they
// are; a local date or date and time (or RFC 3339 with an offset) becomes
// epoch seconds.
absl::StatusOr<std::string> TimeArg(const std::string& text) {
  absl::string_view t = absl::StripAsciiWhitespace(text);
  if (t.empty() || t == "now" || t[0] == '-' || t[0] == '+' ||
      std::all_of(t.begin(), t.end(), absl::ascii_isdigit)) {
    return std::string(t);
  }
  absl::Time parsed;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, t, &parsed, &error)) {
    return absl::StrCat(absl::ToUnixSeconds(parsed));
  }
  for (const char* format :
       {"%Y-%m-%d%ET%H:%M:%E*S", "%Y-%m-%d %H:%M:%E*S", "%Y-%m-%d%ET%H:%M",
        "%Y-%m-%d %H:%M", "%Y-%m-%d"}) {
    if (absl::ParseTime(format, t, absl::LocalTimeZone(), &parsed, &error)) {
      return absl::StrCat(absl::ToUnixSeconds(parsed));
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "bad time \"", t, "\" (expected epoch seconds, now, -1h, -7d, ",
      "2026-11-20T10:00 or 2026-11-20)"));
}

// Epoch seconds of a time as the server reads it (TimeArg's output): now,
// -1h, +2d, or epoch seconds; nullopt-like false if it is none of these.
bool EpochOf(absl::string_view t, int64_t now, int64_t* out) {
  if (t.empty() || t == "now") {
    *out = now;
    return true;
  }
  if (t[0] == '-' || t[0] == '+') {
    int64_t d;
    if (!ParseDuration(t.substr(1), &d)) return false;
    *out = t[0] == '-' ? now - d : now + d;
    return true;
  }
  return absl::SimpleAtoi(t, out);
}

// "10s", "1m", "1h", "1d" or "90s".
std::string StepText(int64_t seconds) {
  if (seconds > 0 && seconds % 86400 == 0)
    return absl::StrCat(seconds / 86400, "d");
  if (seconds > 0 && seconds % 3600 == 0)
    return absl::StrCat(seconds / 3600, "h");
  if (seconds > 0 && seconds % 60 == 0) return absl::StrCat(seconds / 60, "m");
  return absl::StrCat(seconds, "s");
}

// Local time in ISO 8601 with its offset: 2026-11-20T10:00:00+01:00.
std::string LocalTimeText(int64_t t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", absl::FromUnixSeconds(t),
                          absl::LocalTimeZone());
}

struct Series {
  std::string key;
  std::vector<std::pair<int64_t, double>> points;
};

struct TrendReply {
  int64_t step = 0;
  bool truncated = false;
  std::vector<Series> series;
};

absl::StatusOr<TrendReply> ParseTrend(const HttpReply& reply) {
  absl::StatusOr<rapidjson::Document> doc = ParseReply(reply);
  if (!doc.ok()) return doc.status();
  TrendReply out;
  auto step = doc->FindMember("step");
  auto series = doc->FindMember("series");
  if (step == doc->MemberEnd() || !step->value.IsInt64() ||
      series == doc->MemberEnd() || !series->value.IsArray()) {
    return absl::DataLossError(
        "the server's /trend reply has no \"step\" or \"series\"");
  }
  out.step = step->value.GetInt64();
  auto truncated = doc->FindMember("truncated");
  out.truncated = truncated != doc->MemberEnd() && truncated->value.IsTrue();
  for (const rapidjson::Value& s : series->value.GetArray()) {
    if (!s.IsObject()) continue;
    auto key = s.FindMember("key");
    auto points = s.FindMember("points");
    if (key == s.MemberEnd() || !key->value.IsString()) continue;
    Series one;
    one.key.assign(key->value.GetString(), key->value.GetStringLength());
    if (points != s.MemberEnd() && points->value.IsArray()) {
      for (const rapidjson::Value& p : points->value.GetArray()) {
        // A value the server could not write as a number (NaN) is null.
        if (!p.IsArray() || p.Size() != 2 || !p[0].IsInt64() ||
            !p[1].IsNumber()) {
          continue;
        }
        one.points.emplace_back(p[0].GetInt64(), p[1].GetDouble());
      }
    }
    out.series.push_back(std::move(one));
  }
  return out;
}

// The sparkline of `points` (sorted by time, `step` apart at the closest):
// one character per step, or per group of steps when there are more than
// `width`; a gap is a space.
std::string Sparkline(const std::vector<std::pair<int64_t, double>>& points,
                      int64_t step, int width) {
  static const char* const kBars[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                      "\u2585", "\u2586", "\u2587", "\u2588"};
  if (points.empty()) return "";
  if (step <= 0) step = 1;
  width = std::max(width, 1);
  const int64_t first = points.front().first;
  const int64_t slots = (points.back().first - first) / step + 1;
  const int64_t per_column = (slots + width - 1) / width;
  const int64_t columns = (slots + per_column - 1) / per_column;
  std::vector<double> sum(columns, 0);
  std::vector<int> n(columns, 0);
  double lo = points.front().second, hi = lo;
  for (const auto& [t, v] : points) {
    int64_t c =
        std::clamp<int64_t>((t - first) / step / per_column, 0, columns - 1);
    sum[c] += v;
    ++n[c];
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  std::string out;
  for (int64_t c = 0; c < columns; ++c) {
    if (n[c] == 0) {
      out += ' ';
      continue;
    }
    double v = sum[c] / n[c];
    int level = 3;  // a flat series sits in the middle
    if (hi > lo) {
      level = static_cast<int>(std::lround((v - lo) / (hi - lo) * 7));
    }
    out += kBars[std::clamp(level, 0, 7)];
  }
  return out;
}

int Trend(const Server& server, const std::vector<std::string>& keys) {
  if (keys.empty()) return UsageError("trend needs at least one KEY");
  if (absl::Status s = CheckPatterns(keys); !s.ok()) return Fail(s.message());
  const bool csv = absl::GetFlag(FLAGS_csv);
  const bool spark = absl::GetFlag(FLAGS_spark);
  if (csv && spark) return UsageError("give either --csv or --spark");
  absl::StatusOr<std::string> from = TimeArg(absl::GetFlag(FLAGS_from));
  if (!from.ok()) return Fail(from.status().message());
  absl::StatusOr<std::string> to = TimeArg(absl::GetFlag(FLAGS_to));
  if (!to.ok()) return Fail(to.status().message());
  const std::string fn = absl::GetFlag(FLAGS_fn);
  std::string target =
      absl::StrCat("/trend?", KeyQuery(keys), "&from=", UrlEncode(*from),
                   "&to=", UrlEncode(*to), "&fn=", UrlEncode(fn));
  std::string step = absl::GetFlag(FLAGS_step);
  int64_t from_s, to_s;
  const int64_t now = time(nullptr);
  if (spark && step.empty() && EpochOf(*from, now, &from_s) &&
      EpochOf(*to, now, &to_s) && to_s >= from_s) {
    // About one point per character: the server aggregates with --fn.
    int64_t width = std::max(1, absl::GetFlag(FLAGS_width));
    step = absl::StrCat(std::max<int64_t>(1, (to_s - from_s + width) / width));
  }
  if (!step.empty()) absl::StrAppend(&target, "&step=", UrlEncode(step));
  if (csv) absl::StrAppend(&target, "&format=csv");
  absl::StatusOr<HttpReply> reply = server.Call("GET", target);
  if (!reply.ok()) return Fail(reply.status().message());
  if (csv || absl::GetFlag(FLAGS_json)) return PrintRaw(*reply);
  absl::StatusOr<TrendReply> trend = ParseTrend(*reply);
  if (!trend.ok()) return Fail(trend.status().message());

  if (trend->series.empty()) {
    std::cout.flush();
    std::cerr << "canopy: no history under " << absl::StrJoin(keys, " ")
              << std::endl;
    return kOk;
  }
  const std::string every =
      absl::StrCat("every ", StepText(trend->step), ", ", fn);
  if (spark) {
    std::vector<std::vector<std::string>> rows;
    for (const Series& s : trend->series) {
      if (s.points.empty()) {
        rows.push_back({s.key, "(no points)"});
        continue;
      }
      double lo = s.points.front().second, hi = lo;
      for (const auto& p : s.points) {
        lo = std::min(lo, p.second);
        hi = std::max(hi, p.second);
      }
      rows.push_back(
          {s.key, Sparkline(s.points, trend->step, absl::GetFlag(FLAGS_width)),
           absl::StrCat("min ", ShortNumber(lo)),
           absl::StrCat("max ", ShortNumber(hi)),
           absl::StrCat("last ", ShortNumber(s.points.back().second))});
    }
    PrintTable(rows);
  } else {
    bool first = true;
    for (const Series& s : trend->series) {
      if (!first) std::cout << '\n';
      first = false;
      std::cout << s.key << "  (" << every
                << (s.points.empty() ? "; no points)" : ")") << '\n';
      std::vector<std::vector<std::string>> rows;
      for (const auto& [t, v] : s.points) {
        rows.push_back({LocalTimeText(t), ShortNumber(v)});
      }
      PrintTable(rows);
    }
  }
  if (trend->truncated) {
    std::cout.flush();
    std::cerr << "canopy: truncated after " << trend->series.size()
              << " series (narrow the KEY)" << std::endl;
  }
  return kOk;
}

// One CSV line split into its fields (RFC 4180 quoting).
std::vector<std::string> CsvFields(absl::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  return fields;
}

std::string CsvField(absl::string_view s) {
  if (s.find_first_of(",\"\r\n") == absl::string_view::npos) {
    return std::string(s);
  }
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

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

// Packs `files` (names inside `dir`) into `archive` with tar and gzip,
// under the directory `top` inside the archive. The archive appears whole
// or not at all.
absl::Status TarGz(const std::string& dir,
                   const std::vector<std::string>& files,
                   const std::string& archive, const std::string& top) {
  std::string tmp = absl::StrCat(dir, "/.", top, ".tar.gz.tmp");
  std::vector<std::string> args = {"tar",
                                   "--create",
                                   "--gzip",
                                   "--file=" + tmp,
                                   "--directory=" + dir,
                                   "--transform=s,^," + top + "/,",
                                   "--null",
                                   "--verbatim-files-from",
                                   "--files-from=-"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  std::cout.flush();
  pid_t pid = fork();
  if (pid < 0) {
    close(pipefd[0]);
    close(pipefd[1]);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    dup2(pipefd[0], 0);
    execv("/bin/tar", argv.data());
    execvp("tar", argv.data());
    std::fprintf(stderr, "canopy: cannot run tar: %s\n", std::strerror(errno));
    _exit(127);
  }
  close(pipefd[0]);
  // tar may stop reading (and die) early: a write then fails with EPIPE
  // instead of killing us.
  struct sigaction ignore = {}, old = {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &old);
  std::string list;
  for (const std::string& f : files) {
    list += f;
    list += '\0';
  }
  size_t done = 0;
  while (done < list.size()) {
    ssize_t n = write(pipefd[1], list.data() + done, list.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(pipefd[1]);
  sigaction(SIGPIPE, &old, nullptr);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || done < list.size()) {
    unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat(
        "tar failed (",
        WIFEXITED(status) ? absl::StrCat("exit ", WEXITSTATUS(status))
                          : absl::StrCat("signal ", WTERMSIG(status)),
        ")"));
  }
  if (rename(tmp.c_str(), archive.c_str()) != 0) {
    int saved = errno;
    unlink(tmp.c_str());
    return absl::PermissionDeniedError(
        absl::StrCat("cannot rename to ", archive, ": ", std::strerror(saved)));
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

int Export(const Server& server, const std::vector<std::string>& args) {
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

// ---------------------------------------------------------------------------
// pipe: access logs to the server, which runs its pipes over them.

volatile sig_atomic_t g_pipe_stop = 0;
void OnPipeSignal(int) { g_pipe_stop = 1; }

// A line longer than this is dropped here, never sent (the server refuses
// lines past 16 KiB anyway): memory stays bounded whatever the input.
constexpr size_t kPipeMaxLine = 64 * 1024;
// A batch is sent at --batch_lines lines or this many bytes of log.
constexpr size_t kPipeMaxBatchBytes = 2 << 20;
// How often --follow looks for new data, rotation and truncation.
constexpr int kPipePollMs = 250;

struct PipeTotals {
  size_t read = 0;     // non-empty lines read
  size_t counted = 0;  // lines the server parsed
  size_t skipped = 0;  // lines the server refused
  size_t dropped = 0;  // lines too long to send
  size_t samples = 0;  // the server's "accepted"
  size_t batches = 0;
  std::string first_skip;  // why the first wholly refused batch was refused
};

// Lines gathered until a batch is full, then POSTed as accesslog=.
class PipeBatcher {
 public:
  PipeBatcher(const Server& server, std::string format, std::string prefix,
              size_t max_lines, bool retry, PipeTotals* totals)
      : server_(server),
        head_(absl::StrCat("format=", UrlEncode(format),
                           "&prefix=", UrlEncode(prefix), "&accesslog=")),
        max_lines_(max_lines),
        retry_(retry),
        totals_(totals) {}

  const absl::Status& status() const { return status_; }

  void Add(absl::string_view line) {
    if (!status_.ok()) return;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) return;
    ++totals_->read;
    lines_.append(line.data(), line.size());
    lines_.push_back('\n');
    if (++count_ >= max_lines_ || lines_.size() >= kPipeMaxBatchBytes) Send();
  }

  // Sends what is gathered (nothing if nothing is).
  void Send() {
    if (count_ == 0 || !status_.ok()) return;
    status_ = Post(lines_, count_);
    lines_.clear();
    count_ = 0;
  }

  // An empty batch: checks the format, the prefix and the server up front.
  absl::Status Probe() { return Post("", 0); }

 private:
  absl::Status Post(absl::string_view lines, size_t count) {
    const std::string body = head_ + UrlEncode(lines);
    Backoff backoff;
    while (true) {
      absl::StatusOr<HttpReply> reply = server_.CallAny(
          "POST", "/push", body, "application/x-www-form-urlencoded");
      if (!reply.ok()) {
        if (retry_ && Transient(reply.status()) && !g_pipe_stop) {
          backoff.Wait(reply.status());
          continue;
        }
        return reply.status();
      }
      if (reply->status >= 200 && reply->status <= 299) {
        absl::StatusOr<rapidjson::Document> doc = ParseReply(*reply);
        if (!doc.ok()) return doc.status();
        auto number = [&](const char* name) -> size_t {
          auto it = doc->FindMember(name);
          return it != doc->MemberEnd() && it->value.IsUint64()
                     ? static_cast<size_t>(it->value.GetUint64())
                     : 0;
        };
        totals_->samples += number("accepted");
        totals_->counted += number("lines");
        totals_->skipped += number("skipped");
        if (count > 0) ++totals_->batches;
        return absl::OkStatus();
      }
      absl::Status error = Server::ReplyError(*reply);
      if (reply->status == 503 && retry_ && !g_pipe_stop) {
        backoff.Wait(error);
        continue;
      }
      // A batch none of whose lines parsed is refused whole with the
      // position of its first line: skipped lines, not a failure.
      if (reply->status == 400 && count > 0 &&
          absl::StrContains(error.message(), "(line ")) {
        totals_->skipped += count;
        ++totals_->batches;
        if (totals_->first_skip.empty()) {
          totals_->first_skip = std::string(error.message());
        }
        return absl::OkStatus();
      }
      return error;
    }
  }

  const Server& server_;
  const std::string head_;
  const size_t max_lines_;
  const bool retry_;
  PipeTotals* totals_;
  std::string lines_;
  size_t count_ = 0;
  absl::Status status_;
};

// One log file (or stdin, "-") read to its end, and with --follow like
// tail -F: new data as it comes; a file renamed away and recreated (another
// inode under the name) is drained and the new one read from its start; a
// file that shrank (copy-truncate) is read again from its start.
class LogSource {
 public:
  LogSource(std::string path, PipeTotals* totals)
      : path_(std::move(path)), totals_(totals) {}
  ~LogSource() {
    if (fd_ > 0) close(fd_);
  }
  LogSource(const LogSource&) = delete;
  LogSource& operator=(const LogSource&) = delete;

  const std::string& path() const { return path_; }
  bool is_stdin() const { return path_ == "-"; }
  bool at_eof() const { return eof_; }

  absl::Status Open() {
    if (is_stdin()) {
      fd_ = 0;
      return absl::OkStatus();
    }
    int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return absl::NotFoundError(
          absl::StrCat("cannot read ", path_, ": ", std::strerror(errno)));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
      close(fd);
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read ", path_, ": not a file"));
    }
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    offset_ = 0;
    return absl::OkStatus();
  }

  // Reads what there is now; every complete line goes to `batch`. With
  // `wait_ms` (stdin when following) waits that long for data first.
  absl::Status Read(PipeBatcher* batch, int wait_ms = -1) {
    if (fd_ < 0) return absl::OkStatus();
    char buf[64 * 1024];
    while (batch->status().ok()) {
      if (wait_ms >= 0) {
        struct pollfd p = {fd_, POLLIN, 0};
        if (poll(&p, 1, wait_ms) <= 0) return absl::OkStatus();
        wait_ms = 0;
      }
      ssize_t n = read(fd_, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) {
        if (g_pipe_stop) return absl::OkStatus();
        continue;
      }
      if (n < 0) {
        return absl::DataLossError(
            absl::StrCat("cannot read ", path_, ": ", std::strerror(errno)));
      }
      if (n == 0) {
        eof_ = true;
        return absl::OkStatus();
      }
      offset_ += n;
      Split(absl::string_view(buf, static_cast<size_t>(n)), batch);
    }
    return batch->status();
  }

  // --follow: reopens a rotated file, rewinds a truncated one.
  absl::Status CheckRotation(PipeBatcher* batch) {
    if (is_stdin()) return absl::OkStatus();
    struct stat st;
    if (stat(path_.c_str(), &st) != 0) return absl::OkStatus();  // not yet
    // Another file under the name; or ours was deleted (then a new file
    // may have got its inode number).
    struct stat mine;
    if (fd_ < 0 || st.st_dev != dev_ || st.st_ino != ino_ ||
        (fstat(fd_, &mine) == 0 && mine.st_nlink == 0)) {
      if (fd_ >= 0) {
        // Renamed away: what was written to it before the new file
        // appeared is still ours.
        if (absl::Status s = Read(batch); !s.ok()) return s;
        Flush(batch);
      }
      if (!Open().ok()) return absl::OkStatus();  // gone again: next time
      return Read(batch);
    }
    struct stat now;
    if (fstat(fd_, &now) == 0 && now.st_size < offset_) {
      // Copied and truncated: start again (a partial line is lost).
      lseek(fd_, 0, SEEK_SET);
      offset_ = 0;
      partial_.clear();
      skipping_ = false;
      return Read(batch);
    }
    return absl::OkStatus();
  }

  // The last line when it has no newline.
  void Flush(PipeBatcher* batch) {
    if (!partial_.empty() && !skipping_) batch->Add(partial_);
    partial_.clear();
    skipping_ = false;
  }

 private:
  void Split(absl::string_view data, PipeBatcher* batch) {
    while (!data.empty()) {
      const size_t nl = data.find('\n');
      const absl::string_view piece = data.substr(0, nl);
      if (!skipping_) {
        if (partial_.size() + piece.size() > kPipeMaxLine) {
          skipping_ = true;
          partial_.clear();
          ++totals_->dropped;
        } else if (nl != absl::string_view::npos && partial_.empty()) {
          batch->Add(piece);  // the common case: no copy
        } else {
          partial_.append(piece.data(), piece.size());
        }
      }
      if (nl == absl::string_view::npos) return;
      if (!partial_.empty()) batch->Add(partial_);
      partial_.clear();
      skipping_ = false;
      data.remove_prefix(nl + 1);
    }
  }

  const std::string path_;
  PipeTotals* totals_;
  int fd_ = -1;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  off_t offset_ = 0;
  bool eof_ = false;
  std::string partial_;    // a line not yet ended
  bool skipping_ = false;  // inside a line too long to send
};

int Pipe(const Server& server, const std::vector<std::string>& files) {
  if (files.empty()) return UsageError("pipe needs FILE... ('-' for stdin)");
  const bool follow = absl::GetFlag(FLAGS_follow);
  const int batch_lines = absl::GetFlag(FLAGS_batch_lines);
  if (batch_lines < 1) return UsageError("--batch_lines must be at least 1");
  std::string format = absl::GetFlag(FLAGS_format);
  if (format.empty()) return UsageError("--format must not be empty");
  PipeTotals totals;
  PipeBatcher batch(server, format, absl::GetFlag(FLAGS_prefix),
                    static_cast<size_t>(batch_lines), follow, &totals);

  std::vector<std::unique_ptr<LogSource>> sources;
  for (const std::string& f : files) {
    if (f == "-" && std::count(files.begin(), files.end(), "-") > 1) {
      return UsageError("'-' (stdin) may be given once");
    }
    sources.push_back(std::make_unique<LogSource>(f, &totals));
    // tail -F waits for a file that is not there yet; a replay cannot.
    if (absl::Status s = sources.back()->Open(); !s.ok() && !follow) {
      return Fail(s.message());
    }
  }
  if (absl::Status s = batch.Probe(); !s.ok()) return Fail(s.message());

  struct sigaction stop = {}, old_int = {}, old_term = {};
  stop.sa_handler = OnPipeSignal;
  sigemptyset(&stop.sa_mask);  // no SA_RESTART: a signal ends a wait
  sigaction(SIGINT, &stop, &old_int);
  sigaction(SIGTERM, &stop, &old_term);

  absl::Status status;
  for (auto& src : sources) {
    status = src->Read(&batch, src->is_stdin() && follow ? kPipePollMs : -1);
    if (!status.ok() || g_pipe_stop) break;
    if (!follow) src->Flush(&batch);
  }
  while (follow && status.ok() && !g_pipe_stop) {
    batch.Send();
    if (!batch.status().ok()) break;
    bool any_file = false;
    for (auto& src : sources) {
      if (src->is_stdin()) {
        if (src->at_eof()) continue;
        status = src->Read(&batch, kPipePollMs);
      } else {
        any_file = true;
        status = src->Read(&batch);
        if (status.ok()) status = src->CheckRotation(&batch);
      }
      if (!status.ok()) break;
    }
    const bool stdin_open = std::any_of(
        sources.begin(), sources.end(),
        [](const auto& s) { return s->is_stdin() && !s->at_eof(); });
    if (!any_file && !stdin_open) break;  // stdin ended: nothing to follow
    if (any_file && !stdin_open && !g_pipe_stop) {
      struct timespec ts = {0, kPipePollMs * 1000000L};
      nanosleep(&ts, nullptr);  // a signal cuts it short
    }
  }
  if (follow) {
    // Stopping: what was read goes out, a last unended line too.
    for (auto& src : sources) {
      if (status.ok() && batch.status().ok()) status = src->Read(&batch);
      src->Flush(&batch);
    }
  }
  batch.Send();
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  if (status.ok()) status = batch.status();
  if (!status.ok()) {
    std::cout << "sent " << totals.read << " lines before the error"
              << std::endl;
    return Fail(status.message());
  }
  std::cout << "sent " << totals.read << (totals.read == 1 ? " line" : " lines")
            << " in " << totals.batches
            << (totals.batches == 1 ? " batch" : " batches") << ": "
            << totals.counted << " counted, " << totals.skipped
            << " skipped by the server, " << totals.samples
            << " samples accepted";
  if (totals.dropped > 0) {
    std::cout << "; " << totals.dropped << " lines over " << kPipeMaxLine / 1024
              << " KiB not sent";
  }
  std::cout << std::endl;
  if (totals.counted == 0 && totals.skipped > 0) {
    return Fail(absl::StrCat("no line matched --format=", format, ": ",
                             totals.first_skip));
  }
  return kOk;
}

// Applies --config before the command line is parsed, so that the command
// line wins. Lines are "flag=value" or "--flag=value"; '#' starts a comment.
absl::Status ApplyConfig(int argc, char** argv) {
  std::string path;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    absl::string_view rest = arg;
    if (!absl::ConsumePrefix(&rest, "--")) absl::ConsumePrefix(&rest, "-");
    if (absl::ConsumePrefix(&rest, "config=")) {
      path = std::string(rest);
    } else if (rest == "config" && i + 1 < argc) {
      path = argv[i + 1];
    }
  }
  if (path.empty()) return absl::OkStatus();
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    absl::string_view text = line;
    text = text.substr(0, text.find('#'));
    text = absl::StripAsciiWhitespace(text);
    if (text.empty()) continue;
    if (!absl::ConsumePrefix(&text, "--")) absl::ConsumePrefix(&text, "-");
    size_t eq = text.find('=');
    absl::string_view name = text.substr(0, eq);
    absl::string_view value =
        eq == absl::string_view::npos ? "true" : text.substr(eq + 1);
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    std::string error;
    if (flag == nullptr || name == "config") {
      error = absl::StrCat("unknown flag '", name, "'");
    } else if (!flag->ParseFrom(value, &error)) {
      error = absl::StrCat("--", name, ": ", error);
    }
    if (!error.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", number, ": ", error));
    }
  }
  return absl::OkStatus();
}

bool WantsHelp(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg == "--help" || arg == "-help" || arg == "-h") return true;
  }
  return argc > 1 && absl::string_view(argv[1]) == "help";
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "the command-line client of canopyd; see canopy --help");
  if (WantsHelp(argc, argv)) {
    std::cout << kUsage;
    return kOk;
  }
  if (absl::Status s = ApplyConfig(argc, argv); !s.ok()) {
    return Fail(s.message());
  }
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() < 2) {
    std::cerr << kUsage;
    return kUsageError;
  }
  const std::string command = positional[1];
  std::vector<std::string> args(positional.begin() + 2, positional.end());

  absl::StatusOr<HttpClient> client =
      HttpClient::FromUrl(absl::GetFlag(FLAGS_server));
  if (!client.ok()) return Fail(client.status().message());
  double timeout = absl::GetFlag(FLAGS_timeout);
  if (!(timeout > 0)) return UsageError("--timeout must be positive");
  Server server(*std::move(client), absl::GetFlag(FLAGS_token), timeout);

  if (command == "get") return Get(server, args);
  if (command == "watch") return Watch(server, args);
  if (command == "push") return Push(server, args);
  if (command == "tree") return Tree(server, args);
  if (command == "diff") return Diff(server, args);
  if (command == "rm") return Remove(server, args);
  if (command == "trend") return Trend(server, args);
  if (command == "export") return Export(server, args);
  if (command == "pipe") return Pipe(server, args);
  return UsageError(absl::StrCat("unknown command '", command, "'"));
}

}  // namespace
}  // namespace cli
}  // namespace canopy

int main(int argc, char** argv) { return canopy::cli::Main(argc, argv); }
