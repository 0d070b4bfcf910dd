// canopy: the command-line client of canopyd.
//
//   canopy get host,web1,cpu,user            # the leaves under a key, now
//   canopy watch 'host,*,load'               # their changes, as they come
//   canopy push web,hits=1 --action=add      # write leaves
//   canopy tree host,web1 --depth=2          # the subtree, drawn like tree(1)
//   canopy diff br,ie br,webkit              # two subtrees side by side
//   canopy rm host,old                       # remove a subtree
//   canopy trend host,web1,load,1 --from=-6h --spark   # history
//   canopy export --day=2026-11-20 --out=dump          # a day as CSV + tar.gz
//   canopy pipe --follow /var/log/nginx/access.log      # logs to the pipes
//
// This file holds the usage text, the flags every command shares, --config,
// and the command table; each command is a file of its own in tools/cli/
// (commands.h). Every command is one or a few requests through the Server of
// tools/cli/client.h against the HTTP API in API.md ("Reading", "Pushing
// data"); replies are read with RapidJSON. Errors print one line,
// "canopy: <what went wrong>", and the exit code is 1 (2 for a usage error).
//
// Threads: single-threaded.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "canopy/http_client.h"
#include "canopy/program.h"
#include "tools/cli/client.h"
#include "tools/cli/commands.h"
#include "tools/cli/output.h"

ABSL_FLAG(std::string, server, "http://127.0.0.1:7575",
          "canopyd's HTTP address, http://HOST:PORT (default: "
          "$CANOPY_SERVER if set)");
ABSL_FLAG(std::string, token, "",
          "sent as 'Authorization: Bearer TOKEN' (canopyd --write_token or "
          "--read_token; default: $CANOPY_TOKEN)");
ABSL_FLAG(double, timeout, 10, "seconds to wait for a reply");
ABSL_FLAG(std::string, config, "",
          "a file of flag=value lines (# comments); the command line wins");
ABSL_FLAG(bool, json, false, "print the server's JSON reply as it is");
ABSL_FLAG(std::string, step, "",
          "trend: seconds per point (60, 10s, 1m, 1h; default: the server "
          "picks ~600 points); export: default 10s");
ABSL_FLAG(std::string, fn, "avg",
          "trend, export: avg, sum, min, max, last, count, rate, p50, p90, "
          "p99");

