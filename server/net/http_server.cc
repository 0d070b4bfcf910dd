#include "server/net/http_server.h"

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "server/log.h"
#include "server/net/address.h"
#include "server/net/http_adapter.h"
#include "server/net/router.h"

namespace canopy {

HttpServer::HttpServer(event_base* base, const ServerOptions* options,
                       Stats* stats, HeldRequests* held, TrendThread* trend,
                       std::function<HandlerContext()> context)
    : base_(base),
      options_(options),
      stats_(stats),
      held_(held),
      trend_(trend),
      context_(std::move(context)) {}

HttpServer::~HttpServer() {
  // evhttp_free closes the connections, whose close callbacks tell the
  // held requests.
  if (http_) evhttp_free(http_);
}

absl::Status HttpServer::Start() {
  http_ = evhttp_new(base_);
  evhttp_set_max_body_size(http_, static_cast<ev_ssize_t>(options_->max_body));
  evhttp_set_max_headers_size(http_, 64 * 1024);
  evhttp_set_allowed_methods(http_, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                                        EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                        EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
  evhttp_set_timeout(http_, 60);
  evhttp_set_gencb(http_, &HttpServer::OnRequest, this);
  // Our own listener, for a deep accept backlog: thousands of long-poll
  // clients reconnect at once after a restart or a fan-out.
  sockaddr_storage ss;
  socklen_t ss_len = 0;
  if (absl::Status st = ParseSocketAddress(options_->http, &ss, &ss_len);
      !st.ok()) {
    return st;
  }
  evconnlistener* listener = evconnlistener_new_bind(
      base_, nullptr, nullptr,
      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 4096,
      reinterpret_cast<sockaddr*>(&ss), static_cast<int>(ss_len));
  if (listener == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on http ", options_->http, ": ", std::strerror(errno)));
  }
  evhttp_bound_socket* bound = evhttp_bind_listener(http_, listener);
  if (bound == nullptr) {
    evconnlistener_free(listener);
    return absl::UnavailableError(
        absl::StrCat("cannot listen on http ", options_->http));
  }
  port_ = BoundPort(evhttp_bound_socket_get_fd(bound));
  // Out of file descriptors, libevent 2.1 would retry accept() in a busy
  // loop: pause accepting instead and try again shortly.
  evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(bound),
                              &HttpServer::OnAcceptError);
  CANOPY_LOG("canopyd listening on http://%s (port %d)", options_->http, port_);
  return absl::OkStatus();
}

void HttpServer::OnAcceptError(evconnlistener* listener, void*) {
  // libevent hands this callback evhttp's argument, not ours, so its rate
  // limit cannot live in the HttpServer: it is the one piece of
  // process-wide state of the network edge, touched only by the loop
  // thread.
  static RateLimit* limit = new RateLimit;
  int err = EVUTIL_SOCKET_ERROR();
  if (limit->Allow()) {
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

void HttpServer::OnConnectionClosed(evhttp_connection* evcon, void* arg) {
  HttpServer* self = static_cast<HttpServer*>(arg);
  self->deferred_.erase(evcon);
  if (self->known_.erase(evcon) > 0) --self->connections_;
  self->held_->ConnectionClosed(evcon);
}

void HttpServer::OnRequest(evhttp_request* req, void* arg) {
  static_cast<HttpServer*>(arg)->Handle(req);
}

void HttpServer::Send(evhttp_request* req, const Response& response) {
  ++stats_->http_by_status[absl::StrCat(response.status)];
  SendResponse(req, response);
}

void HttpServer::Handle(evhttp_request* req) {
  ++stats_->http_requests;
  evhttp_connection* evcon = evhttp_request_get_connection(req);
  if (known_.insert(evcon).second) {
    ++connections_;
    evhttp_connection_set_closecb(evcon, &HttpServer::OnConnectionClosed, this);
    if (connections_ > options_->max_connections) {
      ++stats_->connections_refused;
      Response r = ErrorResponse(
          absl::UnavailableError("too many connections; try again later"));
      r.headers.emplace_back("Connection", "close");
      Send(req, r);
      return;
    }
  }
  absl::StatusOr<Request> request = ToRequest(req);
  if (!request.ok()) {
    Send(req, ErrorResponse(request.status()));
    return;
  }
  HandlerContext ctx = context_();
  absl::StatusOr<Outcome> outcome = Dispatch(*request, ctx);
  if (!outcome.ok()) {
    Send(req, ErrorResponse(outcome.status()));
  } else if (auto* response = std::get_if<Response>(&*outcome)) {
    Send(req, *response);
  } else if (auto* deferred = std::get_if<Deferred>(&*outcome)) {
    RespondLater(req, std::move(*deferred));
  } else {
    held_->Take(req, std::move(std::get<Hold>(*outcome)));
  }
}

void HttpServer::RespondLater(evhttp_request* req, Deferred deferred) {
  if (trend_ == nullptr) {
    Send(req, ErrorResponse(absl::FailedPreconditionError(
                  "this canopyd keeps no history")));
    return;
  }
  evhttp_connection* evcon = evhttp_request_get_connection(req);
  uint64_t token = ++deferred_token_;
  deferred_[evcon] = token;
  auto response = std::make_shared<Response>();
  trend_->Run([response, work = std::move(deferred.work)](
                  TrendStore& store) { *response = work(store); },
              [this, req, evcon, token, response]() {
                auto it = deferred_.find(evcon);
                if (it == deferred_.end() || it->second != token) return;
                deferred_.erase(it);
                Send(req, *response);
              });
}

}  // namespace canopy
