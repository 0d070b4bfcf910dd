// The access-log formats behind LogParser::Create (canopy/pipe.h): the
// nginx log_format compiler, which also serves the named formats "combined"
// and "common" (they are nginx format strings), and Squid's native format.
//
//   absl::StatusOr<std::unique_ptr<LogParser>> p = CompileNginxFormat(
//       "$remote_addr [$time_local] \"$request\" $status $request_time");
//
// Internal to pipes/. Threads: a parser is immutable once made; any number
// of threads may use it at once.
#ifndef CANOPY_PIPES_LOG_FORMATS_H_
#define CANOPY_PIPES_LOG_FORMATS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "canopy/pipe.h"

namespace canopy {

// An nginx `log_format` string (holding at least one $variable). Fails on
// a format with no variable, an unclosed "${", a '$' without a name, or two
// variables with nothing between them.
absl::StatusOr<std::unique_ptr<LogParser>> CompileNginxFormat(
    absl::string_view format);

// Squid's native access.log: time elapsed remotehost code/status bytes
// method URL rfc931 peerstatus/peerhost type.
std::unique_ptr<LogParser> NewSquidParser();

}  // namespace canopy

#endif  // CANOPY_PIPES_LOG_FORMATS_H_