namespace canopy {
namespace cli {
namespace {

constexpr char kUsage[] =
    R"usage(canopy: the command-line client of canopyd.

Usage: canopy [flags] COMMAND [ARGS...]

Commands:
  get KEY...           the leaves under KEY now, as "key value" lines
  watch KEY...         print changed leaves as they change (long-poll);
                       "key (removed)" for removed leaves; Ctrl-C stops
  push key=value...    write leaves (numbers stay numbers, else text);
  push - | --file=F    send a JSON tree from stdin or a file as it is
  tree [KEY]           the subtree under KEY (default: the root), drawn
  diff A B             the subtrees A and B aligned by relative path
  rm KEY               remove the subtree KEY
  trend KEY...         history: per series a table of local time and value
                       (6 significant digits); --spark: one line per series
                       (sparkline, min, max, last); --csv, --json: the
                       server's reply, exact (times in epoch seconds)
  export --day=D --out=DIR
                       one CSV file per series for the UTC day D
                       (DIR/<key>.csv, header "time,<key>", epoch seconds)
                       and DIR/canopy-export-D.tar.gz of them (needs tar)
  pipe FILE...         send access logs ('-' for stdin) to the server's log
                       pipes (POST /push accesslog=, --batch_lines lines at
                       a time): hits, bytes, status, browsers, OS, URLs,
                       times, traffic per domain under --prefix; --follow
                       keeps reading like tail -F (rotation by rename or
                       copy-truncate included) until Ctrl-C or SIGTERM.
                       Prints lines sent and what the server counted
  help [COMMAND]       this text, or COMMAND's own

Keys are segments joined by commas: host,web1,cpu,user. In get, watch, trend
and export a segment may be * (any one), a glob (web*), or ** (any depth).

Output: on a terminal, values are rounded and carry the unit their key's
name implies (bytes in KiB/MiB/GiB, %, s/min/h/d, ms, /s for the agent's
rates) and keys are in colour (not with NO_COLOR set or TERM=dumb). Piped,
redirected or with --json, every value is exact and there is no colour.

Environment: CANOPY_SERVER (the default of --server) and CANOPY_TOKEN (of
--token); --config and the command line win over them.

Flags:
  --server=URL     canopyd's address (default $CANOPY_SERVER, else
                   http://127.0.0.1:7575)
  --token=T        sent as "Authorization: Bearer T" (default $CANOPY_TOKEN)
  --timeout=S      seconds to wait for a reply (default 10)
  --config=FILE    flag=value lines, overridden by the command line
  --json           print the server's JSON reply as it is (get, watch, tree,
                   diff; watch prints one reply per line)
  --limit=N        get: at most N leaves
  --count=N        watch: stop after N replies with changes
  --since=S        watch: start after seq S (default: from now; 0: all)
  --action=A       push: action of the pushed keys (add, avg, max, ...)
  --file=F         push: a JSON file to send ('-' for stdin)
  --depth=N        tree: levels below the key
  --actions        tree: show each node's action
  --from=T         trend: start (default -1h): epoch seconds, -1h, -7d, now,
                   or local time 2026-11-20T10:00[:00] / 2026-11-20
  --to=T           trend: end, inclusive (default now)
  --step=S         trend: seconds per point (60, 10s, 1m, 1h; default: the
                   server's choice, ~600 points); export: default 10s
  --fn=F           trend, export: avg (default), sum, min, max, last, count,
                   rate, p50, p90, p99
  --csv            trend: print CSV (time,<key>,... one column per key)
  --spark          trend: sparklines (at most --width=N characters, 60)
  --day=D          export: UTC day YYYY-MM-DD, today or yesterday
  --key=K          export: keys to export (default **, everything); KEY
                   arguments do the same
  --out=DIR        export: where to write (created if missing)
  --format=F       pipe: combined (default; also nginx), common, squid, or
                   an nginx log_format string ('$remote_addr - ... $host')
  --prefix=P       pipe: key prefix of the counts (default web; web,eu)
  --follow         pipe: follow the files (poll every 250 ms; a file renamed
                   away is drained, then the new one read from its start; a
                   truncated one is read again from its start)
  --batch_lines=N  pipe: lines per request (default 5000; at most 2 MiB);
                   lines over 64 KiB are not sent

Export file names: the key, commas kept (host,web1,cpu,idle.csv); bytes
unsafe in file names (/ \ : * ? " < > | %, control characters, a leading
. or -) are percent-encoded (%2F), so a name maps back to its key; names
past 200 bytes are cut and end in ~ and a hash. The archive unpacks into
canopy-export-D/.

Examples:
  canopy push web,hits=1 web,host=web1 --action=add
  canopy get 'host,*,load,1'
  canopy watch host,web1,cpu --count=1
  canopy tree host,web1 --depth=2 --actions
  canopy trend 'host,web1,load,1' --from=-6h --step=5m
  canopy trend 'host,*,cpu,idle' --from=-1d --spark
  canopy export --day=2026-11-20 --key='host,web1,**' --out=/tmp/nov20
  canopy pipe --format=nginx --prefix=web /var/log/nginx/access.log.1
  canopy pipe --follow --prefix=web,eu /var/log/nginx/access.log
  zcat access.log.*.gz | canopy pipe -
)usage";

// CANOPY_SERVER and CANOPY_TOKEN stand in for --server and --token when
// set (and not empty); --config and the command line win over them.
void ApplyEnvironment() {
  const char* server = std::getenv("CANOPY_SERVER");
  if (server != nullptr && *server != '\0') {
    absl::SetFlag(&FLAGS_server, server);
  }
  const char* token = std::getenv("CANOPY_TOKEN");
  if (token != nullptr && *token != '\0') absl::SetFlag(&FLAGS_token, token);
}

// The command table: a name, the function that runs it and its help
// (commands.h).
struct Command {
  const char* name;
  int (*run)(const Server& server, const Args& args);
  const char* help;
};
constexpr Command kCommands[] = {
    {"get", GetCommand, kGetHelp},       {"watch", WatchCommand, kWatchHelp},
    {"push", PushCommand, kPushHelp},    {"tree", TreeCommand, kTreeHelp},
    {"diff", DiffCommand, kDiffHelp},    {"rm", RmCommand, kRmHelp},
    {"trend", TrendCommand, kTrendHelp}, {"export", ExportCommand, kExportHelp},
    {"pipe", PipeCommand, kPipeHelp},
};

const Command* FindCommand(absl::string_view name) {
  for (const Command& c : kCommands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

int UnknownCommand(absl::string_view name) {
  return UsageError(absl::StrCat("unknown command '", name, "'"));
}

// canopy help [COMMAND]: the usage, or the command's help.
int Help(const Args& args) {
  if (args.empty()) {
    std::cout << kUsage;
    return kOk;
  }
  if (args.size() > 1) return UsageError("help takes at most one COMMAND");
  const Command* command = FindCommand(args[0]);
  if (command == nullptr) return UnknownCommand(args[0]);
  std::cout << command->help
            << "\nEvery command also takes --server, --token, --timeout and "
               "--config\n(see canopy --help).\n";
  return kOk;
}

int Main(int argc, char** argv) {
  if (argc > 1 && absl::string_view(argv[1]) == "help") {
    // Before --config is read: help needs none of it.
    return Help(Args(argv + 2, argv + argc));
  }
  ApplyEnvironment();
  ProgramInfo program = {"canopy", "the command-line client of canopyd",
                         "tools/cli/"};
  program.takes_arguments = true;
  program.help = kUsage;
  std::vector<std::string> positional = StartProgram(argc, argv, program);
  if (positional.empty()) {
    std::cerr << kUsage;
    return kUsageError;
  }
  const std::string name = positional[0];
  const Args args(positional.begin() + 1, positional.end());
  // A person at a terminal gets units and colour; a pipe, exact values.
  const char* term = std::getenv("TERM");
  const char* no_colour = std::getenv("NO_COLOR");
  SetForPerson(isatty(STDOUT_FILENO) == 1 && !absl::GetFlag(FLAGS_json),
               (no_colour == nullptr || *no_colour == '\0') &&
                   !(term != nullptr && absl::string_view(term) == "dumb"));
  if (name == "help") return Help(args);

  absl::StatusOr<HttpClient> client =
      HttpClient::FromUrl(absl::GetFlag(FLAGS_server));
  if (!client.ok()) return Fail(client.status().message());
  double timeout = absl::GetFlag(FLAGS_timeout);
  if (!(timeout > 0)) return UsageError("--timeout must be positive");
  Server server(*std::move(client), absl::GetFlag(FLAGS_token), timeout);

  const Command* command = FindCommand(name);
  if (command == nullptr) return UnknownCommand(name);
  return command->run(server, args);
}

}  // namespace
}  // namespace cli
}  // namespace canopy

int main(int argc, char** argv) { return canopy::cli::Main(argc, argv); }
