#include "server/server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "rapidjson/document.h"
#include "server/graph.h"
#include "server/http.h"
#include "server/log.h"
#include "server/web.h"

namespace canopy {
namespace {

// The connections evhttp has handed us, for the cap and the close callback.
absl::flat_hash_set<evhttp_connection*>& KnownConnections() {
  static auto* known = new absl::flat_hash_set<evhttp_connection*>();
  return *known;
}

int BoundPort(evutil_socket_t fd) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  if (ss.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  }
  return 0;
}

size_t ResidentBytes() {
  long pages = 0, resident = 0;
  FILE* f = fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  fclose(f);
  return static_cast<size_t>(resident) * sysconf(_SC_PAGESIZE);
}

// A sample value as Prometheus reads it: integers in full, others with
// enough digits to round-trip.
std::string PromNumber(double v) {
  if (v == static_cast<double>(static_cast<int64_t>(v)) && v > -9e15 &&
      v < 9e15) {
    return absl::StrCat(static_cast<int64_t>(v));
  }
  return absl::StrFormat("%.17g", v);
}

std::string PromEscape(absl::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

Server::Server(ServerOptions options) : options_(std::move(options)) {
  Tree::Options t;
  t.step_seconds = options_.step_seconds;
  t.max_nodes = options_.max_nodes;
  t.history = options_.history;
  tree_ = std::make_unique<Tree>(t);
  stats_.start_time = time(nullptr);
}

Server::~Server() {
  // evhttp_free closes the connections, whose close callbacks tell the hub;
  // so the hub goes after it.
  if (http_) evhttp_free(http_);
  hub_.reset();
  listeners_.reset();
  if (tick_) event_free(tick_);
  if (sigterm_) event_free(sigterm_);
  if (sigint_) event_free(sigint_);
  if (base_) event_base_free(base_);
}

absl::Status Server::Start() {
  // Waiters each hold a socket: take every file descriptor we may.
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    stats_.fd_limit = rl.rlim_cur;
    // Keep room for listeners, files and a burst of short requests.
    size_t room = rl.rlim_cur > 256 ? rl.rlim_cur - 256 : rl.rlim_cur / 2;
    options_.max_waiters = std::min(options_.max_waiters, room);
    options_.max_connections = std::min(options_.max_connections, room + 128);
  }
  std::error_code ec;
  std::filesystem::create_directories(options_.data_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create --data_dir=", options_.data_dir, ": ", ec.message()));
  }

  event_config* cfg = event_config_new();
  event_config_require_features(cfg, EV_FEATURE_EARLY_CLOSE);
  // Coalesce the epoll changes of one loop turn: a delivered waiter drops its
  // close watch and gains a write event in the same turn, one epoll_ctl.
  event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
  base_ = event_base_new_with_config(cfg);
  event_config_free(cfg);
  if (base_ == nullptr) base_ = event_base_new();
  if (base_ == nullptr) return absl::InternalError("cannot create event base");
  // 0: signals; 1 (default): sockets and timers; 2: the comet flush, which
  // thus runs after every ready socket of an iteration has been served.
  event_base_priority_init(base_, 3);
  hub_ = std::make_unique<Hub>(base_, tree_.get(), &stats_, &options_);

  if (absl::Status s = RestoreSnapshot(); !s.ok()) return s;
  views_ = std::make_unique<ViewStore>(options_.data_dir + "/views.json");
  if (absl::Status s = views_->Load(); !s.ok()) return s;
  next_snapshot_ = time(nullptr) + options_.snapshot_interval;

  if (options_.history) {
    absl::StatusOr<Retention> retention = Retention::Parse(options_.retention);
    if (!retention.ok()) return retention.status();
    absl::StatusOr<std::unique_ptr<TrendStore>> store =
        TrendStore::Open(options_.data_dir + "/trend", *retention);
    if (!store.ok()) return store.status();
    trend_ = std::make_unique<TrendThread>(std::move(*store), base_);
  }

  if (options_.http != "off") {
    http_ = evhttp_new(base_);
    evhttp_set_max_body_size(http_, static_cast<ev_ssize_t>(options_.max_body));
    evhttp_set_max_headers_size(http_, 64 * 1024);
    evhttp_set_allowed_methods(http_, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                                          EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                          EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
    evhttp_set_timeout(http_, 60);
    evhttp_set_gencb(http_, &Server::OnRequest, this);
    // Our own listener, for a deep accept backlog: thousands of long-poll
    // clients reconnect at once after a restart or a fan-out.
    sockaddr_storage ss;
    socklen_t ss_len = 0;
    if (absl::Status st = ParseSocketAddress(options_.http, &ss, &ss_len);
        !st.ok()) {
      return st;
    }
    evconnlistener* listener = evconnlistener_new_bind(
        base_, nullptr, nullptr,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 4096,
        reinterpret_cast<sockaddr*>(&ss), static_cast<int>(ss_len));
    if (listener == nullptr) {
      return absl::UnavailableError(absl::StrCat(
          "cannot listen on http ", options_.http, ": ", std::strerror(errno)));
    }
    evhttp_bound_socket* bound = evhttp_bind_listener(http_, listener);
    if (bound == nullptr) {
      evconnlistener_free(listener);
      return absl::UnavailableError(
          absl::StrCat("cannot listen on http ", options_.http));
    }
    http_port_ = BoundPort(evhttp_bound_socket_get_fd(bound));
    listener_ = evhttp_bound_socket_get_listener(bound);
    // Out of file descriptors, libevent 2.1 would retry accept() in a busy
    // loop: pause accepting instead and try again shortly.
    evconnlistener_set_error_cb(listener_, &Server::OnAcceptError);
    CANOPY_LOG("canopyd listening on http://%s (port %d)", options_.http,
               http_port_);
  }

  listeners_ =
      std::make_unique<Listeners>(base_, tree_.get(), &stats_, &options_);
  if (absl::Status s = listeners_->Start(); !s.ok()) return s;
  absl::StatusOr<std::vector<ExpireRule>> expire = ParseExpire(options_.expire);
  if (!expire.ok()) return expire.status();
  expire_ = std::move(*expire);
  for (const ExpireRule& r : expire_) {
    // Sweep a few times per shortest duration, at most every second.
    int64_t every = std::max<int64_t>(1, r.seconds / 4);
    expire_interval_ =
        expire_interval_ ? std::min(expire_interval_, every) : every;
  }
  tick_ = event_new(base_, -1, EV_PERSIST, &Server::OnTick, this);
  struct timeval tick = {1, 0};
  event_add(tick_, &tick);

  sigterm_ = evsignal_new(base_, SIGTERM, &Server::OnSignal, this);
  sigint_ = evsignal_new(base_, SIGINT, &Server::OnSignal, this);
  event_priority_set(sigterm_, 0);
  event_priority_set(sigint_, 0);
  event_add(sigterm_, nullptr);
  event_add(sigint_, nullptr);
  signal(SIGPIPE, SIG_IGN);

  if (!options_.ready_file.empty()) {
    std::string tmp = options_.ready_file + ".tmp";
    {
      std::ofstream f(tmp);
      f << "http=" << http_port_ << " udp=" << listeners_->udp_port()
        << " tcp=" << listeners_->tcp_port() << "\n";
      if (!f) {
        return absl::FailedPreconditionError(
            absl::StrCat("cannot write --ready_file=", options_.ready_file));
      }
    }
    std::rename(tmp.c_str(), options_.ready_file.c_str());
  }
  return absl::OkStatus();
}

int Server::Run() {
  event_base_dispatch(base_);
  CANOPY_LOG("canopyd stopping: %d waiters released, %d leaves in the tree",
             static_cast<int>(hub_->waiters()),
             static_cast<int>(tree_->leaf_count()));
  hub_->CloseAll();
  if (trend_) {
    // A clean stop loses nothing: every open window goes to history, and
    // the trend thread writes all it holds before it ends.
    SubmitWindows(/*all=*/true);
    while (!pending_windows_.empty()) {
      if (!trend_->SubmitWindows(&pending_windows_)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
  }
  // The trend thread ends after writing everything queued (a periodic
  // snapshot among it); the last snapshot, written here, comes after.
  trend_.reset();
  WriteSnapshot(/*now_here=*/true);
  CANOPY_LOG("canopyd stopped: history flushed, tree saved");
  return 0;
}

namespace {

std::string SnapshotPath(const ServerOptions& o) {
  return o.data_dir + "/tree.snapshot";
}

// Writes `bytes` to `path` whole or not at all (temp file, fsync, rename).
absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& bytes) {
  std::string tmp = path + ".tmp";
  FILE* f = fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot write ", tmp, ": ", std::strerror(errno)));
  }
  bool ok = fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok = fflush(f) == 0 && ok;
  ok = fsync(fileno(f)) == 0 && ok;
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

void Server::WriteSnapshot(bool now_here) {
  auto bytes = std::make_shared<std::string>();
  tree_->Snapshot(bytes.get());
  std::string path = SnapshotPath(options_);
  if (now_here || !trend_) {
    if (absl::Status s = WriteFileAtomically(path, *bytes); !s.ok()) {
      CANOPY_LOG("snapshot failed: %s", std::string(s.message()));
    }
    return;
  }
  auto ok = std::make_shared<bool>(false);
  uint64_t seq = tree_->seq();
  trend_->Run(
      [bytes, path, ok](TrendStore&) {
        absl::Status s = WriteFileAtomically(path, *bytes);
        *ok = s.ok();
        if (!s.ok()) {
          static RateLimit limit;
          if (limit.Allow()) {
            CANOPY_LOG("snapshot failed: %s", std::string(s.message()));
          }
        }
      },
      [this, ok, seq] {
        if (*ok) snapshot_seq_ = seq;
      });
}

absl::Status Server::RestoreSnapshot() {
  std::string path = SnapshotPath(options_);
  FILE* f = fopen(path.c_str(), "rb");
  if (f == nullptr) return absl::OkStatus();  // a first start
  std::string bytes;
  char buf[1 << 16];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) bytes.append(buf, n);
  fclose(f);
  auto start = std::chrono::steady_clock::now();
  if (absl::Status s = tree_->Restore(bytes); !s.ok()) {
    return absl::DataLossError(
        absl::StrCat(path, ": ", s.message(),
                     " (move it away to start with an empty tree)"));
  }
  double ms = std::chrono::duration<double, std::milli>(
                  std::chrono::steady_clock::now() - start)
                  .count();
  CANOPY_LOG("restored %d leaves (seq %d) from %s in %.0f ms",
             static_cast<int>(tree_->leaf_count()),
             static_cast<int>(tree_->seq()), path, ms);
  return absl::OkStatus();
}

void Server::SubmitWindows(bool all) {
  int64_t now = time(nullptr);
  if (all) {
    tree_->CloseAllWindows(&pending_windows_);
  } else {
    tree_->CloseWindows(now, &pending_windows_);
  }
  // When the queue is full the windows stay here and go with the next tick.
  if (!pending_windows_.empty()) trend_->SubmitWindows(&pending_windows_);
}

void Server::RespondLater(evhttp_request* req,
                          std::function<Response(TrendStore&)> work) {
  evhttp_connection* evcon = evhttp_request_get_connection(req);
  uint64_t token = ++trend_token_;
  trend_waiting_[evcon] = token;
  auto response = std::make_shared<Response>();
  trend_->Run([response, work = std::move(work)](
                  TrendStore& store) { *response = work(store); },
              [this, req, evcon, token, response]() {
                auto it = trend_waiting_.find(evcon);
                if (it == trend_waiting_.end() || it->second != token) return;
                trend_waiting_.erase(it);
                Send(req, *response);
              });
}

void Server::HandleTrend(evhttp_request* req, const Request& request) {
  absl::StatusOr<TrendQuery> q = ParseTrendRequest(request, time(nullptr));
  if (!q.ok()) {
    Send(req, ErrorResponse(q.status()));
    return;
  }
  if (!trend_) {
    Send(req, ErrorResponse(absl::FailedPreconditionError(
                  "this canopyd keeps no history")));
    return;
  }
  ++trend_queries_;
  bool csv = request.Param("format") == "csv";
  RespondLater(req, [query = std::move(*q), csv](TrendStore& store) {
    absl::StatusOr<TrendResult> r = store.Query(query);
    return r.ok() ? TrendResponse(*r, csv) : ErrorResponse(r.status());
  });
}

void Server::HandleGraph(evhttp_request* req, const Request& request) {
  // /graph/<key>.svg|.png|.pdf
  std::string name = request.path.substr(sizeof("/graph/") - 1);
  GraphOptions o;
  size_t dot = name.rfind('.');
  std::string ext = dot == std::string::npos ? "" : name.substr(dot + 1);
  if (ext == "svg") {
    o.format = GraphOptions::kSvg;
  } else if (ext == "png") {
    o.format = GraphOptions::kPng;
  } else if (ext == "pdf") {
    o.format = GraphOptions::kPdf;
  } else {
    Send(req, ErrorResponse(absl::InvalidArgumentError(
                  "use /graph/<key>.svg, .png or .pdf")));
    return;
  }
  std::string key = name.substr(0, dot);
  Request as_trend = request;
  as_trend.query.erase(
      std::remove_if(as_trend.query.begin(), as_trend.query.end(),
                     [](const auto& kv) { return kv.first == "key"; }),
      as_trend.query.end());
  as_trend.query.emplace_back("key", key);
  std::string style = request.Param("style", "line");
  std::string theme = request.Param("theme", "light");
  if (style == "bar") {
    o.style = GraphOptions::kBar;
  } else if (style == "area") {
    o.style = GraphOptions::kArea;
  } else if (style != "line") {
    Send(req, ErrorResponse(absl::InvalidArgumentError(
                  "style must be line, bar or area")));
    return;
  }
  if (theme != "light" && theme != "dark") {
    Send(req, ErrorResponse(
                  absl::InvalidArgumentError("theme must be light or dark")));
    return;
  }
  o.dark = theme == "dark";
  if ((request.HasParam("width") &&
       !absl::SimpleAtoi(request.Param("width"), &o.width)) ||
      (request.HasParam("height") &&
       !absl::SimpleAtoi(request.Param("height"), &o.height)) ||
      o.width < 100 || o.width > 4000 || o.height < 60 || o.height > 4000) {
    Send(req, ErrorResponse(absl::InvalidArgumentError(
                  "width must be 100 to 4000 and height 60 to 4000 pixels")));
    return;
  }
  int64_t now = time(nullptr);
  absl::StatusOr<TrendQuery> q = ParseTrendRequest(as_trend, now);
  if (!q.ok()) {
    Send(req, ErrorResponse(q.status()));
    return;
  }
  if (!trend_) {
    Send(req, ErrorResponse(absl::FailedPreconditionError(
                  "this canopyd keeps no history")));
    return;
  }
  if (!request.HasParam("step")) {
    q->step = std::max<int64_t>(1, (q->to - q->from) / (o.width / 2));
  }
  o.from = q->from;
  o.to = q->to;
  o.title = key;
  // Markers come from the live tree, here on the loop thread.
  std::vector<GraphMarker> markers;
  HandlerContext ctx{tree_.get(), &stats_, &options_, now, nullptr};
  Request mreq;
  mreq.query = {{"key", key},
                {"from", absl::StrCat(q->from)},
                {"to", absl::StrCat(q->to)}};
  if (absl::StatusOr<Response> m = HandleMarkers(mreq, ctx); m.ok()) {
    rapidjson::Document d;
    d.Parse(m->body.c_str());
    if (d.IsObject() && d.HasMember("markers")) {
      for (const auto& mk : d["markers"].GetArray()) {
        markers.push_back(
            GraphMarker{mk["time"].GetInt64(), mk["text"].GetString()});
      }
    }
  }
  ++trend_queries_;
  RespondLater(req, [query = std::move(*q), o, markers](TrendStore& store) {
    absl::StatusOr<TrendResult> r = store.Query(query);
    if (!r.ok()) return ErrorResponse(r.status());
    absl::StatusOr<std::string> bytes = RenderGraph(*r, markers, o);
    if (!bytes.ok()) return ErrorResponse(bytes.status());
    Response resp;
    resp.content_type = GraphContentType(o.format);
    resp.body = std::move(*bytes);
    return resp;
  });
}

absl::StatusOr<Response> Server::HandleViews(const Request& request) {
  std::string rest = request.path.substr(sizeof("/api/views") - 1);
  if (!rest.empty() && rest[0] == '/') rest.erase(0, 1);
  Response r;
  if (rest.empty()) {
    if (request.method != "GET") {
      return absl::UnimplementedError(
          "use GET /api/views, or PUT and "
          "DELETE /api/views/<name>");
    }
    r.body = views_->AllJson();
    return r;
  }
  if (request.method == "GET") {
    const View* v = views_->Find(rest);
    if (v == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("no view \"", rest.substr(0, 64), "\""));
    }
    r.body = ViewStore::ToJson(*v);
    return r;
  }
  if (request.method == "PUT" || request.method == "POST") {
    if (absl::Status s = views_->Put(rest, request.body); !s.ok()) return s;
    r.body = absl::StrCat("{\"saved\":\"", rest, "\"}");
    return r;
  }
  if (request.method == "DELETE") {
    if (absl::Status s = views_->Delete(rest); !s.ok()) return s;
    r.body = absl::StrCat("{\"deleted\":\"", rest, "\"}");
    return r;
  }
  return absl::UnimplementedError("use GET, PUT or DELETE on a view");
}

absl::StatusOr<Response> Server::StaticFile(const std::string& path,
                                            bool* matched) {
  *matched = true;
  std::string file;
  if (path == "/realtime/" || path == "/realtime" ||
      absl::StartsWith(path, "/realtime/view/")) {
    file = "realtime.html";
  } else if (path == "/trend/view/" || path == "/trend/view") {
    file = "trend.html";
  } else if (path == "/setting/view" || path == "/setting/view/") {
    file = "settings.html";
  } else if (path == "/diff/" || path == "/diff") {
    file = "diff.html";
  } else if (absl::StartsWith(path, "/assets/")) {
    file = path.substr(1);
    if (file.find("..") != std::string::npos ||
        file.find("//") != std::string::npos) {
      return absl::NotFoundError("no such asset");
    }
  } else {
    *matched = false;
    return Response();
  }
  Response r;
  r.headers.emplace_back("Cache-Control", "no-cache");
  std::string full =
      options_.web_dir.empty() ? "" : options_.web_dir + "/" + file;
  std::ifstream f(full, std::ios::binary);
  if (full.empty() || !f) {
    // Without the built pages, the live page built into the binary.
    if (const WebAsset* asset = FindWebAsset(
            path.substr(0, 10) == "/realtime/" ? "/realtime/" : path)) {
      r.content_type = std::string(asset->content_type);
      r.body = std::string(asset->body);
      return r;
    }
    return absl::NotFoundError(
        absl::StrCat("no such page: ", path.substr(0, 100)));
  }
  std::stringstream ss;
  ss << f.rdbuf();
  r.body = ss.str();
  absl::string_view ext = absl::string_view(file).substr(file.rfind('.') + 1);
  r.content_type = ext == "html" ? "text/html; charset=utf-8"
                   : ext == "js" || ext == "mjs"
                       ? "text/javascript; charset=utf-8"
                   : ext == "css"                  ? "text/css; charset=utf-8"
                   : ext == "svg"                  ? "image/svg+xml"
                   : ext == "png"                  ? "image/png"
                   : ext == "json" || ext == "map" ? "application/json"
                                                   : "application/octet-stream";
  return r;
}

void Server::OnSignal(int sig, short, void* arg) {
  Server* self = static_cast<Server*>(arg);
  CANOPY_LOG("canopyd got %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  event_base_loopexit(self->base_, nullptr);
}

void Server::OnAcceptError(evconnlistener* listener, void* arg) {
  // The listener's arg is evhttp's; find ourselves through the base.
  (void)arg;
  int err = EVUTIL_SOCKET_ERROR();
  static RateLimit limit;
  if (limit.Allow()) {
    CANOPY_LOG("accept failed: %s; pausing accepts for 100 ms",
               evutil_socket_error_to_string(err));
  }
  evconnlistener_disable(listener);
  event_base* base = evconnlistener_get_base(listener);
  struct timeval tv = {0, 100 * 1000};
  event_base_once(
      base, -1, EV_TIMEOUT,
      [](evutil_socket_t, short, void* l) {
        evconnlistener_enable(static_cast<evconnlistener*>(l));
      },
      listener, &tv);
}

void Server::OnTick(int, short, void* arg) {
  static_cast<Server*>(arg)->Tick();
}

void Server::Tick() {
  int64_t now = time(nullptr);
  if (trend_) SubmitWindows(/*all=*/false);
  if (options_.snapshot_interval > 0 && now >= next_snapshot_) {
    next_snapshot_ = now + options_.snapshot_interval;
    WriteSnapshot(/*now_here=*/false);
  }
  if (!expire_.empty() && now >= next_expire_) {
    next_expire_ = now + expire_interval_;
    for (const ExpireRule& r : expire_) {
      stats_.expired += tree_->Expire(r.pattern, now - r.seconds);
    }
  }
  // The server's own figures, once per window, as leaves of the tree.
  int64_t window = now / options_.step_seconds;
  if (window == self_window_) return;
  self_window_ = window;
  tree_->BeginChange();
  auto put = [&](std::initializer_list<absl::string_view> key, double v) {
    LineSample s;
    s.action = Action::kLast;
    s.value = v;
    std::vector<absl::string_view> segs = {"canopy", "self"};
    segs.insert(segs.end(), key.begin(), key.end());
    (void)tree_->AddSample(segs, s, now);
  };
  for (const char* proto : {"http", "udp", "tcp"}) {
    auto it = stats_.accepted.find(proto);
    put({"ingest", proto, "accepted"},
        it == stats_.accepted.end() ? 0 : static_cast<double>(it->second));
    auto rej = stats_.rejected.find(proto);
    if (rej != stats_.rejected.end()) {
      for (const auto& [reason, n] : rej->second) {
        put({"ingest", proto, "rejected", reason}, static_cast<double>(n));
      }
    }
  }
  put({"ingest", "udp", "kernel_drops"},
      static_cast<double>(listeners_->kernel_drops()));
  put({"tree", "nodes"}, static_cast<double>(tree_->node_count()));
  put({"tree", "leaves"}, static_cast<double>(tree_->leaf_count()));
  put({"comet", "waiters"}, static_cast<double>(hub_->waiters()));
  put({"memory", "rss"}, static_cast<double>(ResidentBytes()));
}

void Server::OnConnectionClosed(evhttp_connection* evcon, void* arg) {
  Server* self = static_cast<Server*>(arg);
  self->trend_waiting_.erase(evcon);
  if (KnownConnections().erase(evcon) > 0) --self->connections_;
  self->hub_->ConnectionClosed(evcon);
}

void Server::OnRequest(evhttp_request* req, void* arg) {
  static_cast<Server*>(arg)->Handle(req);
}

absl::Status Server::Authorize(evhttp_request* req, const Request& request,
                               bool write) const {
  const std::string& token = write ? options_.write_token : options_.read_token;
  if (token.empty()) return absl::OkStatus();
  std::string given = request.Param("token");
  std::string auth = RequestHeader(req, "Authorization");
  if (absl::StartsWith(auth, "Bearer ")) given = auth.substr(7);
  if (given.empty()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "this server needs a ", write ? "write" : "read",
        " token: send Authorization: Bearer <token> or ?token=<token>"));
  }
  // Compare in constant time so the token cannot be guessed byte by byte.
  unsigned char diff = given.size() != token.size();
  for (size_t i = 0; i < given.size() && i < token.size(); ++i) {
    diff |= static_cast<unsigned char>(given[i] ^ token[i]);
  }
  if (diff != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("wrong ", write ? "write" : "read", " token"));
  }
  return absl::OkStatus();
}

