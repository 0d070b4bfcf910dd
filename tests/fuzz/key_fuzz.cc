// Fuzzes key and pattern parsing and matching: no input may crash them, and
// a key that splits must join back to itself.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "canopy/key.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<canopy::KeySegments> key = canopy::SplitKey(text);
  if (key.ok() && canopy::JoinKey(*key) != text) abort();
  // Split the input in two: a pattern and a key to match it against.
  size_t cut = text.find('|');
  std::string pattern = text.substr(0, cut);
  std::string subject = cut == std::string::npos ? "" : text.substr(cut + 1);
  absl::StatusOr<canopy::Pattern> p = canopy::Pattern::Parse(pattern);
  absl::StatusOr<canopy::KeySegments> k = canopy::SplitKey(subject);
  if (p.ok() && k.ok()) {
    bool matched = p->Matches(*k);
    // "**" matches everything.
    if (!matched && pattern == "**") abort();
    (void)p->FixedPrefix();
  }
  return 0;
}
