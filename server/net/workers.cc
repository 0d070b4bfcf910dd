#include "server/net/workers.h"

#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <memory>
#include <thread>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "server/log.h"
#include "server/net/address.h"
#include "server/net/router.h"

namespace canopy {
namespace {

// The flush runs at the lowest of the base's priorities (Server::Start), so
// that every socket and message ready in a loop turn is handled first.
constexpr int kFlushPriority = 2;
// A flush that answers many waiters posts each worker its deliveries in
// batches of this many, so that the worker writes the first replies while
// the flush goes on (one wake-up a batch at most).
constexpr size_t kDeliveryBatch = 256;

}  // namespace

Workers::Workers(event_base* base, Tree* tree, Stats* stats,
                 const ServerOptions* options, TrendThread* trend,
                 std::function<HandlerContext()> context)
    : base_(base),
      tree_(tree),
      stats_(stats),
      options_(options),
      trend_(trend),
      context_(std::move(context)),
      hub_(tree, stats, this) {
  hub_.SetQueryLimits(options_->query);
  mail_event_ = event_new(base_, mailbox_.fd(), EV_READ | EV_PERSIST,
                          &Workers::OnMail, this);
  event_add(mail_event_, nullptr);
  flush_event_ = event_new(base_, -1, 0, &Workers::OnFlush, this);
  event_priority_set(flush_event_, kFlushPriority);
}

Workers::~Workers() {
  Stop();
  event_free(mail_event_);
  event_free(flush_event_);
}

namespace {

absl::Status PortIsFree(const sockaddr* addr, socklen_t len) {
  const uint16_t port =
      addr->sa_family == AF_INET6
          ? ntohs(reinterpret_cast<const sockaddr_in6*>(addr)->sin6_port)
          : ntohs(reinterpret_cast<const sockaddr_in*>(addr)->sin_port);
  if (port == 0) return absl::OkStatus();  // the kernel picks a free one
  const int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::OkStatus();  // the workers' own bind will say
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const bool bound = bind(fd, addr, len) == 0;
  const int err = errno;
  close(fd);
  if (bound || err != EADDRINUSE) return absl::OkStatus();
  return absl::UnavailableError(
      "address already in use (is another canopyd running on it?)");
}

}  // namespace

absl::Status Workers::Start() {
  sockaddr_storage ss;
  socklen_t len = 0;
  if (absl::Status s = ParseSocketAddress(options_->http, &ss, &len); !s.ok()) {
    return s;
  }
  // The workers share the port with SO_REUSEPORT, which would as well let
  // them share it with another canopyd (of the same user) already there,
  // each answering part of the requests. A socket without the option
  // cannot join: bound first, it says whether the port is free.
  if (absl::Status s = PortIsFree(reinterpret_cast<sockaddr*>(&ss), len);
      !s.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on http ", options_->http, ": ", s.message()));
  }
  int n = options_->comet_threads;
  if (n <= 0) n = std::max(1u, std::thread::hardware_concurrency());
  for (int i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>(static_cast<uint32_t>(i), options_,
                                      &mailbox_, &open_connections_);
    absl::StatusOr<int> port = w->Listen(reinterpret_cast<sockaddr*>(&ss), len);
    if (!port.ok()) {
      return absl::UnavailableError(absl::StrCat("cannot listen on http ",
                                                 options_->http, ": ",
                                                 port.status().message()));
    }
    if (i == 0) {
      port_ = *port;
      // Port 0 picked a free port: the other workers share it.
      if (ss.ss_family == AF_INET6) {
        reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port = htons(port_);
      } else {
        reinterpret_cast<sockaddr_in*>(&ss)->sin_port = htons(port_);
      }
    }
    workers_.push_back(std::move(w));
    outboxes_.emplace_back();
  }
  for (auto& w : workers_) w->Start();
  CANOPY_LOG("canopyd listening on http://%s (port %d, %d comet workers)",
             options_->http, port_, n);
  return absl::OkStatus();
}

void Workers::Stop() {
  for (auto& w : workers_) w->Stop();
  hub_.CloseAll();
}

void Workers::OnMail(int, short, void* arg) {
  static_cast<Workers*>(arg)->Mail();
}

void Workers::Mail() {
  for (ToTree& m : mailbox_.TakeAll()) {
    switch (m.kind) {
      case ToTree::Kind::kCall:
        Call(m);
        break;
      case ToTree::Kind::kGone:
        ++stats_->waiters_gone;
        hub_.Gone(m.id);
        break;
      case ToTree::Kind::kExpire:
        hub_.Expire(m.id);
        break;
      case ToTree::Kind::kBacklogged:
        hub_.Backlogged(m.id);
        break;
      case ToTree::Kind::kDrained:
        hub_.Drained(m.id);
        break;
      case ToTree::Kind::kResumed:
        hub_.Resumed(m.id, m.seq);
        break;
      case ToTree::Kind::kRelease:
        hub_.Gone(m.id);
        break;
    }
  }
  PostOutboxes();
}

void Workers::Send(uint32_t worker, ToWorker m) {
  outboxes_[worker].push_back(std::move(m));
}

void Workers::Call(ToTree& m) {
  ++stats_->http_requests;
  HandlerContext ctx = context_();
  absl::StatusOr<Outcome> outcome = Dispatch(m.request, ctx);
  auto reply = [&](Response r) {
    ++stats_->http_by_status[absl::StrCat(r.status)];
    ToWorker out;
    out.kind = ToWorker::Kind::kReply;
    out.id = m.id;
    out.response = std::make_unique<Response>(std::move(r));
    Send(m.worker, std::move(out));
  };
  if (!outcome.ok()) {
    reply(ErrorResponse(outcome.status()));
  } else if (auto* r = std::get_if<Response>(&*outcome)) {
    reply(std::move(*r));
  } else if (auto* hold = std::get_if<Hold>(&*outcome)) {
    Park(m.worker, m.id, std::move(*hold), ctx.now);
  } else if (trend_ == nullptr) {
    reply(ErrorResponse(
        absl::FailedPreconditionError("this canopyd keeps no history")));
  } else {
    // Answered from the trend thread's done callback, on this thread.
    auto response = std::make_shared<Response>();
    uint32_t worker = m.worker;
    uint64_t conn = m.id;
    trend_->Run([response, work = std::move(std::get<Deferred>(*outcome).work)](
                    TrendStore& store) { *response = work(store); },
                [this, worker, conn, response] {
                  ++stats_->http_by_status[absl::StrCat(response->status)];
                  ToWorker out;
                  out.kind = ToWorker::Kind::kReply;
                  out.id = conn;
                  out.response =
                      std::make_unique<Response>(std::move(*response));
                  workers_[worker]->mailbox().Post(std::move(out));
                });
  }
}

void Workers::Park(uint32_t worker, uint64_t conn, Hold hold, int64_t now) {
  ToWorker out;
  out.kind = ToWorker::Kind::kHold;
  out.id = conn;
  if (!hold.stream) {
    uint64_t since = tree_->seq();
    if (hold.has_since) {
      absl::StatusOr<std::optional<std::string>> body =
          hub_.PullNow(hold.patterns, hold.since, now);
      if (body.ok() && body->has_value()) {
        // Answered at once (its body says seq = the tree's), and kept: the
        // client's next poll from that seq is its worker's to park.
        const uint64_t seq = tree_->seq();
        out.waiter = hub_.Park(std::move(hold.patterns), seq, worker,
                               /*keep=*/true, /*answered=*/true);
        out.seq = seq;
        out.timeout_seconds = hold.timeout_seconds;
        out.body = std::make_shared<const std::string>(std::move(**body));
        Send(worker, std::move(out));
        return;
      }
      if (!body.ok()) {
        ToWorker r;
        r.kind = ToWorker::Kind::kReply;
        r.id = conn;
        r.response = std::make_unique<Response>(ErrorResponse(body.status()));
        ++stats_->http_by_status[absl::StrCat(r.response->status)];
        Send(worker, std::move(r));
        return;
      }
      since = hold.since;
    }
    // Kept: the worker parks the client's next polls itself (worker.h).
    out.waiter =
        hub_.Park(std::move(hold.patterns), since, worker, /*keep=*/true);
    out.seq = since;
    out.timeout_seconds = hold.timeout_seconds;
    Send(worker, std::move(out));
    return;
  }
  std::string first;
  absl::StatusOr<Hub::WaiterId> stream =
      hub_.OpenStream(std::move(hold.patterns), hold.has_since, hold.since, now,
                      &first, &out.seq, worker);
  if (!stream.ok()) {
    ToWorker r;
    r.kind = ToWorker::Kind::kReply;
    r.id = conn;
    r.response = std::make_unique<Response>(ErrorResponse(stream.status()));
    ++stats_->http_by_status[absl::StrCat(r.response->status)];
    Send(worker, std::move(r));
    return;
  }
  out.stream = true;
  out.waiter = *stream;
  out.body = std::make_shared<const std::string>(std::move(first));
  Send(worker, std::move(out));
}

bool Workers::Deliver(Hub::WaiterId id,
                      const std::shared_ptr<const std::string>& body,
                      uint64_t seq, bool stream) {
  ToWorker m;
  m.kind = ToWorker::Kind::kDeliver;
  m.id = id;
  m.body = body;
  m.seq = seq;
  uint32_t worker = Hub::RouteOf(id);
  if (worker >= outboxes_.size()) return true;
  std::vector<ToWorker>& box = outboxes_[worker];
  box.push_back(std::move(m));
  if (box.size() >= kDeliveryBatch) {
    workers_[worker]->mailbox().PostAll(box.data(), box.size());
    box.clear();
  }
  return true;
}

void Workers::ScheduleFlush() { event_active(flush_event_, 0, 0); }

void Workers::OnFlush(int, short, void* arg) {
  Workers* self = static_cast<Workers*>(arg);
  self->hub_.Flush(time(nullptr));
  self->PostOutboxes();
}

void Workers::PostOutboxes() {
  for (size_t i = 0; i < outboxes_.size(); ++i) {
    std::vector<ToWorker>& box = outboxes_[i];
    if (box.empty()) continue;
    workers_[i]->mailbox().PostAll(box.data(), box.size());
    box.clear();
  }
}

}  // namespace canopy
