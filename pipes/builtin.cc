// The built-in pipes: status, ua, url, time, traffic. See canopy/pipe.h for
// the keys each writes.
//
// Threads: a pipe runs on the thread of the PipeRunner that owns it, one
// record at a time. The only thing pipes share is the "ua" pipe's UaParser,
// which is immutable.
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "canopy/pipe.h"
#include "pipes/top_k.h"
#include "pipes/ua.h"

namespace canopy {
namespace {

LineSample Add(double v) {
  LineSample s;
  s.action = Action::kAdd;
  s.value = v;
  return s;
}

LineSample Timer(double ms) {
  LineSample s;
  s.action = Action::kTimer;
  s.value = ms;
  return s;
}

// Counts one hit on `key` (base + item) if `top` admits the item, else on
// `other`; a key `top` evicted to admit this one is removed. `evicted` is
// scratch space.
void AddIfAdmitted(absl::string_view key, absl::string_view base,
                   absl::string_view other, TopKeys* top, std::string* evicted,
                   UpdateSink* sink) {
  if (top->Hit(key.substr(base.size()), evicted)) {
    if (!evicted->empty()) sink->Remove(absl::StrCat(base, *evicted));
    sink->Update(key, Add(1));
  } else {
    sink->Update(other, Add(1));
  }
}

// <p>,hits  <p>,bytes  <p>,status,<code>  <p>,errors  <p>,client_errors
class StatusPipe : public Pipe {
 public:
  absl::string_view name() const override { return "status"; }
  absl::Status Init(const PipeOptions& options) override {
    prefix_ = options.prefix;
    hits_ = prefix_ + ",hits";
    bytes_ = prefix_ + ",bytes";
    errors_ = prefix_ + ",errors";
    client_errors_ = prefix_ + ",client_errors";
    status_.assign(1000, std::string());
    return absl::OkStatus();
  }
  void Process(const LogRecord& r, UpdateSink* sink) override {
    sink->Update(hits_, Add(1));
    sink->Update(bytes_, Add(static_cast<double>(r.bytes)));
    if (r.status <= 0 || r.status > 999) return;
    std::string& key = status_[r.status];
    if (key.empty()) key = absl::StrCat(prefix_, ",status,", r.status);
    sink->Update(key, Add(1));
    if (r.status >= 500 && r.status <= 599) {
      sink->Update(errors_, Add(1));
    } else if (r.status >= 400 && r.status <= 499) {
      sink->Update(client_errors_, Add(1));
    }
  }

 private:
  std::string prefix_, hits_, bytes_, errors_, client_errors_;
  std::vector<std::string> status_;  // by code, built on first use
};

// <p>,browser,<family>,<major>  <p>,os,<family>. Families come from regexes
// that may capture arbitrary text (and majors are any digits), so the keys
// are admitted through TopKeys like paths: at most ua_top_k browser keys and
// ua_top_k OS keys, the rest under "other".
class UaPipe : public Pipe {
 public:
  absl::string_view name() const override { return "ua"; }
  absl::Status Init(const PipeOptions& options) override {
    browser_base_ = options.prefix + ",browser,";
    os_base_ = options.prefix + ",os,";
    browser_other_ = browser_base_ + "other,other";
    os_other_ = os_base_ + "other";
    capacity_ = std::max<size_t>(1, options.ua_cache_size);
    browsers_ = std::make_unique<TopKeys>(options.ua_top_k, 1);
    systems_ = std::make_unique<TopKeys>(options.ua_top_k, 1);
    if (options.ua_parser != nullptr) {
      parser_ = options.ua_parser;
      return absl::OkStatus();
    }
    absl::StatusOr<std::shared_ptr<const UaParser>> parser =
        LoadUaParser(options.regexes_path.empty() ? DefaultRegexesPath()
                                                  : options.regexes_path);
    if (!parser.ok()) return parser.status();
    parser_ = *std::move(parser);
    return absl::OkStatus();
  }
  void Process(const LogRecord& r, UpdateSink* sink) override {
    if (r.user_agent.empty()) return;
    auto it = cache_.find(r.user_agent);
    if (it == cache_.end()) {
      if (cache_.size() >= capacity_) cache_.clear();
      const UaFamilies f = parser_->Parse(r.user_agent);
      Keys keys;
      keys.browser = browser_base_;
      AppendSegment(f.browser == "Other" ? "other" : f.browser, &keys.browser);
      keys.browser.push_back(',');
      AppendSegment(f.major, &keys.browser);
      keys.os = os_base_;
      AppendSegment(f.os == "Other" ? "other" : f.os, &keys.os);
      it = cache_.emplace(std::string(r.user_agent), std::move(keys)).first;
    }
    AddIfAdmitted(it->second.browser, browser_base_, browser_other_,
                  browsers_.get(), &evicted_, sink);
    AddIfAdmitted(it->second.os, os_base_, os_other_, systems_.get(), &evicted_,
                  sink);
  }

