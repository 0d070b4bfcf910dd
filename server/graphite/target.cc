// The target expression parser (target.h): recursive descent over the text,
// bounded in depth. Pure; any thread.
#include "server/graphite/target.h"

#include <cctype>
#include <cmath>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "canopy/number_text.h"

namespace canopy {
namespace graphite {
namespace {

bool IsNameStart(char c) {
  return absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
}
// Bytes of a path outside braces (non-ASCII bytes are UTF-8 segment text).
bool IsPathChar(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  if (u >= 0x80 || absl::ascii_isalnum(u)) return true;
  switch (c) {
    case '_':
    case '.':
    case '*':
    case '?':
    case '[':
    case ']':
    case '{':
    case '}':
    case ':':
    case '-':
    case '~':
    case '^':
    case '$':
    case '@':
    case '#':
    case '%':
    case '+':
    case '!':
    case '<':
    case '>':
    case '|':
    case '&':
    case ';':
    case '/':
    case '\\':
      return true;
    default:
      return false;
  }
}

bool LooksNumeric(absl::string_view t) {
  size_t i = 0;
  if (i < t.size() && (t[i] == '-' || t[i] == '+')) ++i;
  if (i < t.size() && t[i] == '.') ++i;
  return i < t.size() && absl::ascii_isdigit(static_cast<unsigned char>(t[i]));
}

class Parser {
 public:
  explicit Parser(absl::string_view text) : s_(text) {}

  absl::StatusOr<Expr> ParseAll() {
    absl::StatusOr<Expr> e = ParseExpr(0);
    if (!e.ok()) return e;
    SkipSpace();
    if (pos_ != s_.size()) return Error("the end of the target");
    return e;
  }

 private:
  absl::Status Error(absl::string_view expected) const {
    std::string found = pos_ < s_.size()
                            ? absl::StrCat("'", s_.substr(pos_, 1), "'")
                            : std::string("the end");
    return absl::InvalidArgumentError(
        absl::StrCat("bad target at column ", pos_ + 1, ": expected ", expected,
                     ", found ", found));
  }
  void SkipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' ||
                                s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }

  absl::StatusOr<Expr> ParseExpr(int depth) {
    SkipSpace();
    if (pos_ >= s_.size()) return Error("an expression");
    char c = s_[pos_];
    if (c == '\'' || c == '"') return ParseString();
    // A name followed by '(' is a call.
    if (IsNameStart(c)) {
      size_t end = pos_;
      while (end < s_.size() && IsNameChar(s_[end])) ++end;
      size_t after = end;
      while (after < s_.size() && (s_[after] == ' ' || s_[after] == '\t')) {
        ++after;
      }
      if (after < s_.size() && s_[after] == '(') {
        return ParseCall(depth, s_.substr(pos_, end - pos_), after);
      }
    }
    return ParseToken();
  }

  absl::StatusOr<Expr> ParseCall(int depth, absl::string_view name,
                                 size_t paren) {
    if (depth >= kMaxDepth) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad target at column ", pos_ + 1,
                       ": calls nested deeper than ", kMaxDepth));
    }
    size_t start = pos_;
    Expr e;
    e.kind = Expr::kCall;
    e.name = std::string(name);
    pos_ = paren + 1;
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == ')') {
      ++pos_;
      e.text = std::string(s_.substr(start, pos_ - start));
      return e;
    }
    while (true) {
      SkipSpace();
      // A keyword argument: NAME '=' expr.
      size_t save = pos_;
      std::string kw;
      if (pos_ < s_.size() && IsNameStart(s_[pos_])) {
        size_t end = pos_;
        while (end < s_.size() && IsNameChar(s_[end])) ++end;
        size_t after = end;
        while (after < s_.size() && s_[after] == ' ') ++after;
        if (after < s_.size() && s_[after] == '=') {
          kw = std::string(s_.substr(pos_, end - pos_));
          pos_ = after + 1;
        }
      }
      absl::StatusOr<Expr> arg = ParseExpr(depth + 1);
      if (!arg.ok()) return arg.status();
      if (!kw.empty()) {
        e.kwargs.emplace_back(std::move(kw), std::move(*arg));
      } else {
        if (!e.kwargs.empty()) {
          pos_ = save;
          return Error("a keyword argument (positional after keyword)");
        }
        e.args.push_back(std::move(*arg));
      }
      SkipSpace();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == ')') {
        ++pos_;
        break;
      }
      return Error("',' or ')'");
    }
    e.text = std::string(s_.substr(start, pos_ - start));
    return e;
  }

  absl::StatusOr<Expr> ParseString() {
    char quote = s_[pos_];
    size_t start = pos_;
    ++pos_;
    Expr e;
    e.kind = Expr::kString;
    while (pos_ < s_.size() && s_[pos_] != quote) {
      if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) ++pos_;
      e.text += s_[pos_++];
    }
    if (pos_ >= s_.size()) {
      pos_ = start;
      return Error("a closing quote for the string opened here");
    }
    ++pos_;
    return e;
  }

  // A path, a number, a bool or None.
  absl::StatusOr<Expr> ParseToken() {
    size_t start = pos_;
    int braces = 0;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '{') {
        ++braces;
      } else if (c == '}') {
        if (braces == 0) break;
        --braces;
      } else if (c == ',' && braces > 0) {
        // an alternative inside {a,b}
      } else if (!IsPathChar(c)) {
        break;
      }
      ++pos_;
    }
    if (braces > 0) return Error("'}' to close the '{'");
    if (pos_ == start) return Error("a path, a number, a string or a call");
    absl::string_view t = s_.substr(start, pos_ - start);
    Expr e;
    e.text = std::string(t);
    double d;
    if (LooksNumeric(t) && t.find_first_of("*?[{") == absl::string_view::npos &&
        absl::SimpleAtod(t, &d)) {
      if (!std::isfinite(d)) {
        pos_ = start;
        return Error("a number a double holds");
      }
      e.kind = Expr::kNumber;
      e.number = d;
      return e;
    }
    std::string lower = absl::AsciiStrToLower(t);
    if (lower == "true" || lower == "false") {
      e.kind = Expr::kBool;
      e.boolean = lower == "true";
    } else if (t == "None") {
      e.kind = Expr::kNone;
    } else {
      e.kind = Expr::kPath;
    }
    return e;
  }

  absl::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<Expr> ParseTarget(absl::string_view text) {
  if (text.size() > kMaxTargetBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad target: longer than ", kMaxTargetBytes, " bytes"));
  }
  return Parser(text).ParseAll();
}

std::string ExprText(const Expr& e) {
  switch (e.kind) {
    case Expr::kPath:
      return e.text;
    case Expr::kNumber:
      return NumberText(e.number);
    case Expr::kString: {
      std::string out = "'";
      for (char c : e.text) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
      }
      return out + "'";
    }
    case Expr::kBool:
      return e.boolean ? "True" : "False";
    case Expr::kNone:
      return "None";
    case Expr::kCall: {
      std::string out = absl::StrCat(e.name, "(");
      bool first = true;
      for (const Expr& a : e.args) {
        if (!first) out += ",";
        first = false;
        out += ExprText(a);
      }
      for (const auto& [k, v] : e.kwargs) {
        if (!first) out += ",";
        first = false;
        absl::StrAppend(&out, k, "=", ExprText(v));
      }
      return out + ")";
    }
  }
  return "";
}

}  // namespace graphite
}  // namespace canopy
