#include "canopy/json_push.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace canopy {
namespace {

// A readable trace of the ops: "+br +ie 7=3 -2".
std::string Trace(const Push& p) {
  std::string out;
  for (const PushOp& op : p.ops) {
    if (!out.empty()) out += " ";
    std::string act = op.action == Action::kInherit
                          ? ""
                          : "[" + std::string(ActionName(op.action)) + "]";
    switch (op.kind) {
      case PushOp::Kind::kEnter:
        out += "+" + std::string(op.name) + act;
        break;
      case PushOp::Kind::kLeave:
        out += "-" + std::to_string(op.count);
        break;
      case PushOp::Kind::kSample: {
        char buf[32];
        snprintf(buf, sizeof buf, "%g", op.value);
        out += std::string(op.name) + act + "=" + buf;
        break;
      }
      case PushOp::Kind::kText:
        out += std::string(op.name) + act + "='" + std::string(op.text) + "'";
        break;
      case PushOp::Kind::kMarker:
        out += "marker'" + std::string(op.text) + "'";
        break;
      case PushOp::Kind::kTime:
        out += "time=" + std::to_string(static_cast<int64_t>(op.value));
        break;
      case PushOp::Kind::kUnit:
        out += "unit'" + std::string(op.text) + "'";
        break;
      case PushOp::Kind::kSketch:  // never parsed from JSON
        out += std::string(op.name) + "=sketch";
        break;
    }
  }
  return out;
}

std::string Parse(const std::string& json) {
  Push p;
  TextPosition where;
  absl::Status s = ParseJsonPush(json, &p, &where);
  if (!s.ok()) {
    return "error " + std::to_string(where.line) + ":" +
           std::to_string(where.column) + " " + std::string(s.message());
  }
  return Trace(p);
}

TEST(JsonPushTest, CommaKeysSplitAtAnyLevel) {
  EXPECT_EQ(Parse(R"({"br,ie": {"7": 3}})"), "+br +ie 7=3 -2");
  EXPECT_EQ(Parse(R"({"br": {"ie,7": 3}})"), "+br +ie 7=3 -1 -1");
}

TEST(JsonPushTest, NumbersTextsAndArrays) {
  EXPECT_EQ(Parse(R"({"a": "0.00", "b": "up", "c": [1, "2.5"], "d": -1e3})"),
            "a=0 b='up' c=1 c=2.5 d=-1000");
  Push p;
  TextPosition where;
  ASSERT_TRUE(ParseJsonPush(R"({"a": "x", "b": [1, 2]})", &p, &where).ok());
  EXPECT_EQ(p.leaves, 3u);
}

TEST(JsonPushTest, DefaultActionAppliesToTheObjectsNode) {
  // The seed writes defaultaction after the children: it is hoisted.
  EXPECT_EQ(Parse(R"({"cpu": {"idle": 3, "defaultaction": "average"}})"),
            "+cpu[avg] idle=3 -1");
  // At the top level it applies to each key of that object, not the root.
  EXPECT_EQ(
      Parse(
          R"([{"cpu": {"h": {"idle": 32}}, "x": 1, "defaultaction": "sum"}])"),
      "+cpu[add] +h idle=32 -1 -1 x[add]=1");
  EXPECT_EQ(Parse(R"({"defaultaction": "max", "s": [1, 2]})"), "s[max]=1 s=2");
  EXPECT_EQ(Parse(R"({"a,b": {"c": 1, "defaultaction": "min"}})"),
            "+a +b[min] c=1 -2");
}

TEST(JsonPushTest, MarkersAndTime) {
  EXPECT_EQ(Parse(R"({"h": {"marker": "deploy 1.4", "x": 1}})"),
            "+h marker'deploy 1.4' x=1 -1");
  Push p;
  TextPosition where;
  ASSERT_TRUE(ParseJsonPush(R"({"time": 1700000000, "a": 1, "marker": "m"})",
                            &p, &where)
                  .ok());
  EXPECT_EQ(Trace(p), "time=1700000000 a=1");
  ASSERT_EQ(p.key_markers.size(), 1u);
  EXPECT_EQ(p.key_markers[0].time, 1700000000);
  EXPECT_EQ(p.key_markers[0].key, (KeySegments{"a"}));
  // Below the top level "time" is an ordinary name.
  EXPECT_EQ(Parse(R"({"x": {"time": 5}})"), "+x time=5 -1");
}

// Issue 18: reserved keys mean the same wherever they stand in an object
// (JSON objects are unordered). Each key, each order: the same push.
TEST(JsonPushTest, ReservedKeysMeanTheSameInEveryOrder) {
  struct Case {
    const char* first;
    const char* last;
  };
  const Case cases[] = {
      // time: its op goes first in the object, before the samples.
      {R"({"time": 1700000000, "x": 1, "y": {"z": 2}})",
       R"({"x": 1, "y": {"z": 2}, "time": 1700000000})"},
      // defaultaction, top level and nested.
      {R"({"defaultaction": "add", "x": 1, "y": [2]})",
       R"({"x": 1, "y": [2], "defaultaction": "add"})"},
      {R"({"n": {"defaultaction": "max", "a": 1}})",
       R"({"n": {"a": 1, "defaultaction": "max"}})"},
      // marker, top level (key markers) and nested.
      {R"({"marker": "deploy", "x": 1})", R"({"x": 1, "marker": "deploy"})"},
      {R"({"n": {"marker": "m", "a": 1}})",
       R"({"n": {"a": 1, "marker": "m"}})"},
      // all of them at once, in a list.
      {R"([{"time": 1700000000, "defaultaction": "add", "marker": "m",
            "x": 1}, {"y": 2}])",
       R"([{"x": 1, "marker": "m", "defaultaction": "add",
            "time": 1700000000}, {"y": 2}])"},
  };
  for (const Case& c : cases) {
    Push a, b;
    TextPosition where;
    ASSERT_TRUE(ParseJsonPush(c.first, &a, &where).ok()) << c.first;
    ASSERT_TRUE(ParseJsonPush(c.last, &b, &where).ok()) << c.last;
    // Nested markers are ops at their place among the object's members
    // (they apply to the object's node either way): compare without them.
    auto without_markers = [](std::string t) {
      for (size_t at; (at = t.find(" marker'm'")) != std::string::npos;) {
        t.erase(at, 10);
      }
      for (size_t at; (at = t.find("marker'm' ")) != std::string::npos;) {
        t.erase(at, 10);
      }
      return t;
    };
    EXPECT_EQ(without_markers(Trace(a)), without_markers(Trace(b)))
        << c.first << " vs " << c.last;
    ASSERT_EQ(a.key_markers.size(), b.key_markers.size()) << c.first;
    for (size_t i = 0; i < a.key_markers.size(); ++i) {
      EXPECT_EQ(a.key_markers[i].key, b.key_markers[i].key);
      EXPECT_EQ(a.key_markers[i].time, b.key_markers[i].time);
    }
  }
  // The time leads the object's ops, and the next object of a list is
  // dated now again.
  EXPECT_EQ(Parse(R"([{"x": 1, "time": 1700000000}, {"y": 2}])"),
            "time=1700000000 x=1 time=0 y=2");
  Push p;
  TextPosition where;
  ASSERT_TRUE(ParseJsonPush(R"({"x": 1, "marker": "m", "time": 1700000000})",
                            &p, &where)
                  .ok());
  ASSERT_EQ(p.key_markers.size(), 1u);
  EXPECT_EQ(p.key_markers[0].time, 1700000000);
}

