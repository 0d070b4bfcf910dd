// /render's answers as JSON and CSV (render.h): written as graphite-web
// writes them, and read back when another shard of a cluster wrote one.
#include <algorithm>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "canopy/number_text.h"
#include "rapidjson/document.h"
#include "server/graphite/path_glob.h"
#include "server/graphite/render.h"
#include "server/json_out.h"

namespace canopy {
namespace graphite {
namespace {

constexpr int64_t kLastTime = 253402300799;  // 9999-12-31 23:59:59 UTC

}  // namespace

namespace {

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

absl::StatusOr<SeriesList> ReadRender(absl::string_view body,
                                      const std::string& path, int64_t step,
                                      size_t* budget) {
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  if (d.HasParseError() || !d.IsArray()) {
    return absl::InvalidArgumentError("a render answer is not a JSON array");
  }
  // A figure of a timer read by its last segment is a quantile (FetchPath).
  bool quantile_path = false;
  if (absl::StatusOr<PathGlob> glob = PathGlob::Parse(path); glob.ok()) {
    const absl::string_view last = glob->LiteralLast();
    quantile_path = last == "p50" || last == "p90" || last == "p99";
  }
  SeriesList out;
  for (const auto& item : d.GetArray()) {
    if (!item.IsObject() || !item.HasMember("target") ||
        !item["target"].IsString() || !item.HasMember("datapoints") ||
        !item["datapoints"].IsArray()) {
      return absl::InvalidArgumentError("a render answer's series is bad");
    }
    const auto& points = item["datapoints"].GetArray();
    if (points.Size() > *budget) {
      return absl::InvalidArgumentError(
          absl::StrCat("this render would read more than ", kMaxRenderPoints,
                       " points; narrow the range or set maxDataPoints"));
    }
    *budget -= points.Size();
    Series s;
    s.name = item["target"].GetString();
    s.path_expression = path;
    s.step = step;
    s.quantile = quantile_path;
    s.values.reserve(points.Size());
    for (rapidjson::SizeType i = 0; i < points.Size(); ++i) {
      const auto& p = points[i];
      if (!p.IsArray() || p.Size() != 2 || !p[1].IsInt64() ||
          !(p[0].IsNumber() || p[0].IsNull())) {
        return absl::InvalidArgumentError("a render answer's point is bad");
      }
      const int64_t t = p[1].GetInt64();
      if (t < 0 || t > kLastTime) {
        return absl::InvalidArgumentError("a render answer's time is bad");
      }
      if (i == 0) s.start = t;
      if (t != s.start + step * static_cast<int64_t>(i)) {
        return absl::InvalidArgumentError(
            "a render answer's points are not at the step asked");
      }
      s.values.push_back(p[0].IsNull() ? kNull : p[0].GetDouble());
    }
    out.push_back(std::move(s));
  }
  return out;
}

Response WriteRender(const SeriesList& series, bool csv, bool no_null_points) {
  Response r;
  if (csv) {
    r.content_type = "text/csv; charset=utf-8";
    for (const Series& s : series) {
      std::string name = CsvField(s.name);
      for (size_t i = 0; i < s.values.size(); ++i) {
        double v = s.values[i];
        if (no_null_points && IsNull(v)) continue;
        int64_t t = s.start + s.step * static_cast<int64_t>(i);
        absl::StrAppend(
            &r.body, name, ",",
            absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixSeconds(t),
                             absl::UTCTimeZone()),
            ",", IsNull(v) ? "" : NumberText(v), "\r\n");
      }
    }
    return r;
  }
  // Each series is one JSON value of its own; a large answer is written
  // by two threads, each a run of series, and joined.
  auto write_run = [&](size_t begin, size_t end, std::string* text) {
    JsonOut out;
    for (size_t k = begin; k < end; ++k) {
      const Series& s = series[k];
      if (no_null_points &&
          std::all_of(s.values.begin(), s.values.end(), IsNull)) {
        continue;
      }
      if (out.buffer.GetSize() > 0) out.buffer.Put(',');
      out.w.Reset(out.buffer);
      out.w.StartObject();
      out.Key("target");
      out.String(s.name);
      out.Key("tags");
      out.w.StartObject();
      out.Key("name");
      out.String(s.name);
      out.w.EndObject();
      out.Key("datapoints");
      out.w.StartArray();
      for (size_t i = 0; i < s.values.size(); ++i) {
        double v = s.values[i];
        if (no_null_points && IsNull(v)) continue;
        out.w.StartArray();
        out.Number(v);  // null for a NaN
        out.w.Int64(s.start + s.step * static_cast<int64_t>(i));
        out.w.EndArray();
      }
      out.w.EndArray();
      out.w.EndObject();
    }
    *text = out.Take();
  };
  std::string first, second;
  const size_t half =
      series.size() >= kSeriesPerWriter * 2 ? series.size() / 2 : series.size();
  if (half < series.size()) {
    std::thread helper(write_run, half, series.size(), &second);
    write_run(0, half, &first);
    helper.join();
  } else {
    write_run(0, series.size(), &first);
  }
  r.body.reserve(first.size() + second.size() + 3);
  r.body = "[";
  r.body += first;
  if (!first.empty() && !second.empty()) r.body += ',';
  r.body += second;
  r.body += ']';
  return r;
}

}  // namespace graphite
}  // namespace canopy
