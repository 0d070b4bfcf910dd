// The pages: / (a redirect to /overview/, or to /realtime/ without the built
// pages), /overview/, /host/<name>, /realtime/, /realtime/view/<name>,
// /trend/view/, /setting/view, /diff/ and their /assets/, read from
// --web_dir; without the built pages, the live page built into the binary
// (server/handlers/builtin_page.h). /healthz is here too.
//
// Threads: the event-loop thread.
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/handlers/builtin_page.h"
#include "server/handlers/handlers.h"

namespace canopy {
namespace {

// The file under --web_dir that serves `path` ("" when none does).
std::string PageFile(absl::string_view path) {
  if (path == "/realtime/" || path == "/realtime" ||
      absl::StartsWith(path, "/realtime/view/")) {
    return "realtime.html";
  }
  if (path == "/overview/" || path == "/overview") return "overview.html";
  if (absl::StartsWith(path, "/host/") && path.size() > 6) return "host.html";
  if (path == "/trend/view/" || path == "/trend/view") return "trend.html";
  if (path == "/setting/view" || path == "/setting/view/") {
    return "settings.html";
  }
  if (path == "/diff/" || path == "/diff") return "diff.html";
  if (absl::StartsWith(path, "/assets/")) return std::string(path.substr(1));
  return "";
}

absl::string_view ContentTypeOf(absl::string_view file) {
  absl::string_view ext = file.substr(file.rfind('.') + 1);
  return ext == "html"                   ? "text/html; charset=utf-8"
         : ext == "js" || ext == "mjs"   ? "text/javascript; charset=utf-8"
         : ext == "css"                  ? "text/css; charset=utf-8"
         : ext == "svg"                  ? "image/svg+xml"
         : ext == "png"                  ? "image/png"
         : ext == "json" || ext == "map" ? "application/json"
                                         : "application/octet-stream";
}

}  // namespace

bool IsPagePath(absl::string_view path) { return !PageFile(path).empty(); }

absl::StatusOr<Response> HandlePage(const Request& request,
                                    HandlerContext& ctx) {
  const std::string& path = request.path;
  std::string file = PageFile(path);
  if (file.empty() || file.find("..") != std::string::npos ||
      file.find("//") != std::string::npos) {
    return absl::NotFoundError(
        file.empty() ? absl::StrCat("no such endpoint: ", path.substr(0, 100))
                     : "no such asset");
  }
  Response r;
  r.headers.emplace_back("Cache-Control", "no-cache");
  const std::string& web_dir = ctx.options->web_dir;
  std::string full = web_dir.empty() ? "" : web_dir + "/" + file;
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
  r.content_type = std::string(ContentTypeOf(file));
  return r;
}

absl::StatusOr<Response> HandleRoot(const Request&, HandlerContext& ctx) {
  // The overview when the built pages are there; else the live page built
  // into the binary.
  const std::string& web_dir = ctx.options->web_dir;
  bool built =
      !web_dir.empty() && std::ifstream(web_dir + "/overview.html").good();
  std::string to = built ? "/overview/" : "/realtime/";
  Response r;
  r.status = 302;
  r.content_type = "text/plain";
  r.body = to + "\n";
  r.headers.emplace_back("Location", to);
  return r;
}

absl::StatusOr<Response> HandleHealth(const Request&, HandlerContext&) {
  Response r;
  r.content_type = "text/plain";
  r.body = "OK\n";
  return r;
}

}  // namespace canopy