TEST(JsonPushTest, UnitsGoToTheirObjectsNodeOrTheTopLevelKeys) {
  EXPECT_EQ(Parse(R"({"h": {"unit": "bytes", "x": 1}})"),
            "+h unit'bytes' x=1 -1");
  EXPECT_EQ(Parse(R"({"h": {"x": 1, "unit": null}})"), "+h x=1 unit'' -1");
  Push p;
  TextPosition where;
  ASSERT_TRUE(
      ParseJsonPush(R"({"a,b": 1, "unit": "ms", "c": [1, 2]})", &p, &where)
          .ok());
  ASSERT_EQ(p.key_units.size(), 2u);
  EXPECT_EQ(p.key_units[0].key, (KeySegments{"a", "b"}));
  EXPECT_EQ(p.key_units[0].unit, "ms");
  EXPECT_EQ(p.key_units[1].key, (KeySegments{"c"}));
}

TEST(JsonPushTest, ABadUnitIsRefusedWithItsReason) {
  for (const auto& [json, reason] :
       std::vector<std::pair<std::string, std::string>>{
           {R"({"h": {"unit": 3, "x": 1}})",
            "\"unit\" must be a string or null"},
           {R"({"h": {"unit": true}})", "\"unit\" must be a string or null"},
           {R"({"h": {"unit": ["ms"]}})", "\"unit\" must be a string or null"},
           {R"({"h": {"unit": {"a": 1}}})",
            "\"unit\" must be a string or null"},
           {R"({"h": {"unit": ""}})", "a unit is 1 to 32 bytes"},
           {R"({"x": 1, "unit": "0123456789012345678901234567890123"})",
            "a unit is 1 to 32 bytes"},
           {R"({"h": {"unit": "m\ts"}})", "control character in unit"},
           {R"({"h": {"unit": "\udc00"}})", "unit is not valid UTF-8"},
           {R"({"h": {"unit": " ms"}})", "a unit has no space at either end"},
       }) {
    Push p;
    TextPosition where;
    absl::Status s = ParseJsonPush(json, &p, &where);
    EXPECT_FALSE(s.ok()) << json;
    EXPECT_EQ(s.message(), reason) << json;
    EXPECT_TRUE(p.ops.empty() && p.key_units.empty()) << json;
  }
}

