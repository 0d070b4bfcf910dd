// canopyd: the event loop, its listeners and the routing of HTTP requests.
//
//   canopy::ServerOptions options;
//   options.http = "127.0.0.1:0";
//   canopy::Server server(options);
//   if (absl::Status s = server.Start(); !s.ok()) { /* one line, exit 1 */ }
//   server.Run();  // until SIGTERM or SIGINT
//
// Threads: Run() runs the loop on the calling thread, which then owns the
// tree, the waiters, the stats and every socket. Nothing else touches them.
#ifndef CANOPY_SERVER_SERVER_H_
#define CANOPY_SERVER_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "canopy/tree.h"
#include "server/comet.h"
#include "server/handlers.h"
#include "server/ingest.h"
#include "server/options.h"
#include "server/stats.h"
#include "server/trend_thread.h"
#include "server/views.h"

struct event;
struct event_base;
struct evhttp;
struct evhttp_request;
struct evhttp_connection;
struct evconnlistener;

namespace canopy {

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Raises the fd limit, binds the listeners and writes --ready_file.
  absl::Status Start();
  // Runs until SIGTERM/SIGINT; returns the process exit code.
  int Run();

  int http_port() const { return http_port_; }
  Tree& tree() { return *tree_; }

 private:
  static void OnRequest(evhttp_request* req, void* arg);
  static void OnConnectionClosed(evhttp_connection* evcon, void* arg);
  static void OnSignal(int sig, short what, void* arg);
  static void OnAcceptError(evconnlistener* listener, void* arg);
  static void OnTick(int fd, short what, void* arg);
  // Every step: the server's own figures into canopy,self,...; and every
  // expire sweep: stale leaves out.
  void Tick();

  void Handle(evhttp_request* req);
  // Checks --read_token/--write_token; an error status when refused.
  absl::Status Authorize(evhttp_request* req, const Request& request,
                         bool write) const;
  void Send(evhttp_request* req, const Response& response);
  std::string MetricsText(const Request& request);

  ServerOptions options_;
  Stats stats_;
  std::unique_ptr<Tree> tree_;
  event_base* base_ = nullptr;
  evhttp* http_ = nullptr;
  evconnlistener* listener_ = nullptr;
  event* sigterm_ = nullptr;
  event* sigint_ = nullptr;
  std::unique_ptr<Hub> hub_;
  std::unique_ptr<Listeners> listeners_;
  AccessLogRunners access_logs_;  // POST /push accesslog=
  std::unique_ptr<TrendThread> trend_;
  std::unique_ptr<ViewStore> views_;
  std::vector<ClosedWindow> pending_windows_;  // not yet taken by trend_
  uint64_t trend_queries_ = 0;
  // Connections waiting for a /trend answer: a token per request, so that a
  // reply never goes to a connection that closed meanwhile.
  absl::flat_hash_map<evhttp_connection*, uint64_t> trend_waiting_;
  uint64_t trend_token_ = 0;
  void HandleTrend(evhttp_request* req, const Request& request);
  void HandleGraph(evhttp_request* req, const Request& request);
  // Runs `work` on the trend thread and sends its response from the loop,
  // unless the client left meanwhile.
  void RespondLater(evhttp_request* req,
                    std::function<Response(TrendStore&)> work);
  absl::StatusOr<Response> HandleViews(const Request& request);
  // A page or asset from --web_dir (nullptr status: not a static path).
  absl::StatusOr<Response> StaticFile(const std::string& path, bool* matched);
  void SubmitWindows(bool all);
  // Writes the tree's snapshot: through the trend thread, or here when
  // `now_here` (at the stop) or when there is no trend thread.
  void WriteSnapshot(bool now_here);
  absl::Status RestoreSnapshot();
  int64_t next_snapshot_ = 0;
  uint64_t snapshot_seq_ = 0;
  std::vector<ExpireRule> expire_;
  event* tick_ = nullptr;
  int64_t next_expire_ = 0;
  int64_t expire_interval_ = 0;
  int64_t self_window_ = 0;
  int http_port_ = 0;
  size_t connections_ = 0;
};

}  // namespace canopy

#endif  // CANOPY_SERVER_SERVER_H_
