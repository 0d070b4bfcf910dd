// canopy-http-parse-bench: the cost of one request through the lean HTTP
// path's pure parts, with no sockets: a typical long-poll
// "GET /pull?key=bench,fanout&since=123&timeout=30 HTTP/1.1" with five
// headers fed to a RequestParser (the connection's, reused), the Request
// taken and the parser reset; then the head of a 200 reply written. Prints
// ns per request for each step, the best of --rounds.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "server/net/request_parser.h"
#include "server/net/response_write.h"

ABSL_FLAG(int, rounds, 5, "timed rounds (the best is printed)");
ABSL_FLAG(int, requests, 1000000, "requests per round");

namespace {

constexpr char kRequest[] =
    "GET /pull?key=bench,fanout&since=123&timeout=30 HTTP/1.1\r\n"
    "Host: 127.0.0.1:7575\r\n"
    "User-Agent: canopy-pull-fanout/0.4\r\n"
    "Accept: application/json\r\n"
    "Authorization: Bearer 0123456789abcdef\r\n"
    "Connection: keep-alive\r\n"
    "\r\n";

// Runs `step` --requests times, --rounds times; returns the best ns each.
template <typename Step>
double BestNs(Step step) {
  const int requests = std::max(1, absl::GetFlag(FLAGS_requests));
  double best = 1e18;
  for (int round = 0; round < std::max(1, absl::GetFlag(FLAGS_rounds));
       ++round) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < requests; ++i) step();
    std::chrono::duration<double, std::nano> took =
        std::chrono::steady_clock::now() - start;
    best = std::min(best, took.count() / requests);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "canopy-http-parse-bench [--rounds=5] [--requests=1000000]: ns per "
      "request to parse a long-poll GET and write its reply's head");
  absl::ParseCommandLine(argc, argv);
  const absl::string_view request(kRequest, sizeof kRequest - 1);
  canopy::RequestParser parser;
  size_t sink = 0;

  const double feed = BestNs([&] {
    sink += parser.Feed(request);
    parser.Reset();
  });
  const double whole = BestNs([&] {
    sink += parser.Feed(request);
    absl::StatusOr<canopy::Request> r = parser.TakeRequest();
    if (!r.ok()) std::abort();
    sink += r->query.size();
    parser.Reset();
  });
  canopy::Response response;
  response.body = std::string(180, 'j');
  std::string head;
  const double write = BestNs([&] {
    head.clear();
    sink += canopy::AppendResponseHead(response, true, &head);
  });
  std::printf("request: %zu bytes, 5 headers\n", request.size());
  std::printf("Feed + Reset:                %7.1f ns\n", feed);
  std::printf("Feed + TakeRequest + Reset:  %7.1f ns\n", whole);
  std::printf("AppendResponseHead:          %7.1f ns (%zu bytes)\n", write,
              head.size());
  return sink == 0 ? 1 : 0;
}
