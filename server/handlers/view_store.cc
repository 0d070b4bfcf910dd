#include "server/handlers/view_store.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "canopy/key.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"
#include "server/json_out.h"

namespace canopy {
namespace {

constexpr size_t kMaxViews = 1000;
constexpr size_t kMaxKeys = 100;
constexpr size_t kMaxTitle = 200;

absl::Status ValidName(absl::string_view name) {
  if (name.empty() || name.size() > 64) {
    return absl::InvalidArgumentError("a view name is 1 to 64 characters");
  }
  for (char c : name) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
          c == '-')) {
      return absl::InvalidArgumentError(
          "a view name has only letters, digits, '_' and '-'");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<View> ParseView(absl::string_view name, absl::string_view json) {
  if (absl::Status s = ValidName(name); !s.ok()) return s;
  rapidjson::Document d;
  d.Parse<rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
  if (d.HasParseError()) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed view document: ",
                     rapidjson::GetParseError_En(d.GetParseError()),
                     " at byte ", d.GetErrorOffset()));
  }
  if (!d.IsObject()) {
    return absl::InvalidArgumentError("a view is a JSON object");
  }
  View v;
  v.name = std::string(name);
  if (d.HasMember("title")) {
    if (!d["title"].IsString() || d["title"].GetStringLength() > kMaxTitle) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"title\" is a string of at most ", kMaxTitle, " bytes"));
    }
    v.title.assign(d["title"].GetString(), d["title"].GetStringLength());
    // An escaped lone surrogate ("\udc00") decodes to bytes that are not
    // UTF-8; RapidJSON 1.1.0 lets it through.
    if (!IsValidUtf8(v.title)) {
      return absl::InvalidArgumentError("\"title\" is not valid UTF-8");
    }
  } else {
    v.title = v.name;
  }
  if (!d.HasMember("keys") || !d["keys"].IsArray() || d["keys"].Empty() ||
      d["keys"].Size() > kMaxKeys) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"keys\" is a list of 1 to ", kMaxKeys, " key patterns"));
  }
  for (const auto& k : d["keys"].GetArray()) {
    if (!k.IsString()) {
      return absl::InvalidArgumentError("every key is a string");
    }
    absl::StatusOr<Pattern> p = Pattern::Parse(k.GetString());
    if (!p.ok()) return p.status();
    v.keys.push_back(k.GetString());
  }
  if (d.HasMember("layout")) {
    if (!d["layout"].IsString() ||
        (std::string(d["layout"].GetString()) != "grid" &&
         std::string(d["layout"].GetString()) != "list")) {
      return absl::InvalidArgumentError("\"layout\" is \"grid\" or \"list\"");
    }
    v.layout = d["layout"].GetString();
  }
  return v;
}

}  // namespace

std::string ViewStore::ToJson(const View& v) {
  JsonOut out;
  out.w.StartObject();
  out.Key("name");
  out.String(v.name);
  out.Key("title");
  out.String(v.title);
  out.Key("keys");
  out.w.StartArray();
  for (const std::string& k : v.keys) out.String(k);
  out.w.EndArray();
  out.Key("layout");
  out.String(v.layout);
  out.w.EndObject();
  return out.Take();
}

std::string ViewStore::AllJson() const {
  std::string out = "{\"views\":[";
  bool first = true;
  for (const auto& [name, v] : views_) {
    if (!first) out += ",";
    first = false;
    out += ToJson(v);
  }
  out += "]}";
  return out;
}

absl::Status ViewStore::Load() {
  std::ifstream f(path_);
  if (!f) return absl::OkStatus();
  std::stringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("views") ||
      !d["views"].IsArray()) {
    return absl::DataLossError(absl::StrCat(
        path_, " is damaged (move it away to start without views)"));
  }
  for (const auto& v : d["views"].GetArray()) {
    if (!v.IsObject() || !v.HasMember("name") || !v["name"].IsString())
      continue;
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    v.Accept(w);
    absl::StatusOr<View> view =
        ParseView(v["name"].GetString(),
                  absl::string_view(buf.GetString(), buf.GetSize()));
    if (view.ok()) views_[view->name] = std::move(*view);
  }
  return absl::OkStatus();
}

absl::Status ViewStore::Save() const {
  std::string tmp = path_ + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << AllJson() << "\n";
    if (!f) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path_));
  }
  return absl::OkStatus();
}

absl::Status ViewStore::Put(absl::string_view name, absl::string_view json) {
  absl::StatusOr<View> v = ParseView(name, json);
  if (!v.ok()) return v.status();
  if (views_.size() >= kMaxViews && !views_.count(std::string(name))) {
    return absl::ResourceExhaustedError(
        absl::StrCat("at most ", kMaxViews, " views"));
  }
  View old;
  auto it = views_.find(v->name);
  bool had = it != views_.end();
  if (had) old = it->second;
  views_[v->name] = std::move(*v);
  if (absl::Status s = Save(); !s.ok()) {
    if (had) {
      views_[old.name] = old;
    } else {
      views_.erase(std::string(name));
    }
    return s;
  }
  return absl::OkStatus();
}

absl::Status ViewStore::Delete(absl::string_view name) {
  auto it = views_.find(std::string(name));
  if (it == views_.end()) {
    return absl::NotFoundError(
        absl::StrCat("no view \"", name.substr(0, 64), "\""));
  }
  View old = it->second;
  views_.erase(it);
  if (absl::Status s = Save(); !s.ok()) {
    views_[old.name] = old;
    return s;
  }
  return absl::OkStatus();
}

const View* ViewStore::Find(absl::string_view name) const {
  auto it = views_.find(std::string(name));
  return it == views_.end() ? nullptr : &it->second;
}

}  // namespace canopy
