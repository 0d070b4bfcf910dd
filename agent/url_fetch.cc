// URL fetches through libcurl, loaded at run time. See agent/url_fetch.h.
//
// Threads: FetchUrls() runs on its caller's thread (a check round's fetch
// thread) and uses only its own handles.
//
// Process-wide state, on purpose: libcurl, loaded once (LoadCurl) and never
// unloaded. curl_global_init() is process-wide and not safe to call twice
// at once, and unloading libcurl is not safe; a function-local static gives
// the one thread-safe initialization.
#include "agent/url_fetch.h"

#include <curl/curl.h>  // types and constants only: libcurl is dlopen()ed
#include <dlfcn.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace canopy {
namespace agent {
namespace {

constexpr size_t kMaxBody = 64 * 1024;

// libcurl is not linked: its dependency tree (OpenSSL, nghttp2, libssh2,
// Kerberos, LDAP, ...) is most of the agent's RSS when mapped, and only URL
// and nginx checks need it. It is loaded the first time one is configured
// (CheckRunner::SetChecks) or run, and never unloaded. The declarations of
// <curl/curl.h> give the types; decltype() of them references no symbol.
#ifndef CANOPY_LIBCURL_SONAME
#define CANOPY_LIBCURL_SONAME "libcurl.so.4"
#endif

struct CurlApi {
  decltype(&::curl_global_init) global_init;
  decltype(&::curl_easy_init) easy_init;
  decltype(&::curl_easy_setopt) easy_setopt;
  decltype(&::curl_easy_getinfo) easy_getinfo;
  decltype(&::curl_easy_strerror) easy_strerror;
  decltype(&::curl_easy_cleanup) easy_cleanup;
  decltype(&::curl_multi_init) multi_init;
  decltype(&::curl_multi_add_handle) multi_add_handle;
  decltype(&::curl_multi_remove_handle) multi_remove_handle;
  decltype(&::curl_multi_perform) multi_perform;
  decltype(&::curl_multi_poll) multi_poll;
  decltype(&::curl_multi_info_read) multi_info_read;
  decltype(&::curl_multi_cleanup) multi_cleanup;
  decltype(&::curl_slist_append) slist_append;
  decltype(&::curl_slist_free_all) slist_free_all;
};

struct CurlLoad {
  CurlApi api{};
  bool ok = false;
  std::string error;  // why not ok
};

template <typename F>
bool Resolve(void* lib, const char* name, F* out, std::string* error) {
  dlerror();
  void* sym = dlsym(lib, name);
  if (sym == nullptr) {
    const char* e = dlerror();
    *error = absl::StrCat(CANOPY_LIBCURL_SONAME, ": no ", name,
                          e ? absl::StrCat(" (", e, ")") : std::string());
    return false;
  }
  *out = reinterpret_cast<F>(sym);
  return true;
}

// Loads libcurl once per process (thread-safe); the result is kept.
const CurlLoad& LoadCurl() {
  static const CurlLoad* loaded = [] {
    auto* l = new CurlLoad;
    void* lib = dlopen(CANOPY_LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      const char* e = dlerror();
      l->error = absl::StrCat("cannot load ", CANOPY_LIBCURL_SONAME, ": ",
                              e ? e : "unknown error",
                              " (URL and nginx checks are off; install "
                              "libcurl4)");
      return l;
    }
    CurlApi& c = l->api;
    std::string& err = l->error;
    if (!Resolve(lib, "curl_global_init", &c.global_init, &err) ||
        !Resolve(lib, "curl_easy_init", &c.easy_init, &err) ||
        !Resolve(lib, "curl_easy_setopt", &c.easy_setopt, &err) ||
        !Resolve(lib, "curl_easy_getinfo", &c.easy_getinfo, &err) ||
        !Resolve(lib, "curl_easy_strerror", &c.easy_strerror, &err) ||
        !Resolve(lib, "curl_easy_cleanup", &c.easy_cleanup, &err) ||
        !Resolve(lib, "curl_multi_init", &c.multi_init, &err) ||
        !Resolve(lib, "curl_multi_add_handle", &c.multi_add_handle, &err) ||
        !Resolve(lib, "curl_multi_remove_handle", &c.multi_remove_handle,
                 &err) ||
        !Resolve(lib, "curl_multi_perform", &c.multi_perform, &err) ||
        !Resolve(lib, "curl_multi_poll", &c.multi_poll, &err) ||
        !Resolve(lib, "curl_multi_info_read", &c.multi_info_read, &err) ||
        !Resolve(lib, "curl_multi_cleanup", &c.multi_cleanup, &err) ||
        !Resolve(lib, "curl_slist_append", &c.slist_append, &err) ||
        !Resolve(lib, "curl_slist_free_all", &c.slist_free_all, &err)) {
      err += " (URL and nginx checks are off)";
      return l;  // lib stays loaded: unloading libcurl is not safe
    }
    if (CURLcode rc = c.global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
      err = absl::StrCat("curl_global_init: ", c.easy_strerror(rc),
                         " (URL and nginx checks are off)");
      return l;
    }
    l->ok = true;
    return l;
  }();
  return *loaded;
}

struct Body {
  UrlResult* r;
  bool keep;
};

size_t OnData(char* data, size_t size, size_t n, void* user) {
  Body* b = static_cast<Body*>(user);
  size_t bytes = size * n;
  b->r->bytes += static_cast<int64_t>(bytes);
  if (b->keep && b->r->body.size() < kMaxBody) {
    b->r->body.append(data, std::min(bytes, kMaxBody - b->r->body.size()));
  }
  return bytes;
}

// A POST body: `*left` more bytes of 'u'.
size_t OnUpload(char* buffer, size_t size, size_t n, void* user) {
  int64_t* left = static_cast<int64_t*>(user);
  size_t bytes = std::min<size_t>(size * n, static_cast<size_t>(*left));
  std::memset(buffer, 'u', bytes);
  *left -= static_cast<int64_t>(bytes);
  return bytes;
}

}  // namespace

absl::Status LoadLibcurl() {
  const CurlLoad& curl = LoadCurl();
  if (curl.ok) return absl::OkStatus();
  return absl::UnavailableError(curl.error);
}

std::vector<UrlResult> FetchUrls(const std::vector<UrlRequest>& requests,
                                 const std::atomic<bool>* stop) {
  std::vector<UrlResult> out(requests.size());
  if (requests.empty()) return out;
  const CurlLoad& curl = LoadCurl();
  if (!curl.ok) {
    for (UrlResult& r : out) r.error = curl.error;
    return out;
  }
  const CurlApi& c = curl.api;
  CURLM* multi = c.multi_init();
  if (multi == nullptr) {
    for (UrlResult& r : out) r.error = "curl_multi_init failed";
    return out;
  }
  std::vector<CURL*> easy(requests.size(), nullptr);
  std::vector<Body> bodies(requests.size());
  std::vector<std::array<char, CURL_ERROR_SIZE>> errors(requests.size());
  absl::Duration longest = absl::ZeroDuration();
  curl_slist* post_headers = nullptr;  // the POSTs' headers, freed at the end
  std::vector<int64_t> uploads(requests.size(), 0);  // bytes left to send
  for (size_t i = 0; i < requests.size(); ++i) {
    CURL* e = c.easy_init();
    if (e == nullptr) {
      out[i].error = "curl_easy_init failed";
      continue;
    }
    easy[i] = e;
    bodies[i] = {&out[i], requests[i].keep_body};
    errors[i][0] = 0;
    long ms = static_cast<long>(
        std::max<int64_t>(1, absl::ToInt64Milliseconds(requests[i].timeout)));
    longest = std::max(longest, requests[i].timeout);
    c.easy_setopt(e, CURLOPT_URL, requests[i].url.c_str());
    c.easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    c.easy_setopt(e, CURLOPT_TIMEOUT_MS, ms);
    c.easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ms);
    c.easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    c.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    c.easy_setopt(e, CURLOPT_USERAGENT, "canopy-agent");
    c.easy_setopt(e, CURLOPT_WRITEFUNCTION, OnData);
    c.easy_setopt(e, CURLOPT_WRITEDATA, &bodies[i]);
    c.easy_setopt(e, CURLOPT_ERRORBUFFER, errors[i].data());
    c.easy_setopt(e, CURLOPT_PRIVATE, reinterpret_cast<void*>(i));
    if (requests[i].post) {
      if (post_headers == nullptr) {
        post_headers = c.slist_append(nullptr, "Expect:");
        post_headers = c.slist_append(post_headers,
                                      "Content-Type: application/octet-stream");
      }
      c.easy_setopt(e, CURLOPT_HTTPHEADER, post_headers);
      uploads[i] = requests[i].post_bytes;
      c.easy_setopt(e, CURLOPT_POST, 1L);
      c.easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                    static_cast<curl_off_t>(requests[i].post_bytes));
      c.easy_setopt(e, CURLOPT_READFUNCTION, OnUpload);
      c.easy_setopt(e, CURLOPT_READDATA, &uploads[i]);
    }
    c.multi_add_handle(multi, e);
  }
  // Each transfer ends at its own timeout; this bound is a safety net.
  const absl::Time give_up = absl::Now() + longest + absl::Seconds(2);
  int running = 0;
  c.multi_perform(multi, &running);
  while (running > 0 && absl::Now() < give_up && !(stop && stop->load())) {
    c.multi_poll(multi, nullptr, 0, 200, nullptr);
    c.multi_perform(multi, &running);
  }
  int left = 0;
  std::vector<bool> done(requests.size(), false);
  while (CURLMsg* m = c.multi_info_read(multi, &left)) {
    if (m->msg != CURLMSG_DONE) continue;
    void* priv = nullptr;
    c.easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
    size_t i = reinterpret_cast<size_t>(priv);
    done[i] = true;
    UrlResult& r = out[i];
    curl_off_t ttfb = 0, total = 0;
    c.easy_getinfo(m->easy_handle, CURLINFO_STARTTRANSFER_TIME_T, &ttfb);
    c.easy_getinfo(m->easy_handle, CURLINFO_TOTAL_TIME_T, &total);
    r.ttfb_ms = ttfb / 1000.0;
    r.total_ms = total / 1000.0;
    if (m->data.result == CURLE_OK) {
      long code = 0;
      c.easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
      r.status = static_cast<int>(code);
    } else {
      r.status = 0;
      r.error =
          errors[i][0] ? errors[i].data() : c.easy_strerror(m->data.result);
    }
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    if (easy[i] == nullptr) continue;
    if (!done[i]) {
      out[i].status = 0;
      out[i].error = "timed out";
    }
    c.multi_remove_handle(multi, easy[i]);
    c.easy_cleanup(easy[i]);
  }
  c.multi_cleanup(multi);
  if (post_headers != nullptr) c.slist_free_all(post_headers);
  return out;
}

}  // namespace agent
}  // namespace canopy
