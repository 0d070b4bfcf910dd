// What the CLI prints: exit codes, the one-line errors, numbers and values as
// a person reads them, aligned tables, and CSV fields. Every command prints
// through these, so that `canopy get`, `watch`, `diff` and `trend` look alike.
//
// Two audiences. When stdout is a terminal (and not --json), values are for
// a person: rounded, with the unit their key's name implies (ReadableNumber:
// KiB/MiB/GiB, %, s/min/h/d, ms, /s for rates) and keys in colour (not with
// NO_COLOR set or TERM=dumb). Piped or redirected, every value is exact
// (ValueText) and there is no colour, so scripts read what the server said.
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

// Whether output is for a person (see above); main sets it once, from
// isatty(1) and --json.
bool ForPerson();
void SetForPerson(bool for_person, bool colour);

// `d`, the value of leaf `key`, as a person reads it: its unit from the
// key's last segments, at most three significant digits past the unit's
// scale, whole numbers without a unit in full.
//   ...,bytes / *_bytes / rss / mem|swap|disk|cgroup,{total,used,...}
//                          1.5 GiB (1024-based; "/s" under diskio, net)
//   percent, *_percent     12.3 %
//   uptime, *_seconds      45 s, 12.5 min, 3.2 h, 4.1 d
//   *_ms                   123 ms
//   anything else          12.3, 0.0123, 12346
std::string ReadableNumber(absl::string_view key, double d);

// The value of leaf `key` as printed: ReadableNumber for a number when
// ForPerson(), else ValueText.
std::string DisplayValue(absl::string_view key, const rapidjson::Value& v);

// Colour of a table column (or a piece of text) when there is colour.
enum class Colour { kNone, kKey, kValue, kDim };
std::string Coloured(Colour colour, absl::string_view text);

// Prints rows of columns, each column padded to its widest cell; the last
// column is not padded. `colours[i]` colours column i when there is colour.
void PrintTable(const std::vector<std::vector<std::string>>& rows,
                const std::vector<Colour>& colours = {});

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
