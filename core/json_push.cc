#include "canopy/json_push.h"

#include <cmath>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "canopy/unit.h"
#include "rapidjson/error/en.h"
#include "rapidjson/reader.h"

namespace canopy {

TextPosition PositionAt(absl::string_view text, size_t offset) {
  TextPosition p{1, 1};
  if (offset > text.size()) offset = text.size();
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++p.line;
      p.column = 1;
    } else {
      ++p.column;
    }
  }
  return p;
}

namespace {

// True if `s` is a number written as a string ("0.00", "-3e2"): such strings
// are samples, not text leaves.
bool NumericString(absl::string_view s, double* out) {
  if (s.empty() || s.size() > 64) return false;
  char c = s.front();
  if (!(c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'))) {
    return false;
  }
  // SimpleAtod skips surrounding spaces; a numeric string has none.
  if (s.back() == ' ' || s.back() == '\t') return false;
  return absl::SimpleAtod(s, out) && std::isfinite(*out);
}

// True if `s` has a control character other than tab.
bool HasControl(absl::string_view s) {
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t') || u == 0x7f) return true;
  }
  return false;
}

// Turns RapidJSON's SAX events into PushOps. Any event may fail; the reader
// then stops and the handler's status explains why.
class PushHandler
    : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, PushHandler> {
 public:
  explicit PushHandler(Push* out) : out_(out) {}

  const absl::Status& status() const { return status_; }

  bool Null() {
    if (expect_ == Expect::kUnit) {
      SetUnit({});  // removes the node's own unit
      return Done();
    }
    return Fail("null is not a value");
  }
  bool Bool(bool) {
    if (expect_ == Expect::kUnit) return Fail(ReservedTypeError());
    return Fail("true and false are not values");
  }
  bool Int(int i) { return Number(i); }
  bool Uint(unsigned u) { return Number(u); }
  bool Int64(int64_t i) { return Number(static_cast<double>(i)); }
  bool Uint64(uint64_t u) { return Number(static_cast<double>(u)); }
  bool Double(double d) { return Number(d); }

  bool String(const char* str, rapidjson::SizeType len, bool) {
    absl::string_view s(str, len);
    double v;
    switch (expect_) {
      case Expect::kAction: {
        absl::StatusOr<Action> a = ParseAction(s);
        if (!a.ok()) return Fail(a.status().message());
        SetAction(*a);
        return Done();
      }
      case Expect::kMarker:
        if (s.empty() || s.size() > kMaxMarkerBytes) {
          return Fail(absl::StrCat("a marker is 1 to ", kMaxMarkerBytes,
                                   " bytes of text"));
        }
        if (HasControl(s)) return Fail("control character in marker");
        // RapidJSON decodes an escaped lone low surrogate ("\udc00") into
        // bytes that are not UTF-8 (its encoding check sees only raw bytes).
        if (!IsValidUtf8(s)) return Fail("marker is not valid UTF-8");
        AddMarker(s);
        return Done();
      case Expect::kTime:
        if (!NumericString(s, &v)) return Fail("\"time\" must be a number");
        return Number(v);
      case Expect::kUnit:
        if (absl::Status u = ValidateUnit(s); !u.ok()) {
          return Fail(u.message());
        }
        SetUnit(s);
        return Done();
      case Expect::kValue:
      case Expect::kSample:
        if (NumericString(s, &v)) return Number(v);
        if (expect_ == Expect::kSample) {
          return Fail("an array holds numbers only");
        }
        if (s.size() > kMaxTextBytes) {
          return Fail(
              absl::StrCat("text longer than ", kMaxTextBytes, " bytes"));
        }
        if (HasControl(s)) return Fail("control character in text value");
        if (!IsValidUtf8(s)) return Fail("text value is not valid UTF-8");
        EmitLeaf(PushOp::Kind::kText, 0, s);
        return Done();
      case Expect::kNothing:
        return Fail("the top level must be an object or a list of objects");
    }
    return false;
  }

  bool Key(const char* str, rapidjson::SizeType len, bool) {
    absl::string_view k(str, len);
    Frame& f = frames_.back();
    if (k == "defaultaction") {
      expect_ = Expect::kAction;
      return true;
    }
    if (k == "marker") {
      expect_ = Expect::kMarker;
      return true;
    }
    if (k == "unit") {
      expect_ = Expect::kUnit;
      return true;
    }
    if (f.top && k == "time") {
      expect_ = Expect::kTime;
      return true;
    }
    key_.clear();
    if (absl::Status s = AppendKey(k, depth_, &key_); !s.ok()) {
      return Fail(s.message());
    }
    expect_ = Expect::kValue;
    return true;
  }

  bool StartObject() {
    if (frames_.empty() || (frames_.back().array && frames_.back().top)) {
      Frame f = MakeFrame(true, false);
      f.first_op = out_->ops.size();
      frames_.push_back(std::move(f));
      expect_ = Expect::kNothing;
      return true;
    }
    if (expect_ == Expect::kSample) {
      return Fail(
          "an array holds numbers only (lists of objects are allowed "
          "at the top level only)");
    }
    if (expect_ != Expect::kValue) return Fail(ReservedTypeError());
    Frame f = MakeFrame(false, false);
    f.levels = static_cast<uint32_t>(key_.size());
    for (absl::string_view seg : key_) Emit(PushOp::Kind::kEnter, seg);
    f.self_op = out_->ops.size() - 1;
    NoteTopTarget(f.self_op);
    depth_ += key_.size();
    out_->node_refs += key_.size();
    frames_.push_back(std::move(f));
    expect_ = Expect::kNothing;
    return true;
  }

  bool EndObject(rapidjson::SizeType) {
    Frame f = std::move(frames_.back());
    frames_.pop_back();
    if (f.top) {
      for (const std::vector<absl::string_view>& key : f.top_keys) {
        for (absl::string_view m : f.top_markers) {
          out_->key_markers.push_back(
              Push::KeyMarker{key, m, static_cast<int64_t>(f.time)});
        }
        if (f.top_unit_set) {
          out_->key_units.push_back(Push::KeyUnit{key, f.top_unit});
        }
      }
      // In a list, the next object is dated now unless it says otherwise.
      if (f.time > 0 && !frames_.empty()) {
        PushOp op{PushOp::Kind::kTime};
        op.value = 0;
        out_->ops.push_back(op);
      }
    }
    Leave(f.levels);
    return Done();
  }

  bool StartArray() {
    if (frames_.empty()) {
      frames_.push_back(MakeFrame(true, true));
      return true;
    }
    if (expect_ != Expect::kValue) {
      if (expect_ == Expect::kSample) return Fail("arrays do not nest");
      return Fail(ReservedTypeError());
    }
    Frame f = MakeFrame(false, true);
    f.levels = static_cast<uint32_t>(key_.size() - 1);
    for (size_t i = 0; i + 1 < key_.size(); ++i) {
      Emit(PushOp::Kind::kEnter, key_[i]);
    }
    f.leaf = key_.back();
    f.first_sample = out_->ops.size();
    f.top_key_hint = key_;
    out_->node_refs += key_.size();
    depth_ += f.levels;
    frames_.push_back(std::move(f));
    expect_ = Expect::kSample;
    return true;
  }

  bool EndArray(rapidjson::SizeType) {
    Frame f = std::move(frames_.back());
    frames_.pop_back();
    if (!f.top) {
      depth_ -= f.levels;
      if (!frames_.empty() && frames_.back().top &&
          out_->ops.size() > f.first_sample) {
        NoteTopTarget(f.first_sample, f.top_key_hint);
      }
      if (f.levels > 0) {
        PushOp op{PushOp::Kind::kLeave};
        op.count = f.levels;
        out_->ops.push_back(op);
      }
    }
    expect_ = Expect::kNothing;
    return true;
  }

 private:
  enum class Expect {
    kNothing,
    kValue,
    kSample,
    kAction,
    kMarker,
    kTime,
    kUnit
  };

  struct Frame {
    bool top = false;
    bool array = false;
    uint32_t levels = 0;  // nodes entered for this container, left at its end
    size_t self_op = 0;   // nested object: the op that enters its node
    // Array of samples:
    absl::string_view leaf;
    size_t first_sample = 0;
    std::vector<absl::string_view> top_key_hint;
    // Top-level object: the ops naming its keys' nodes, for defaultaction
    // and markers.
    std::vector<size_t> top_targets;
    std::vector<std::vector<absl::string_view>> top_keys;
    std::vector<absl::string_view> top_markers;
    Action top_action = Action::kInherit;
    bool top_unit_set = false;
    absl::string_view top_unit;  // "": remove
    size_t first_op = 0;         // top-level object: where its ops start
    double time = 0;             // its "time"; 0: none (now)
  };

  static Frame MakeFrame(bool top, bool array) {
    Frame f;
    f.top = top;
    f.array = array;
    return f;
  }

  bool Fail(absl::string_view message) {
    if (status_.ok()) status_ = absl::InvalidArgumentError(message);
    return false;
  }

  std::string ReservedTypeError() const {
    switch (expect_) {
      case Expect::kAction:
        return "\"defaultaction\" must be a string";
      case Expect::kMarker:
        return "\"marker\" must be a string";
      case Expect::kTime:
        return "\"time\" must be a number";
      case Expect::kUnit:
        return "\"unit\" must be a string or null";
      default:
        return "the top level must be an object or a list of objects";
    }
  }

  // After a member's value: the next token in an object is a key.
  bool Done() {
    if (!frames_.empty() && frames_.back().array && !frames_.back().top) {
      expect_ = Expect::kSample;
    } else {
      expect_ = Expect::kNothing;
    }
    return true;
  }

  void Emit(PushOp::Kind kind, absl::string_view name) {
    PushOp op{kind};
    op.name = name;
    out_->ops.push_back(op);
  }

  void Leave(uint32_t levels) {
    if (levels == 0) return;
    depth_ -= levels;
    PushOp op{PushOp::Kind::kLeave};
    op.count = levels;
    out_->ops.push_back(op);
  }

  // A scalar member: enter the key's inner segments, write the leaf, leave.
  void EmitLeaf(PushOp::Kind kind, double value, absl::string_view text) {
    for (size_t i = 0; i + 1 < key_.size(); ++i) {
      Emit(PushOp::Kind::kEnter, key_[i]);
    }
    PushOp op{kind};
    op.name = key_.back();
    op.value = value;
    op.text = text;
    out_->ops.push_back(op);
    ++out_->leaves;
    out_->node_refs += key_.size();
    NoteTopTarget(out_->ops.size() - 1);
    if (key_.size() > 1) {
      PushOp leave{PushOp::Kind::kLeave};
      leave.count = static_cast<uint32_t>(key_.size() - 1);
      out_->ops.push_back(leave);
    }
  }

  // Records that op `index` names the node of one key of a top-level object.
  void NoteTopTarget(size_t index) { NoteTopTarget(index, key_); }
  void NoteTopTarget(size_t index, const std::vector<absl::string_view>& key) {
    // The frame that holds the member is the innermost one; only a member of
    // a top-level object is a target.
    Frame* holder = nullptr;
    if (!frames_.empty()) holder = &frames_.back();
    if (holder == nullptr || !holder->top || holder->array) return;
    holder->top_targets.push_back(index);
    holder->top_keys.push_back(key);
    if (holder->top_action != Action::kInherit) {
      out_->ops[index].action = holder->top_action;
    }
  }

  void SetAction(Action a) {
    Frame& f = frames_.back();
    if (f.top) {
      f.top_action = a;
      for (size_t i : f.top_targets) out_->ops[i].action = a;
    } else {
      out_->ops[f.self_op].action = a;
    }
  }

  // "time" dates every sample of its top-level object, wherever it stands
  // among the object's keys (a JSON object is unordered): its op goes
  // first in the object, before the samples already parsed.
  void SetTime(double v) {
    Frame& f = frames_.back();
    PushOp op{PushOp::Kind::kTime};
    op.value = v;
    if (f.time > 0) {
      // A second "time" in one object: the last one stands.
      out_->ops[f.first_op].value = v;
    } else {
      out_->ops.insert(out_->ops.begin() + f.first_op, op);
      // The object's targets (ops of its members) moved one place on.
      for (size_t& i : f.top_targets) ++i;
    }
    f.time = v;
  }

  void AddMarker(absl::string_view text) {
    Frame& f = frames_.back();
    if (f.top) {
      f.top_markers.push_back(text);
    } else {
      PushOp op{PushOp::Kind::kMarker};
      op.text = text;
      out_->ops.push_back(op);
    }
  }

  // "unit": on the object's node; at the top level, on each node the
  // object's other keys name (at the object's end, when all are known).
  void SetUnit(absl::string_view unit) {
    Frame& f = frames_.back();
    if (f.top) {
      f.top_unit_set = true;
      f.top_unit = unit;
    } else {
      PushOp op{PushOp::Kind::kUnit};
      op.text = unit;
      out_->ops.push_back(op);
    }
  }

  bool Number(double v) {
    if (!std::isfinite(v)) return Fail("numbers must be finite");
    switch (expect_) {
      case Expect::kTime: {
        if (v < 0 || v > 4102444800.0) {
          return Fail("\"time\" must be epoch seconds");
        }
        SetTime(v);
        return Done();
      }
      case Expect::kValue:
        EmitLeaf(PushOp::Kind::kSample, v, {});
        return Done();
      case Expect::kSample: {
        Frame& f = frames_.back();
        PushOp op{PushOp::Kind::kSample};
        op.name = f.leaf;
        op.value = v;
        out_->ops.push_back(op);
        ++out_->leaves;
        return true;
      }
      case Expect::kAction:
        return Fail("\"defaultaction\" must be a string");
      case Expect::kMarker:
        return Fail("\"marker\" must be a string");
      case Expect::kUnit:
        return Fail(ReservedTypeError());
      case Expect::kNothing:
        return Fail("the top level must be an object or a list of objects");
    }
    return false;
  }

  Push* out_;
  absl::Status status_;
  std::vector<Frame> frames_;
  KeySegments key_;
  size_t depth_ = 0;
  Expect expect_ = Expect::kNothing;
};

}  // namespace

