// The on-demand collection API: the evhttp endpoint and the collections.
// The series themselves are agent/perf_series.h's.
//
// Threads: everything here runs on the API's thread (its event loop):
// requests, the collections' timers and their sampling. PerfApi::Start and
// the destructor run on the owner's thread: Start before the loop runs, the
// destructor breaks the loop and joins its thread before freeing anything.
//
// Process-wide, on purpose: evthread_use_pthreads(), called once. libevent's
// locking is set for the whole process, before the first event base that
// needs it; the destructor's event_base_loopbreak() from another thread
// relies on it to wake the loop.
#include "agent/perf_api.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <sys/queue.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "agent/disks.h"
#include "agent/perf_series.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace canopy {
namespace agent {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr absl::Duration kMaxDuration = absl::Hours(24);
constexpr absl::Duration kMinInterval = absl::Milliseconds(100);
constexpr int64_t kMaxSamples = 86400;
constexpr absl::Duration kKeepFinished = absl::Hours(1);

// A seconds figure: "2", "0.5" or a duration ("2s", "500ms").
bool ParseSeconds(const char* v, absl::Duration* out) {
  if (v == nullptr) return false;
  double s;
  if (absl::SimpleAtod(v, &s)) {
    if (!std::isfinite(s)) return false;
    *out = absl::Seconds(s);
    return true;
  }
  return absl::ParseDuration(v, out);
}

void Reply(evhttp_request* req, int code, const std::string& json) {
  evkeyvalq* h = evhttp_request_get_output_headers(req);
  evhttp_add_header(h, "Content-Type", "application/json");
  evhttp_add_header(h, "Cache-Control", "no-store");
  evbuffer* b = evbuffer_new();
  evbuffer_add(b, json.data(), json.size());
  evbuffer_add(b, "\n", 1);
  evhttp_send_reply(req, code, code == 200 ? "OK" : "Not Found", b);
  evbuffer_free(b);
}

std::string Failed(absl::string_view reason) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("result");
  w.String("failed");
  w.Key("reason");
  w.String(reason.data(), static_cast<rapidjson::SizeType>(reason.size()));
  w.EndObject();
  return sb.GetString();
}

}  // namespace

// One collection: its series, sampled by a timer on the API's loop.
struct Collection {
  Collection(ErrorLog* log, const std::string& server_name)
      : sys(log),
        proc(server_name.empty()
                 ? nullptr
                 : std::make_unique<ProcessSeries>(log, server_name)) {}
  ~Collection() {
    if (timer) event_free(timer);
  }
  absl::Time finished = absl::InfiniteFuture();
  int64_t want = 0;  // samples
  SystemSeries sys;
  std::unique_ptr<ProcessSeries> proc;  // null without server=
  std::vector<PerfSample> sys_samples, proc_samples;
  event* timer = nullptr;
};

struct PerfApi::State {
  explicit State(ErrorLog* log) : log(log), disks(log, absl::Seconds(1)) {}
  event_base* base = nullptr;
  ErrorLog* log;
  DiskCollector disks;
  std::map<std::string, std::unique_ptr<Collection>> collections;
};

