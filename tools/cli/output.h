// What the CLI prints: exit codes, the one-line errors, numbers and values as
// a person reads them, aligned tables, and CSV fields. Every command prints
// through these, so that `canopy get`, `watch`, `diff` and `trend` look alike.
//
// Threads: the CLI is single-threaded; these write to std::cout and std::cerr.
#ifndef CANOPY_TOOLS_CLI_OUTPUT_H_
#define CANOPY_TOOLS_CLI_OUTPUT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "canopy/http_client.h"
#include "canopy/number_text.h"
#include "rapidjson/document.h"

namespace canopy {
namespace cli {

// Exit codes.
constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsageError = 2;

// Prints "canopy: <message>" on stderr (after what stdout holds); returns
// kFailed.
int Fail(absl::string_view message);

// Prints "canopy: <message> (see canopy --help)" on stderr; returns
// kUsageError.
int UsageError(absl::string_view message);

// The shortest decimal text that reads back as `d` (canopy/number_text.h).
using ::canopy::NumberText;

// A figure to read, not to parse: six significant digits (1234.57, 0.333333),
// whole numbers in full.
std::string ShortNumber(double d);

// A value as a person reads it: numbers in their shortest form, text as it
// is, null as "(removed)", anything else (a timer's figures) as compact JSON.
std::string ValueText(const rapidjson::Value& v);

// Prints rows of columns, each column padded to its widest cell; the last
// column is not padded.
void PrintTable(const std::vector<std::vector<std::string>>& rows);

// The {"key": value} pairs of an "items" array, in order.
std::vector<std::pair<std::string, const rapidjson::Value*>> Items(
    const rapidjson::Document& doc);

// Prints the reply's body as it is, ending in a newline; returns kOk.
int PrintRaw(const HttpReply& reply);

// One CSV line split into its fields (RFC 4180 quoting).
std::vector<std::string> CsvFields(absl::string_view line);

// `s` as one CSV field, quoted when it must be.
std::string CsvField(absl::string_view s);

}  // namespace cli
}  // namespace canopy

#endif  // CANOPY_TOOLS_CLI_OUTPUT_H_