void Server::Send(evhttp_request* req, const Response& response) {
  ++stats_.http_by_status[absl::StrCat(response.status)];
  SendResponse(req, response);
}

void Server::Handle(evhttp_request* req) {
  ++stats_.http_requests;
  evhttp_connection* evcon = evhttp_request_get_connection(req);
  if (KnownConnections().insert(evcon).second) {
    ++connections_;
    evhttp_connection_set_closecb(evcon, &Server::OnConnectionClosed, this);
    if (connections_ > options_.max_connections) {
      ++stats_.connections_refused;
      Response r = ErrorResponse(
          absl::UnavailableError("too many connections; try again later"));
      r.headers.emplace_back("Connection", "close");
      Send(req, r);
      return;
    }
  }
  absl::StatusOr<Request> parsed = ToRequest(req);
  if (!parsed.ok()) {
    Send(req, ErrorResponse(parsed.status()));
    return;
  }
  const Request& request = *parsed;
  const std::string& path = request.path;
  const std::string& method = request.method;
  HandlerContext ctx{tree_.get(),
                     &stats_,
                     &options_,
                     static_cast<int64_t>(time(nullptr)),
                     &listeners_->ingest(),
                     &access_logs_};

  if (path == "/healthz") {
    Response r;
    r.content_type = "text/plain";
    r.body = "OK\n";
    Send(req, r);
    return;
  }
  bool write = method == "POST" || method == "PUT" || method == "DELETE";
  if (absl::Status s = Authorize(req, request, write); !s.ok()) {
    ++stats_.rejected["http"]["auth"];
    Send(req, ErrorResponse(s));
    return;
  }

  absl::StatusOr<Response> result;
  auto only = [&](const char* allowed) -> bool {
    if (method == allowed || (method == "HEAD" && !strcmp(allowed, "GET"))) {
      return true;
    }
    result = absl::UnimplementedError(
        absl::StrCat(method, " is not allowed on ", path.substr(0, 100),
                     " (use ", allowed, ")"));
    return false;
  };

  if (path == "/push" || path == "/push/") {
    if (only("POST")) result = HandlePush(request, ctx);
  } else if (path == "/get" || path == "/get/") {
    if (only("GET")) result = HandleGet(request, ctx);
  } else if (path == "/pull" || path == "/pull/" || path == "/stream" ||
             path == "/stream/") {
    if (only("GET")) {
      absl::StatusOr<std::vector<Pattern>> patterns = PatternsOf(request);
      bool stream = absl::StartsWith(path, "/stream");
      std::string since_text = request.Param("since");
      if (stream && since_text.empty()) {
        since_text = RequestHeader(req, "Last-Event-ID");
      }
      uint64_t since = 0;
      int timeout = 30;
      if (!patterns.ok()) {
        result = patterns.status();
      } else if (!since_text.empty() && !absl::SimpleAtoi(since_text, &since)) {
        result = absl::InvalidArgumentError(
            "since must be a seq returned by the server");
      } else if (request.HasParam("timeout") &&
                 (!absl::SimpleAtoi(request.Param("timeout"), &timeout) ||
                  timeout < 0 || timeout > options_.max_pull_timeout)) {
        result = absl::InvalidArgumentError(absl::StrCat(
            "timeout must be 0 to ", options_.max_pull_timeout, " seconds"));
      } else if (hub_->Full()) {
        ++stats_.waiters_refused;
        result = absl::UnavailableError(absl::StrCat(
            "too many waiters (", hub_->waiters(), "); try again later"));
      } else if (stream) {
        hub_->Stream(req, std::move(*patterns), !since_text.empty(), since);
        return;
      } else {
        hub_->Pull(req, std::move(*patterns), !since_text.empty(), since,
                   timeout);
        return;
      }
    }
  } else if (absl::StartsWith(path, "/api/q/")) {
    if (method == "DELETE") {
      result = HandleDelete(request, ctx);
    } else if (only("GET")) {
      result = HandleQuery(request, ctx);
    }
  } else if (absl::StartsWith(path, "/diff/") && path != "/diff/") {
    if (only("GET")) result = HandleDiff(request, ctx);
  } else if (path == "/api/views" || absl::StartsWith(path, "/api/views/")) {
    result = HandleViews(request);
  } else if (absl::StartsWith(path, "/graph/")) {
    if (only("GET")) {
      HandleGraph(req, request);
      return;
    }
  } else if (path == "/trend" || path == "/trend/") {
    if (only("GET")) {
      HandleTrend(req, request);
      return;
    }
  } else if (path == "/api/markers") {
    if (only("GET")) result = HandleMarkers(request, ctx);
  } else if (path == "/metrics") {
    if (only("GET")) {
      Response r;
      r.content_type = "text/plain; version=0.0.4";
      r.body = MetricsText(request);
      result = r;
    }
  } else if (path == "/") {
    Response r;
    r.status = 302;
    r.content_type = "text/plain";
    r.body = "/realtime/\n";
    r.headers.emplace_back("Location", "/realtime/");
    result = r;
  } else if (bool matched = false;
             method == "GET" &&
             (result = StaticFile(path, &matched), matched)) {
    // a page or an asset
  } else {
    result = absl::NotFoundError(
        absl::StrCat("no such endpoint: ", path.substr(0, 100)));
  }
  if (!result.ok()) {
    if (result.status().code() == absl::StatusCode::kInvalidArgument &&
        method == "POST") {
      // Counted by the handler when it was a parse error.
    }
    Send(req, ErrorResponse(result.status()));
    return;
  }
  Send(req, *result);
}