TEST(JsonPushTest, LoneSurrogatesAreRefusedInTextsAndMarkers) {
  // RapidJSON decodes "\udc00" into bytes that are not UTF-8; keys were
  // refused already, texts and markers are now.
  EXPECT_EQ(Parse(R"({"x": "\udc00x"})"),
            "error 1:16 text value is not valid UTF-8");
  EXPECT_EQ(Parse(R"({"x\udc00": 1})").substr(0, 6), "error ");
  EXPECT_EQ(Parse(R"({"x": 1, "marker": "\udc00"})"),
            "error 1:28 marker is not valid UTF-8");
  // A well-formed pair is a character like any other.
  EXPECT_EQ(Parse(R"({"x": "\ud83d\ude00"})"), "x='\xf0\x9f\x98\x80'");
}

TEST(JsonPushTest, ErrorsSayWhatAndWhere) {
  EXPECT_EQ(Parse("{\"a\": 1,\n  \"b\": nul}"),
            "error 2:11 malformed JSON: Invalid value.");
  EXPECT_EQ(Parse(R"({"a": null})"), "error 1:11 null is not a value");
  EXPECT_EQ(Parse(R"({"a,,b": 1})"),
            "error 1:8 bad key \"a,,b\": empty segment");
  EXPECT_EQ(Parse(R"({"a": {"defaultaction": 3}})"),
            "error 1:25 \"defaultaction\" must be a string");
  EXPECT_EQ(Parse(R"([1])"),
            "error 1:2 the top level must be an object or a list of objects");
  EXPECT_EQ(Parse(R"({"a": [{"b": 1}]})"),
            "error 1:8 an array holds numbers only (lists of objects are "
            "allowed at the top level only)");
  EXPECT_EQ(Parse(std::string("{\"a\": 1}\0", 9)).substr(0, 9), "error 1:9");
  EXPECT_EQ(Parse(R"({"a": "\u0000"})").substr(0, 5), "error");
  std::string text(kMaxTextBytes + 1, 'x');
  EXPECT_NE(Parse("{\"a\": \"" + text + "\"}").find("text longer"),
            std::string::npos);
}

TEST(JsonPushTest, DepthIsCountedAcrossNestingAndCommas) {
  std::string key = "a";
  for (int i = 1; i < 31; ++i) key += ",a";
  EXPECT_EQ(Parse("{\"" + key + "\": {\"b\": 1}}").substr(0, 5), "+a +a");
  EXPECT_NE(
      Parse("{\"" + key + "\": {\"b\": {\"c\": 1}}}").find("deeper than 32"),
      std::string::npos);
}

// Regression: a multibyte lead byte at the very end made RapidJSON read past
// the buffer (caught by ASan in the fuzz target).
TEST(JsonPushTest, TruncatedUtf8AtTheEndIsAnError) {
  for (const char* cut : {"{\"\xe2", "{\"\xf0\x9f", "{\"a\": \"\xc3"}) {
    EXPECT_EQ(Parse(cut).substr(0, 5), "error") << cut;
  }
}

TEST(JsonPushTest, PositionAt) {
  TextPosition p = PositionAt("ab\ncd", 4);
  EXPECT_EQ(p.line, 2u);
  EXPECT_EQ(p.column, 2u);
}

}  // namespace
}  // namespace canopy