namespace {

void OnTick(evutil_socket_t, short, void* arg) {
  Collection* c = static_cast<Collection*>(arg);
  absl::Time now = absl::Now();
  PerfSample s;
  if (c->sys.Sample(now, &s)) c->sys_samples.push_back(std::move(s));
  if (c->proc) {
    PerfSample p;
    uint64_t total = c->sys.collector().mem_total();
    if (c->proc->Sample(now, total, &p)) c->proc_samples.push_back(p);
  }
  if (static_cast<int64_t>(c->sys_samples.size()) >= c->want) {
    event_del(c->timer);
    c->finished = now;
  }
}

std::string StartCollecting(PerfApi::State* st, const evkeyvalq* q) {
  const char* hash = evhttp_find_header(q, "hash");
  const char* duration = evhttp_find_header(q, "duration");
  const char* interval = evhttp_find_header(q, "interval");
  const char* server = evhttp_find_header(q, "server");
  for (auto [name, v] : {std::pair<const char*, const char*>{"hash", hash},
                         {"duration", duration},
                         {"interval", interval}}) {
    if (v == nullptr || *v == 0) return Failed(absl::StrCat("missing ", name));
  }
  if (std::strlen(hash) > 256) return Failed("hash longer than 256 bytes");
  absl::Duration d, i;
  if (!ParseSeconds(duration, &d) || d <= absl::ZeroDuration() ||
      d > kMaxDuration) {
    return Failed("duration must be seconds, above 0 and at most 86400");
  }
  if (!ParseSeconds(interval, &i) || i < kMinInterval || i > d) {
    return Failed(
        "interval must be seconds, at least 0.1 and at most the "
        "duration");
  }
  int64_t want =
      static_cast<int64_t>(std::floor(absl::FDivDuration(d, i) + 1e-9));
  if (want > kMaxSamples) {
    return Failed(
        absl::StrCat("duration / interval is over ", kMaxSamples, " samples"));
  }
  absl::Time now = absl::Now();
  for (auto it = st->collections.begin(); it != st->collections.end();) {
    if (now - it->second->finished > kKeepFinished) {
      it = st->collections.erase(it);
    } else {
      ++it;
    }
  }
  if (st->collections.count(hash)) {
    return Failed(absl::StrCat("hash ", hash, " is already collecting"));
  }
  if (st->collections.size() >= static_cast<size_t>(kMaxCollections)) {
    return Failed(absl::StrCat("too many collections (at most ",
                               kMaxCollections, "): stop one first"));
  }
  auto c = std::make_unique<Collection>(
      st->log, server != nullptr ? std::string(server) : std::string());
  c->want = want;
  PerfSample primer;  // the first readings only prime the counters
  c->sys.Sample(now, &primer);
  if (c->proc) c->proc->Sample(now, 0, &primer);
  c->timer = event_new(st->base, -1, EV_PERSIST, OnTick, c.get());
  timeval tv = absl::ToTimeval(i);
  event_add(c->timer, &tv);
  st->collections[hash] = std::move(c);
  return R"({"result":"succeeded"})";
}

std::string StopCollecting(PerfApi::State* st, const evkeyvalq* q) {
  const char* hash = evhttp_find_header(q, "hash");
  if (hash == nullptr || *hash == 0) return Failed("missing hash");
  auto it = st->collections.find(hash);
  if (it == st->collections.end()) {
    return Failed(absl::StrCat("unknown hash ", hash));
  }
  std::unique_ptr<Collection> c = std::move(it->second);
  st->collections.erase(it);
  return SucceededAnswer(c->sys, &st->disks, c->sys_samples,
                         c->proc ? &c->proc_samples : nullptr);
}

std::string RealTime(PerfApi::State* st) {
  SystemSeries s(st->log);
  PerfSample one;
  s.Sample(absl::Now(), &one);
  usleep(100 * 1000);  // cpu and IO over 100 ms
  std::vector<PerfSample> samples;
  if (s.Sample(absl::Now(), &one)) samples.push_back(one);
  return SucceededAnswer(s, &st->disks, samples, nullptr);
}

void Handle(evhttp_request* req, void* arg) {
  PerfApi::State* st = static_cast<PerfApi::State*>(arg);
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* path = uri ? evhttp_uri_get_path(uri) : nullptr;
  const char* query = uri ? evhttp_uri_get_query(uri) : nullptr;
  std::string p = path ? path : "";
  evkeyvalq q;
  TAILQ_INIT(&q);
  if (query != nullptr && evhttp_parse_query_str(query, &q) != 0) {
    evhttp_clear_headers(&q);
    Reply(req, 200, Failed("malformed query"));
    return;
  }
  std::string body;
  int code = 200;
  if (p == "/performance/start_collecting") {
    body = StartCollecting(st, &q);
  } else if (p == "/performance/stop_collecting") {
    body = StopCollecting(st, &q);
  } else if (p == "/performance/real_time") {
    body = RealTime(st);
  } else {
    code = 404;
    body = Failed(absl::StrCat("no such path: ", p));
  }
  evhttp_clear_headers(&q);
  Reply(req, code, body);
}

bool SplitListen(absl::string_view listen, std::string* host, int* port) {
  size_t colon = listen.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  absl::string_view h = listen.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
  }
  *host = std::string(h);
  return absl::SimpleAtoi(listen.substr(colon + 1), port) && *port > 0 &&
         *port < 65536;
}

}  // namespace

absl::Status ValidateListen(absl::string_view listen) {
  std::string host;
  int port;
  if (!SplitListen(listen, &host, &port)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen=", listen, ": expected HOST:PORT (127.0.0.1:7576)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<PerfApi>> PerfApi::Start(
    const std::string& listen, ErrorLog* log) {
  std::string host;
  int port;
  if (!SplitListen(listen, &host, &port)) return ValidateListen(listen);
  static const int threads = evthread_use_pthreads();
  (void)threads;
  std::unique_ptr<PerfApi> api(new PerfApi);
  api->base_ = event_base_new();
  api->http_ = evhttp_new(api->base_);
  if (api->base_ == nullptr || api->http_ == nullptr) {
    return absl::InternalError("--listen: cannot create the event loop");
  }
  if (evhttp_bind_socket_with_handle(api->http_, host.c_str(),
                                     static_cast<uint16_t>(port)) == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "--listen=", listen, ": cannot listen: ", strerror(errno)));
  }
  api->state_ = std::make_unique<State>(log);
  api->state_->base = api->base_;
  evhttp_set_allowed_methods(api->http_, EVHTTP_REQ_GET);
  evhttp_set_timeout(api->http_, 30);
  evhttp_set_gencb(api->http_, Handle, api->state_.get());
  event_base* base = api->base_;
  api->thread_ = std::thread([base] { event_base_dispatch(base); });
  return api;
}

PerfApi::~PerfApi() {
  if (thread_.joinable()) {
    event_base_loopbreak(base_);
    thread_.join();
  }
  state_.reset();
  if (http_) evhttp_free(http_);
  if (base_) event_base_free(base_);
}

}  // namespace agent
}  // namespace canopy
