// A JSON writer for replies: RapidJSON's Writer with helpers for
// absl::string_view and for numbers (integral values print without ".0").
#ifndef CANOPY_SERVER_JSON_OUT_H_
#define CANOPY_SERVER_JSON_OUT_H_

#include <cmath>
#include <string>

#include "absl/strings/string_view.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace canopy {

struct JsonOut {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w{buffer};

  void Key(absl::string_view k) {
    w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
  }
  void String(absl::string_view s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  }
  void Number(double v) {
    if (!std::isfinite(v)) {
      w.Null();
    } else if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0) {
      w.Int64(static_cast<int64_t>(v));
    } else {
      w.Double(v);
    }
  }
  std::string Take() {
    return std::string(buffer.GetString(), buffer.GetSize());
  }
};

}  // namespace canopy

#endif  // CANOPY_SERVER_JSON_OUT_H_
