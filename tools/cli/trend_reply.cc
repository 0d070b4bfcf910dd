// GET /trend's JSON reply, read. See tools/cli/trend_reply.h.
#include "tools/cli/trend_reply.h"

#include "rapidjson/document.h"
#include "tools/cli/client.h"

namespace canopy {
namespace cli {

absl::StatusOr<TrendReply> ParseTrend(const HttpReply& reply) {
  absl::StatusOr<rapidjson::Document> doc = ParseReply(reply);
  if (!doc.ok()) return doc.status();
  TrendReply out;
  auto step = doc->FindMember("step");
  auto series = doc->FindMember("series");
  if (step == doc->MemberEnd() || !step->value.IsInt64() ||
      series == doc->MemberEnd() || !series->value.IsArray()) {
    return absl::DataLossError(
        "the server's /trend reply has no \"step\" or \"series\"");
  }
  out.step = step->value.GetInt64();
  auto truncated = doc->FindMember("truncated");
  out.truncated = truncated != doc->MemberEnd() && truncated->value.IsTrue();
  for (const rapidjson::Value& s : series->value.GetArray()) {
    if (!s.IsObject()) continue;
    auto key = s.FindMember("key");
    auto points = s.FindMember("points");
    if (key == s.MemberEnd() || !key->value.IsString()) continue;
    Series one;
    one.key.assign(key->value.GetString(), key->value.GetStringLength());
    if (points != s.MemberEnd() && points->value.IsArray()) {
      for (const rapidjson::Value& p : points->value.GetArray()) {
        // A value the server could not write as a number (NaN) is null.
        if (!p.IsArray() || p.Size() != 2 || !p[0].IsInt64() ||
            !p[1].IsNumber()) {
          continue;
        }
        one.points.emplace_back(p[0].GetInt64(), p[1].GetDouble());
      }
    }
    out.series.push_back(std::move(one));
  }
  return out;
}

}  // namespace cli
}  // namespace canopy
