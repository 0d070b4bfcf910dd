// What the CLI prints: exit codes, the one-line errors, numbers and values as
// a person reads them, aligned tables, and CSV fields. Every command prints
// through these, so that `canopy get`, `watch`, `diff` and `trend` look alike.
//
// Two audiences. When stdout is a terminal (and not --json), values are for
// a person: rounded, with their unit (ReadableNumber: KiB/MiB/GiB, %,
// s/min/h/d, ms, /s for rates; the unit the server states for the leaf, from
// GET /api/units, else the one the key's name implies) and keys in colour
// (not with NO_COLOR set or TERM=dumb). Piped or redirected, every value is
// exact (ValueText) and there is no colour, so scripts read what the server
// said.
//
// Threads: the CLI is single-threaded; these write to std::cout and std::cerr.
#ifndef CANOPY_TOOLS_CLI_OUTPUT_H_
#define CANOPY_TOOLS_CLI_OUTPUT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
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

// The units the server states for leaves (GET /api/units: a unit pushed
// with "unit", a timer's ms, or inferred), by key. Units that are not valid
// (canopy/unit.h ValidateUnit: a control character could drive the
// terminal) are left out.
void SetServerUnits(const absl::flat_hash_map<std::string, std::string>& units);

// The unit leaf `key` is shown with: the server's (SetServerUnits), else
// the one its name implies (canopy/unit.h InferUnit).
absl::string_view UnitOf(absl::string_view key);

// `d`, the value of leaf `key`, as a person reads it: FormatWithUnit with
// UnitOf(key) (canopy/unit.h), at most three significant digits past the
// unit's scale, whole numbers without a unit in full and without
// separators. Units from the key's name:
//   ...,bytes / *_bytes / rss / mem|swap|disk|cgroup,{total,used,...}
//                          1.5 GiB (1024-based; "/s" under diskio, net)
//   percent, *_percent, cpu,{user,idle,...}     12.3 %
//   uptime, *_seconds      45 s, 12.5 min, 3.2 h, 4.1 d
//   *_ms                   123 ms
//   anything else          12.3, 0.0123, 12346
// A unit that is not a known word follows the figure as it is: "3.5 jobs".
std::string ReadableNumber(absl::string_view key, double d);
// The same with the unit given.
std::string ReadableFigure(double d, absl::string_view unit);

// The value of leaf `key` as printed: ReadableNumber for a number when
// ForPerson() (and a timer's figures as "p50 12 ms, p99 30 ms, n 52"), else
// ValueText.
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