std::string Server::MetricsText(const Request& request) {
  std::string out;
  auto gauge = [&](const char* name, const char* help, double v) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name,
                    " gauge\n", name, " ", PromNumber(v), "\n");
  };
  auto counter = [&](const char* name, const char* help, double v) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name,
                    " counter\n", name, " ", PromNumber(v), "\n");
  };
  gauge("canopy_nodes", "Nodes in the live tree.",
        static_cast<double>(tree_->node_count()));
  gauge("canopy_leaves", "Nodes that hold a value.",
        static_cast<double>(tree_->leaf_count()));
  gauge("canopy_seq", "The tree's change counter.",
        static_cast<double>(tree_->seq()));
  gauge("canopy_snapshot_seq", "The seq of the last snapshot on disk.",
        static_cast<double>(snapshot_seq_));
  gauge("canopy_interned_bytes", "Bytes of interned segment names.",
        static_cast<double>(tree_->interned_bytes()));
  gauge("canopy_waiters", "Parked /pull and /stream requests.",
        static_cast<double>(hub_->waiters()));
  gauge("canopy_streams", "Open /stream connections.",
        static_cast<double>(hub_->streams()));
  gauge("canopy_watch_lists", "Nodes watched by waiters.",
        static_cast<double>(hub_->watch_lists()));
  gauge("canopy_connections", "Open HTTP connections.",
        static_cast<double>(connections_));
  gauge("canopy_max_waiters", "Waiters allowed before 503.",
        static_cast<double>(options_.max_waiters));
  gauge("canopy_fd_limit", "The process's open file limit.",
        static_cast<double>(stats_.fd_limit));
  gauge("canopy_resident_memory_bytes", "Resident set size.",
        static_cast<double>(ResidentBytes()));
  gauge("canopy_uptime_seconds", "Seconds since start.",
        static_cast<double>(time(nullptr) - stats_.start_time));
  gauge("canopy_udp_receive_buffer_bytes", "SO_RCVBUF of the UDP socket.",
        static_cast<double>(listeners_->udp_rcvbuf()));
  gauge("canopy_tcp_connections", "Open TCP ingest connections.",
        static_cast<double>(listeners_->tcp_connections()));
  counter("canopy_udp_kernel_drops_total",
          "Datagrams the kernel dropped before canopyd read them "
          "(the socket's drop count, SO_MEMINFO).",
          static_cast<double>(listeners_->kernel_drops()));
  counter("canopy_udp_datagrams_total", "UDP datagrams read.",
          static_cast<double>(stats_.udp_datagrams));
  counter("canopy_expired_leaves_total", "Leaves removed by --expire.",
          static_cast<double>(stats_.expired));
  if (trend_) {
    gauge("canopy_trend_series", "Series in the trend store.",
          static_cast<double>(trend_->series()));
    gauge("canopy_trend_queued_batches", "Window batches waiting for disk.",
          static_cast<double>(trend_->queued_batches()));
    gauge("canopy_trend_pending_windows",
          "Closed windows the trend queue could not take yet.",
          static_cast<double>(pending_windows_.size()));
    gauge("canopy_trend_flush_lag_seconds",
          "Age of the oldest batch waiting for disk.", trend_->flush_lag());
    gauge("canopy_trend_disk_bytes", "Approximate bytes of stored windows.",
          static_cast<double>(trend_->disk_bytes()));
    gauge("canopy_open_windows", "Leaves with a window not yet in history.",
          static_cast<double>(tree_->open_windows()));
    counter("canopy_trend_windows_written_total", "Windows written to history.",
            static_cast<double>(trend_->windows_written()));
    counter("canopy_trend_write_errors_total",
            "Failed history writes (retried).",
            static_cast<double>(trend_->write_errors()));
    counter("canopy_trend_retention_deleted_total",
            "Windows deleted past retention.",
            static_cast<double>(trend_->retention_deleted()));
    counter("canopy_trend_queries_total", "Trend queries.",
            static_cast<double>(trend_queries_));
  }
  counter("canopy_pushes_total", "Pushes applied.",
          static_cast<double>(stats_.pushes));
  counter("canopy_pull_replies_total", "Long-poll replies with changes.",
          static_cast<double>(stats_.pull_replies));
  counter("canopy_pull_timeouts_total", "Long-polls that timed out.",
          static_cast<double>(stats_.pull_timeouts));
  counter("canopy_waiters_gone_total", "Waiters whose client hung up.",
          static_cast<double>(stats_.waiters_gone));
  counter("canopy_waiters_refused_total", "Waiters refused with 503.",
          static_cast<double>(stats_.waiters_refused));
  counter("canopy_stream_events_total", "Server-sent events written.",
          static_cast<double>(stats_.stream_events));
  counter("canopy_connections_refused_total", "Connections refused (cap).",
          static_cast<double>(stats_.connections_refused));

  absl::StrAppend(&out,
                  "# HELP canopy_http_requests_total HTTP replies by code.\n"
                  "# TYPE canopy_http_requests_total counter\n");
  for (const auto& [code, n] : stats_.http_by_status) {
    absl::StrAppend(&out, "canopy_http_requests_total{code=\"", code, "\"} ", n,
                    "\n");
  }
  absl::StrAppend(&out,
                  "# HELP canopy_ingest_accepted_total Leaves accepted, by "
                  "protocol.\n# TYPE canopy_ingest_accepted_total counter\n");
  for (const char* proto : {"http", "udp", "tcp"}) {
    auto it = stats_.accepted.find(proto);
    absl::StrAppend(&out, "canopy_ingest_accepted_total{protocol=\"", proto,
                    "\"} ", it == stats_.accepted.end() ? 0 : it->second, "\n");
  }
  absl::StrAppend(&out,
                  "# HELP canopy_ingest_rejected_total Inputs rejected, by "
                  "protocol and reason.\n"
                  "# TYPE canopy_ingest_rejected_total counter\n");
  for (const auto& [proto, reasons] : stats_.rejected) {
    for (const auto& [reason, n] : reasons) {
      absl::StrAppend(&out, "canopy_ingest_rejected_total{protocol=\"", proto,
                      "\",reason=\"", reason, "\"} ", n, "\n");
    }
  }
  std::vector<std::string> keys = request.Params("key");
  if (!keys.empty()) {
    absl::StrAppend(&out,
                    "# HELP canopy_value Live value of a leaf.\n"
                    "# TYPE canopy_value gauge\n");
    int64_t now = time(nullptr);
    for (const std::string& k : keys) {
      absl::StatusOr<Pattern> p = Pattern::Parse(k);
      if (!p.ok()) continue;
      size_t n = 0;
      tree_->Collect(*p, 0, [&](const LeafView& leaf) {
        LiveValue v = leaf.node->Live(leaf.action, now, tree_->step_seconds());
        if (v.has && !v.is_text) {
          absl::StrAppend(&out, "canopy_value{key=\"", PromEscape(leaf.key),
                          "\"} ", PromNumber(v.value), "\n");
        }
        return ++n < options_.get_limit;
      });
    }
  }
  return out;
}

}  // namespace canopy
