// canopyd's HTTP front: evhttp on its own listener (a deep accept backlog),
// the connection cap, and the path of every request: evhttp's request to a
// plain Request (http_adapter.h), the router (router.h), and the Outcome
// back out — a Response written now, Deferred work run on the trend thread
// and answered when done (unless the client left meanwhile), or a Hold
// parked with comet (held_requests.h).
//
//   canopy::HttpServer http(base, &options, &stats, &held, trend,
//                           [&] { return MakeContext(); });
//   if (absl::Status s = http.Start(); !s.ok()) ...
//
// libevent 2.1 has no connection cap (evhttp_set_max_connections is 2.2):
// connections are counted here as evhttp hands them over, and past
// --max_connections a request gets 503 and its connection is closed. Out of
// file descriptors, evhttp's accept loop would spin: accepting pauses for
// 100 ms instead.
//
// Threads: the event-loop thread runs every callback; it owns the
// connections.
#ifndef CANOPY_SERVER_NET_HTTP_SERVER_H_
#define CANOPY_SERVER_NET_HTTP_SERVER_H_

#include <cstdint>
#include <functional>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "server/handlers/request.h"
#include "server/net/held_requests.h"
#include "server/options.h"
#include "server/stats.h"
#include "server/trend/thread.h"

struct event_base;
struct evhttp;
struct evhttp_request;
struct evhttp_connection;
struct evconnlistener;

namespace canopy {

class HttpServer {
 public:
  // `trend` may be null (no history: Deferred work is refused before it is
  // made). `context` gives the HandlerContext of a request. Every pointer
  // outlives the HttpServer.
  HttpServer(event_base* base, const ServerOptions* options, Stats* stats,
             HeldRequests* held, TrendThread* trend,
             std::function<HandlerContext()> context);
  // Closes every connection (evhttp tells `held` of each).
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds --http.
  absl::Status Start();
  int port() const { return port_; }
  size_t connections() const { return connections_; }

 private:
  static void OnRequest(evhttp_request* req, void* arg);
  static void OnConnectionClosed(evhttp_connection* evcon, void* arg);
  static void OnAcceptError(evconnlistener* listener, void* arg);

  void Handle(evhttp_request* req);
  void Send(evhttp_request* req, const Response& response);
  // Runs `work` on the trend thread and sends its response from the loop,
  // unless the client left meanwhile.
  void RespondLater(evhttp_request* req, Deferred work);

  event_base* base_;
  const ServerOptions* options_;
  Stats* stats_;
  HeldRequests* held_;
  TrendThread* trend_;
  std::function<HandlerContext()> context_;
  evhttp* http_ = nullptr;
  int port_ = 0;
  // The connections evhttp has handed us, for the cap and the close
  // callback.
  absl::flat_hash_set<evhttp_connection*> known_;
  size_t connections_ = 0;
  // Connections waiting for a Deferred answer: a token per request, so that
  // a reply never goes to a connection that closed meanwhile.
  absl::flat_hash_map<evhttp_connection*, uint64_t> deferred_;
  uint64_t deferred_token_ = 0;
};

}  // namespace canopy

#endif  // CANOPY_SERVER_NET_HTTP_SERVER_H_
