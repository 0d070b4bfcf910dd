// Fuzzes the access-log parsers and the built-in pipes: any bytes, in any
// format (the first byte picks it; mode 3 compiles the first line as an
// nginx log_format), must parse without crashing, report errors with a
// position, and make only valid keys.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "canopy/key.h"
#include "canopy/pipe.h"

namespace {

class CheckingSink : public canopy::UpdateSink {
 public:
  void Update(absl::string_view key, const canopy::LineSample& s) override {
    if (!canopy::SplitKey(key).ok() || key.empty()) std::abort();
    if (s.action == canopy::Action::kSet && s.member.empty()) std::abort();
  }
  void Remove(absl::string_view key) override {
    if (!canopy::SplitKey(key).ok()) std::abort();
  }
};

std::unique_ptr<canopy::PipeRunner> Runner(absl::string_view format) {
  canopy::PipeOptions options;
  options.url_top_k = 8;
  options.ua_top_k = 8;
  options.traffic_top_k = 8;
  options.url_min_hits = 1;
  options.ua_cache_size = 64;
  options.default_domain = "fuzz.example";
  auto runner = canopy::PipeRunner::Create(format, options);
  if (!runner.ok()) {
    // No regexes.yaml here: every pipe but "ua".
    options.pipes = {"status", "url", "time", "traffic"};
    runner = canopy::PipeRunner::Create(format, options);
  }
  return runner.ok() ? *std::move(runner) : nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  absl::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  static std::unique_ptr<canopy::PipeRunner> runners[3] = {
      Runner("combined"), Runner("squid"),
      Runner("$remote_addr [$time_iso8601] \"$request\" $status "
             "$body_bytes_sent \"$http_user_agent\" $request_time "
             "$upstream_response_time $host")};
  std::unique_ptr<canopy::PipeRunner> own;
  canopy::PipeRunner* runner = nullptr;
  const int mode = data[0] % 4;
  if (mode < 3) {
    runner = runners[mode].get();
  } else {
    const size_t nl = input.find('\n');
    own = Runner(input.substr(0, nl));
    if (own == nullptr) return 0;
    runner = own.get();
    input = nl == absl::string_view::npos ? absl::string_view()
                                          : input.substr(nl + 1);
  }
  if (runner == nullptr) std::abort();
  CheckingSink sink;
  const canopy::LogCounts counts =
      runner->Run(input, &sink, [](const canopy::LogError& e) {
        if (e.line == 0 || e.column == 0 || e.status.ok()) std::abort();
      });
  if (counts.records + counts.errors > input.size()) std::abort();
  return 0;
}