 private:
  struct Keys {
    std::string browser;
    std::string os;
  };

  std::string browser_base_, os_base_, browser_other_, os_other_, evicted_;
  size_t capacity_ = 10000;
  std::shared_ptr<const UaParser> parser_;
  std::unique_ptr<TopKeys> browsers_, systems_;
  // Per distinct agent string, the two keys it adds to; emptied when full.
  absl::flat_hash_map<std::string, Keys> cache_;
};

// <p>,url,<path> for the admitted top K, <p>,url,other for the rest.
class UrlPipe : public Pipe {
 public:
  absl::string_view name() const override { return "url"; }
  absl::Status Init(const PipeOptions& options) override {
    base_ = options.prefix + ",url,";
    other_ = base_ + "other";
    top_ = std::make_unique<TopKeys>(options.url_top_k, options.url_min_hits);
    return absl::OkStatus();
  }
  void Process(const LogRecord& r, UpdateSink* sink) override {
    key_.assign(base_);
    AppendSegment(r.path, &key_);
    AddIfAdmitted(key_, base_, other_, top_.get(), &evicted_, sink);
  }

 private:
  std::string base_, other_, key_, evicted_;
  std::unique_ptr<TopKeys> top_;
};

// <p>,request_time  <p>,upstream_time, in ms.
class TimePipe : public Pipe {
 public:
  absl::string_view name() const override { return "time"; }
  absl::Status Init(const PipeOptions& options) override {
    request_ = options.prefix + ",request_time";
    upstream_ = options.prefix + ",upstream_time";
    return absl::OkStatus();
  }
  void Process(const LogRecord& r, UpdateSink* sink) override {
    if (r.has_request_time) sink->Update(request_, Timer(r.request_time * 1e3));
    if (r.has_upstream_time) {
      sink->Update(upstream_, Timer(r.upstream_time * 1e3));
    }
  }

 private:
  std::string request_, upstream_;
};

// traffic,<domain>,{hits,bytes,visitors}, for at most traffic_top_k domains
// (the rest under traffic,other).
class TrafficPipe : public Pipe {
 public:
  absl::string_view name() const override { return "traffic"; }
  absl::Status Init(const PipeOptions& options) override {
    default_domain_ = options.default_domain;
    top_ = std::make_unique<TopKeys>(options.traffic_top_k,
                                     options.traffic_min_hits);
    return absl::OkStatus();
  }
  void Process(const LogRecord& r, UpdateSink* sink) override {
    absl::string_view host = r.host.empty() ? default_domain_ : r.host;
    if (host.empty()) return;
    // "Example.COM:8080" counts as "example.com".
    if (host[0] != '[') host = host.substr(0, host.find(':'));
    domain_.assign(host.data(), host.size());
    absl::AsciiStrToLower(&domain_);
    key_.assign("traffic,");
    AppendSegment(domain_, &key_);
    const absl::string_view segment = absl::string_view(key_).substr(8);
    if (top_->Hit(segment, &evicted_)) {
      if (!evicted_.empty()) sink->Remove("traffic," + evicted_);
    } else {
      key_.assign("traffic,other");
    }
    const size_t base = key_.size();
    key_.append(",hits");
    sink->Update(key_, Add(1));
    key_.resize(base);
    key_.append(",bytes");
    sink->Update(key_, Add(static_cast<double>(r.bytes)));
    if (!r.remote_addr.empty()) {
      key_.resize(base);
      key_.append(",visitors");
      LineSample s;
      s.action = Action::kSet;
      s.member = r.remote_addr;
      sink->Update(key_, s);
    }
  }

 private:
  std::string default_domain_, domain_, key_, evicted_;
  std::unique_ptr<TopKeys> top_;
};

}  // namespace

std::vector<std::string> BuiltinPipeNames() {
  return {"status", "ua", "url", "time", "traffic"};
}

std::unique_ptr<Pipe> NewBuiltinPipe(absl::string_view name) {
  if (name == "status") return std::make_unique<StatusPipe>();
  if (name == "ua") return std::make_unique<UaPipe>();
  if (name == "url") return std::make_unique<UrlPipe>();
  if (name == "time") return std::make_unique<TimePipe>();
  if (name == "traffic") return std::make_unique<TrafficPipe>();
  return nullptr;
}

}  // namespace canopy
