// A seeded access-log generator for the feed tests: writes combined, nginx
// (a log_format with times and $host) or Squid lines and keeps the exact
// truth of what the pipes should count from them.
//
//   canopy::testing::LogGenerator gen({.seed = 7, .format = "nginx"});
//   std::string log = gen.Lines(10000);
//   const canopy::testing::LogTruth& t = gen.truth();
//   // t.hits, t.bytes, t.status[404], t.browsers["Chrome,120"],
//   // t.domains["shop.example"].visitors.size(), t.UrlKeys() ...
//
// Agents come from a fixed list of real user-agent strings whose
// ua-parser families (uap-core) are known. Paths: a few hot paths, each
// written twice first (so that the url pipe admits each at its second hit:
// its key then counts all its hits but the first), then hot paths for
// `hot_fraction` of the lines and one-off paths (never admitted) for the
// rest. Header-only, deterministic for a seed.
#ifndef CANOPY_TESTS_PIPES_LOG_GEN_H_
#define CANOPY_TESTS_PIPES_LOG_GEN_H_

#include <cstdint>
#include <ctime>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace canopy {
namespace testing {

struct KnownAgent {
  const char* ua;
  const char* browser;  // the key segments under <p>,browser
  const char* major;
  const char* os;  // under <p>,os
};

inline const std::vector<KnownAgent>& KnownAgents() {
  static const auto* agents = new std::vector<KnownAgent>{
      {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
       "like Gecko) Chrome/120.0.0.0 Safari/537.36",
       "Chrome", "120", "Windows"},
      {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) "
       "Gecko/20100101 Firefox/121.0",
       "Firefox", "121", "Mac OS X"},
      {"Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)", "IE", "7",
       "Windows"},
      {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
       "(KHTML, like Gecko) Version/17.1 Safari/605.1.15",
       "Safari", "17", "Mac OS X"},
      {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) "
       "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 "
       "Safari/604.1",
       "Mobile Safari", "17", "iOS"},
      {"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like "
       "Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
       "Chrome Mobile", "120", "Android"},
      {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
       "like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
       "Edge", "120", "Windows"},
      {"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:109.0) Gecko/20100101 "
       "Firefox/115.0",
       "Firefox", "115", "Ubuntu"},
      {"curl/7.88.1", "curl", "7", "other"},
      {"completely unknown agent", "other", "other", "other"},
  };
  return *agents;
}

struct DomainTruth {
  size_t hits = 0;
  int64_t bytes = 0;
  std::set<std::string> visitors;
};

struct LogTruth {
  size_t lines = 0;  // good lines written
  size_t hits = 0;
  int64_t bytes = 0;
  size_t errors = 0;         // 5xx
  size_t client_errors = 0;  // 4xx
  std::map<int, size_t> status;
  std::map<std::string, size_t> browsers;  // "Chrome,120"
  std::map<std::string, size_t> os;        // "Windows"
  std::map<std::string, DomainTruth> domains;
  std::map<std::string, size_t> hot;  // hot path -> hits
  size_t cold = 0;                    // hits on one-off paths
  size_t timed = 0;                   // lines with a request time
  size_t posts = 0;  // POST requests (tests/pipes/plugin_example.c counts)

  // What <p>,url,... should hold: each hot path all hits but its first (it
  // is admitted at its second), and "other" the rest.
  std::map<std::string, size_t> UrlKeys() const {
    std::map<std::string, size_t> out;
    size_t keyed = 0;
    for (const auto& [path, n] : hot) {
      if (n >= 2) {
        out[path] = n - 1;
        keyed += n - 1;
      }
    }
    out["other"] = hits - keyed;
    return out;
  }
};

struct LogGenOptions {
  uint64_t seed = 1;
  // "combined", "nginx" (kNginxFormat) or "squid".
  std::string format = "combined";
  int64_t time = 1700000000;  // every line's time (epoch seconds)
  size_t hot_paths = 5;
  double hot_fraction = 0.5;
  size_t visitors = 500;  // distinct client addresses to draw from
  size_t domains = 4;     // nginx, squid: hosts to draw from
};

// The log_format of LogGenOptions::format "nginx".
inline constexpr char kNginxFormat[] =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status "
    "$body_bytes_sent \"$http_referer\" \"$http_user_agent\" $request_time "
    "$upstream_response_time $host";

class LogGenerator {
 public:
  explicit LogGenerator(LogGenOptions options)
      : options_(std::move(options)), rng_(options_.seed) {
    for (size_t i = 0; i < options_.hot_paths; ++i) {
      hot_.push_back(i == 0 ? std::string("/") : absl::StrCat("/hot/", i));
    }
    for (size_t i = 0; i < options_.domains; ++i) {
      domains_.push_back(absl::StrCat("site", i, ".example"));
    }
  }