absl::Status ParseJsonPush(absl::string_view json, Push* out,
                           TextPosition* where) {
  *out = Push();
  // RapidJSON 1.1.0's UTF-8 check reads up to three bytes past a multibyte
  // lead byte even at the end of the input: pad with NULs (never valid
  // continuation bytes) so that it stops inside the buffer. Found by fuzzing.
  constexpr size_t kPad = 4;
  out->storage.reset(new char[json.size() + kPad]);
  std::memcpy(out->storage.get(), json.data(), json.size());
  std::memset(out->storage.get() + json.size(), 0, kPad);
  // RapidJSON stops at a NUL; a NUL inside the body is an error, not an end.
  if (std::memchr(json.data(), '\0', json.size()) != nullptr) {
    size_t at =
        static_cast<const char*>(std::memchr(json.data(), '\0', json.size())) -
        json.data();
    *where = PositionAt(json, at);
    *out = Push();
    return absl::InvalidArgumentError("NUL byte in JSON");
  }

  rapidjson::InsituStringStream stream(out->storage.get());
  PushHandler handler(out);
  rapidjson::Reader reader;
  constexpr unsigned kFlags = rapidjson::kParseInsituFlag |
                              rapidjson::kParseValidateEncodingFlag |
                              rapidjson::kParseIterativeFlag;
  rapidjson::ParseResult result = reader.Parse<kFlags>(stream, handler);
  if (!result) {
    absl::Status status = handler.status();
    // The reader works on a copy of the stream, so the offset to report is
    // the reader's, for the handler's errors too.
    size_t offset = result.Offset();
    if (status.ok()) {
      status = absl::InvalidArgumentError(absl::StrCat(
          "malformed JSON: ", rapidjson::GetParseError_En(result.Code())));
    }
    *where = PositionAt(json, offset);
    *out = Push();
    return status;
  }
  return absl::OkStatus();
}

}  // namespace canopy
