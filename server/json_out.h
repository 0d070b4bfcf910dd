// A JSON writer for replies: RapidJSON's Writer with helpers for
// absl::string_view and for numbers (integral values print without ".0").
#ifndef CANOPY_SERVER_JSON_OUT_H_
#define CANOPY_SERVER_JSON_OUT_H_

#include <cfloat>
#include <cmath>
#include <string>

#include "absl/strings/string_view.h"
#include "canopy/key.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace canopy {

// Output is always valid UTF-8: Key() and String() write a string that is
// not (an error message echoing refused input) with U+FFFD for each bad
// byte. (RapidJSON's kWriteValidateEncodingFlag would stop the writer in
// the middle of the string instead, leaving broken JSON.) Write every
// string through them, not through w.Key / w.String.
struct JsonOut {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w{buffer};

  void Key(absl::string_view k) {
    if (!IsValidUtf8(k)) {
      std::string repaired = RepairUtf8(k);
      w.Key(repaired.data(), static_cast<rapidjson::SizeType>(repaired.size()),
            true);
      return;
    }
    w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
  }
  void String(absl::string_view s) {
    if (!IsValidUtf8(s)) {
      std::string repaired = RepairUtf8(s);
      w.String(repaired.data(),
               static_cast<rapidjson::SizeType>(repaired.size()), true);
      return;
    }
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  }
  // A number; +-inf (never made by the tree, whose figures stay finite)
  // saturate to +-DBL_MAX, so that null keeps its one meaning in /get and
  // /pull: "removed". NaN, which has no number, is null.
  void Number(double v) {
    if (std::isinf(v)) v = v > 0 ? DBL_MAX : -DBL_MAX;
    if (std::isnan(v)) {
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
