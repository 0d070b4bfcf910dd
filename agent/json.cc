#include "agent/json.h"

#include <cmath>

#include "rapidjson/prettywriter.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace canopy {
namespace agent {
namespace {

rapidjson::Value Name(absl::string_view name, JsonAlloc& a) {
  return rapidjson::Value(name.data(),
                          static_cast<rapidjson::SizeType>(name.size()), a);
}

rapidjson::Value* Find(rapidjson::Value& obj, absl::string_view name) {
  auto it = obj.FindMember(rapidjson::Value(rapidjson::StringRef(
      name.data(), static_cast<rapidjson::SizeType>(name.size()))));
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

void Set(rapidjson::Value& obj, absl::string_view name, rapidjson::Value v,
         JsonAlloc& a) {
  if (rapidjson::Value* old = Find(obj, name)) {
    *old = std::move(v);
  } else {
    obj.AddMember(Name(name, a), v, a);
  }
}

}  // namespace

rapidjson::Value& Child(rapidjson::Value& obj, absl::string_view name,
                        JsonAlloc& a) {
  if (rapidjson::Value* v = Find(obj, name)) {
    if (!v->IsObject()) v->SetObject();
    return *v;
  }
  obj.AddMember(Name(name, a), rapidjson::Value(rapidjson::kObjectType), a);
  return (obj.MemberEnd() - 1)->value;
}

void SetNumber(rapidjson::Value& obj, absl::string_view name, double v,
               JsonAlloc& a) {
  if (!std::isfinite(v)) return;
  Set(obj, name, rapidjson::Value(v), a);
}

void SetInt(rapidjson::Value& obj, absl::string_view name, int64_t v,
            JsonAlloc& a) {
  Set(obj, name, rapidjson::Value(v), a);
}

void SetText(rapidjson::Value& obj, absl::string_view name,
             absl::string_view text, JsonAlloc& a) {
  Set(obj, name, Name(text, a), a);
}

void MergeInto(rapidjson::Value& dst, const rapidjson::Value& src,
               JsonAlloc& a) {
  if (!src.IsObject() || !dst.IsObject()) {
    dst.CopyFrom(src, a);
    return;
  }
  for (auto& m : src.GetObject()) {
    absl::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (m.value.IsObject()) {
      MergeInto(Child(dst, name, a), m.value, a);
    } else {
      Set(dst, name, rapidjson::Value(m.value, a), a);
    }
  }
}

std::string ToJson(const rapidjson::Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.SetMaxDecimalPlaces(3);
  v.Accept(w);
  return std::string(sb.GetString(), sb.GetSize());
}

std::string ToPrettyJson(const rapidjson::Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(sb);
  w.SetIndent(' ', 2);
  w.SetMaxDecimalPlaces(3);
  v.Accept(w);
  return std::string(sb.GetString(), sb.GetSize());
}

}  // namespace agent
}  // namespace canopy
