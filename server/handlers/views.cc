// /api/views: GET lists every view, GET /api/views/<name> one, PUT (or POST)
// stores one, DELETE removes it. The views live in a ViewStore
// (server/handlers/view_store.h) that the server owns.
//
// Threads: the event-loop thread.
#include <string>

#include "absl/strings/str_cat.h"
#include "server/handlers/handlers.h"
#include "server/handlers/view_store.h"

namespace canopy {

absl::StatusOr<Response> HandleViews(const Request& request,
                                     HandlerContext& ctx) {
  ViewStore* views = ctx.views;
  if (views == nullptr)
    return absl::NotFoundError("this server keeps no views");
  std::string rest = request.path.substr(sizeof("/api/views") - 1);
  if (!rest.empty() && rest[0] == '/') rest.erase(0, 1);
  Response r;
  if (rest.empty()) {
    if (request.method != "GET") {
      return absl::UnimplementedError(
          "use GET /api/views, or PUT and "
          "DELETE /api/views/<name>");
    }
    r.body = views->AllJson();
    return r;
  }
  if (request.method == "GET") {
    const View* v = views->Find(rest);
    if (v == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("no view \"", rest.substr(0, 64), "\""));
    }
    r.body = ViewStore::ToJson(*v);
    return r;
  }
  if (request.method == "PUT" || request.method == "POST") {
    if (absl::Status s = views->Put(rest, request.body); !s.ok()) return s;
    r.body = absl::StrCat("{\"saved\":\"", rest, "\"}");
    return r;
  }
  if (request.method == "DELETE") {
    if (absl::Status s = views->Delete(rest); !s.ok()) return s;
    r.body = absl::StrCat("{\"deleted\":\"", rest, "\"}");
    return r;
  }
  return absl::UnimplementedError("use GET, PUT or DELETE on a view");
}

}  // namespace canopy
