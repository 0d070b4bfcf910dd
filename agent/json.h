// Small helpers to build the agent's JSON tree with RapidJSON. Names and
// texts are copied into the document's allocator.
#ifndef CANOPY_AGENT_JSON_H_
#define CANOPY_AGENT_JSON_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "rapidjson/document.h"

namespace canopy {
namespace agent {

using JsonAlloc = rapidjson::Document::AllocatorType;

// The object member `name` of `obj`, added as an empty object if missing.
rapidjson::Value& Child(rapidjson::Value& obj, absl::string_view name,
                        JsonAlloc& a);
void SetNumber(rapidjson::Value& obj, absl::string_view name, double v,
               JsonAlloc& a);
void SetInt(rapidjson::Value& obj, absl::string_view name, int64_t v,
            JsonAlloc& a);
void SetText(rapidjson::Value& obj, absl::string_view name,
             absl::string_view text, JsonAlloc& a);

// Merges `src` into `dst`: objects member by member (recursively), anything
// else replaces what `dst` had under that name.
void MergeInto(rapidjson::Value& dst, const rapidjson::Value& src,
               JsonAlloc& a);

// Compact JSON with at most 3 decimals (percents and rates need no more).
std::string ToJson(const rapidjson::Value& v);
// Indented, for --once.
std::string ToPrettyJson(const rapidjson::Value& v);

}  // namespace agent
}  // namespace canopy

#endif  // CANOPY_AGENT_JSON_H_