  const LogTruth& truth() const { return truth_; }
  const LogGenOptions& options() const { return options_; }

  // The format string to give canopy ("combined", kNginxFormat, "squid").
  std::string FormatArg() const {
    return options_.format == "nginx" ? std::string(kNginxFormat)
                                      : options_.format;
  }

  // One good line (no newline), counted in the truth.
  std::string Line() {
    const size_t n = truth_.lines++;
    std::string path;
    if (n < 2 * hot_.size()) {
      path = hot_[n % hot_.size()];
    } else if (!hot_.empty() && Uniform() < options_.hot_fraction) {
      path = hot_[rng_() % hot_.size()];
    } else {
      path = absl::StrCat("/item/", options_.seed, "/", n);
    }
    if (path.rfind("/item/", 0) == 0) {
      ++truth_.cold;
    } else {
      ++truth_.hot[path];
    }
    static const int kStatus[] = {200, 200, 200, 200, 200, 200, 304,
                                  301, 404, 403, 500, 502, 503};
    const int status = kStatus[rng_() % (sizeof(kStatus) / sizeof(int))];
    const int64_t bytes =
        status == 304 ? 0 : static_cast<int64_t>(rng_() % 50000);
    const std::string ip =
        absl::StrCat("10.", rng_() % options_.visitors / 256, ".",
                     rng_() % options_.visitors % 256, ".7");
    const KnownAgent& agent = KnownAgents()[rng_() % KnownAgents().size()];
    const std::string& domain = domains_[rng_() % domains_.size()];
    const double request_time = static_cast<double>(rng_() % 2000) / 1000;
    const char* method = rng_() % 10 == 0 ? "POST" : "GET";
    const std::string query = rng_() % 3 == 0 ? "?q=1&x=%20y" : "";

    ++truth_.hits;
    if (method[0] == 'P') ++truth_.posts;
    truth_.bytes += bytes;
    ++truth_.status[status];
    if (status >= 500) ++truth_.errors;
    if (status >= 400 && status < 500) ++truth_.client_errors;
    const bool has_agent = options_.format != "squid";
    if (has_agent) {
      ++truth_.browsers[absl::StrCat(agent.browser, ",", agent.major)];
      ++truth_.os[agent.os];
    }
    const bool has_domain = options_.format != "combined";
    if (has_domain) {
      DomainTruth& d = truth_.domains[domain];
      ++d.hits;
      d.bytes += bytes;
      d.visitors.insert(ip);
    }
    if (options_.format != "combined") ++truth_.timed;

    if (options_.format == "squid") {
      return absl::StrFormat(
          "%d.%03d %6d %s TCP_MISS/%d %d %s http://%s%s%s - HIER_DIRECT/%s "
          "text/html",
          options_.time, static_cast<int>(rng_() % 1000),
          static_cast<int>(request_time * 1000), ip, status, bytes, method,
          domain, path, query, "192.0.2.1");
    }
    std::string line = absl::StrCat(
        ip, " - ", rng_() % 5 == 0 ? "alice" : "-", " [", TimeLocal(), "] \"",
        method, " ", path, query, " HTTP/1.1\" ", status, " ", bytes, " \"",
        rng_() % 2 ? "https://ref.example/" : "-", "\" \"", agent.ua, "\"");
    if (options_.format == "nginx") {
      absl::StrAppend(&line, " ", absl::StrFormat("%.3f", request_time), " ",
                      rng_() % 4 == 0 ? "-" : "0.004, 0.001", " ", domain);
    }
    return line;
  }

  // `n` good lines, each ending in a newline.
  std::string Lines(size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) {
      out += Line();
      out += '\n';
    }
    return out;
  }

 private:
  double Uniform() {
    return std::uniform_real_distribution<double>(0, 1)(rng_);
  }

  // [10/Oct/2023:13:55:36 +0000]'s inside, for options_.time.
  std::string TimeLocal() const {
    static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const time_t t = static_cast<time_t>(options_.time);
    struct tm tm;
    gmtime_r(&t, &tm);
    return absl::StrFormat("%02d/%s/%04d:%02d:%02d:%02d +0000", tm.tm_mday,
                           kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
                           tm.tm_min, tm.tm_sec);
  }

  LogGenOptions options_;
  std::mt19937_64 rng_;
  std::vector<std::string> hot_;
  std::vector<std::string> domains_;
  LogTruth truth_;
};

}  // namespace testing
}  // namespace canopy

#endif  // CANOPY_TESTS_PIPES_LOG_GEN_H_
