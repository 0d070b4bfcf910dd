// Named views: a title, the keys (patterns) to show and a layout, kept in
// DATA_DIR/views.json and served at /api/views.
//
//   canopy::ViewStore views(data_dir + "/views.json");
//   views.Load();
//   views.Put("web", R"({"title": "Web", "keys": ["web,**"]})");
//
// Threads: used on the event-loop thread only. Writes go to disk at once
// (temp file and rename): views are few and rarely written.
#ifndef CANOPY_SERVER_HANDLERS_VIEW_STORE_H_
#define CANOPY_SERVER_HANDLERS_VIEW_STORE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace canopy {

struct View {
  std::string name;
  std::string title;
  std::vector<std::string> keys;
  std::string layout = "grid";
};

class ViewStore {
 public:
  explicit ViewStore(std::string path) : path_(std::move(path)) {}

  // Reads the file if there is one; a damaged file is an error.
  absl::Status Load();
  // Validates and stores a view document (InvalidArgument says why).
  absl::Status Put(absl::string_view name, absl::string_view json);
  // NotFound if there is no such view.
  absl::Status Delete(absl::string_view name);
  const View* Find(absl::string_view name) const;
  const std::map<std::string, View>& all() const { return views_; }

  static std::string ToJson(const View& v);
  std::string AllJson() const;

 private:
  absl::Status Save() const;
  std::string path_;
  std::map<std::string, View> views_;
};

}  // namespace canopy

#endif  // CANOPY_SERVER_HANDLERS_VIEW_STORE_H_
