#include "server/live_json.h"

#include <utility>

namespace canopy {

void WriteLive(JsonOut& out, const LiveValue& v) {
  const Sketch* sketch = v.merged ? v.merged.get() : v.sketch;
  if (!v.has) {
    out.w.Null();
  } else if (sketch != nullptr) {
    // A timer: the window's distribution.
    out.w.StartObject();
    out.Key("count");
    out.Number(sketch->count());
    out.Key("mean");
    out.Number(sketch->sum() / sketch->count());
    out.Key("min");
    out.Number(sketch->min());
    out.Key("max");
    out.Number(sketch->max());
    for (auto [name, q] : {std::pair<const char*, double>{"p50", 0.5},
                           {"p90", 0.9},
                           {"p99", 0.99}}) {
      out.Key(name);
      out.Number(sketch->Quantile(q));
    }
    out.w.EndObject();
  } else if (v.is_text) {
    out.String(v.text);
  } else {
    out.Number(v.value);
  }
}

}  // namespace canopy
