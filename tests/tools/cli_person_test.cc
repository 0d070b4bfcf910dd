// The CLI for a person and for a script: on a terminal, values rounded with
// their units and keys in colour (NO_COLOR: none); piped or with --json,
// exact values and no colour, as before.
#include <string>

#include "absl/strings/str_replace.h"
#include "tests/tools/cli_util.h"
#include "tools/cli/output.h"

namespace canopy {
namespace cli_testing {
namespace {

TEST(ReadableNumberTest, UnitsFromTheKeysName) {
  using cli::ReadableNumber;
  EXPECT_EQ(ReadableNumber("host,h,mem,total", 25769803776.0), "24 GiB");
  EXPECT_EQ(ReadableNumber("host,h,mem,used", 3456789012.0), "3.22 GiB");
  EXPECT_EQ(ReadableNumber("host,h,disk,/,free", 512), "512 B");
  EXPECT_EQ(ReadableNumber("host,h,proc,nginx-1,rss", 5378048), "5.13 MiB");
  EXPECT_EQ(ReadableNumber("host,h,net,eth0,rx_bytes", 1536.5), "1.5 KiB/s");
  EXPECT_EQ(ReadableNumber("host,h,net,eth0,rx_packets", 45374), "45374/s");
  EXPECT_EQ(ReadableNumber("url,x,bytes", 2048), "2 KiB");
  EXPECT_EQ(ReadableNumber("host,h,cpu,percent", 13.6666), "13.7 %");
  EXPECT_EQ(ReadableNumber("host,h,proc,a-1,cpu_percent", 0.02137), "0.0214 %");
  EXPECT_EQ(ReadableNumber("host,h,uptime", 42), "42 s");
  EXPECT_EQ(ReadableNumber("host,h,uptime", 7200), "2 h");
  EXPECT_EQ(ReadableNumber("host,h,uptime", 900), "15 min");
  EXPECT_EQ(ReadableNumber("host,h,uptime", 3 * 86400 + 43200), "3.5 d");
  EXPECT_EQ(ReadableNumber("host,h,url,x,ttfb_ms", 12.345), "12.3 ms");
  EXPECT_EQ(ReadableNumber("host,h,load,1", 0.123456), "0.123");
  EXPECT_EQ(ReadableNumber("host,h,load,1", 1234.5678), "1235");
  EXPECT_EQ(ReadableNumber("web,hits", 1234567), "1234567");
  // "total" names a size only under mem, swap, disk and cgroup.
  EXPECT_EQ(ReadableNumber("web,total", 2048), "2048");
}

std::string Plain(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\x1b') {
      i = s.find('m', i);
      if (i == std::string::npos) break;
      continue;
    }
    out += s[i];
  }
  return out;
}

class CliPersonTest : public CliTest {};

TEST_F(CliPersonTest, ATerminalGetsUnitsAndColourAPipeExactValues) {
  Push(R"({"host": {"h1": {"mem": {"total": 25769803776, "percent": 13.6666},
           "uptime": 7200, "load": {"1": 0.123456},
           "net": {"lo": {"rx_bytes": 1536.5}}, "os": "Linux"}}})");
  const std::vector<std::string> get = {ServerFlag(), "get", "host,**"};

  Result tty = RunCanopyOnTerminal(get, {"TERM=xterm"});
  ASSERT_EQ(tty.exit_code, 0) << tty.err;
  EXPECT_NE(tty.out.find("\x1b[36mhost,h1,mem,total\x1b[0m"), std::string::npos)
      << tty.out;
  std::map<std::string, std::string> person = KeyValues(Plain(tty.out));
  EXPECT_EQ(person["host,h1,mem,total"], "24 GiB");
  EXPECT_EQ(person["host,h1,mem,percent"], "13.7 %");
  EXPECT_EQ(person["host,h1,uptime"], "2 h");
  EXPECT_EQ(person["host,h1,load,1"], "0.123");
  EXPECT_EQ(person["host,h1,net,lo,rx_bytes"], "1.5 KiB/s");
  EXPECT_EQ(person["host,h1,os"], "Linux");

  Result no_colour = RunCanopyOnTerminal(get, {"TERM=xterm", "NO_COLOR=1"});
  EXPECT_EQ(no_colour.out.find('\x1b'), std::string::npos) << no_colour.out;
  EXPECT_EQ(KeyValues(no_colour.out)["host,h1,mem,total"], "24 GiB");

  // Piped: exact, no colour (what scripts read).
  Result piped = RunCanopy(get);
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.out.find('\x1b'), std::string::npos);
  std::map<std::string, std::string> exact = KeyValues(piped.out);
  EXPECT_EQ(exact["host,h1,mem,total"], "25769803776");
  EXPECT_EQ(exact["host,h1,mem,percent"], "13.6666");
  EXPECT_EQ(exact["host,h1,uptime"], "7200");
  EXPECT_EQ(exact["host,h1,load,1"], "0.123456");
  EXPECT_EQ(exact["host,h1,net,lo,rx_bytes"], "1536.5");

  // --json on a terminal: the server's reply as it is.
  Result json = RunCanopyOnTerminal(
      {ServerFlag(), "--json", "get", "host,h1,mem,total"}, {"TERM=xterm"});
  EXPECT_EQ(json.out.find('\x1b'), std::string::npos);
  EXPECT_NE(json.out.find("25769803776"), std::string::npos) << json.out;

  // The tree, drawn for a person, carries the units too.
  Result tree = RunCanopyOnTerminal({ServerFlag(), "tree", "host,h1,mem"},
                                    {"TERM=xterm"});
  EXPECT_NE(Plain(tree.out).find("total  24 GiB"), std::string::npos)
      << tree.out;
}

TEST_F(CliPersonTest, TheServersUnitsComeFirstThenTheKeysName) {
  Push(R"({"app": {"queue": {"depth": 3.5, "unit": "jobs"},
                   "mem,used": 3456789012,
                   "temp": {"c": 21.25, "unit": "<b>°C"}},
           "host": {"h1": {"mem": {"free": 2048}}}})");
  Push(R"({"lat": [12, 30, 18], "defaultaction": "timer"})");
  Result tty = RunCanopyOnTerminal({ServerFlag(), "get", "app,**", "host,**"},
                                   {"TERM=xterm", "NO_COLOR=1"});
  ASSERT_EQ(tty.exit_code, 0) << tty.err;
  std::map<std::string, std::string> person = KeyValues(tty.out);
  EXPECT_EQ(person["app,queue,depth"], "3.5 jobs");
  EXPECT_EQ(person["app,mem,used"], "3.22 GiB");
  // A unit that is not a known word follows the figure as it is.
  EXPECT_EQ(person["app,temp,c"], "21.3 <b>°C");
  EXPECT_EQ(person["host,h1,mem,free"], "2 KiB");
  // A stated unit replaces the name's: "bytes" on a leaf named "depth".
  Push(R"({"app": {"queue": {"unit": "bytes"}}})");
  tty = RunCanopyOnTerminal({ServerFlag(), "get", "app,queue,depth"},
                            {"TERM=xterm", "NO_COLOR=1"});
  EXPECT_EQ(KeyValues(tty.out)["app,queue,depth"], "3.5 B");
  // A timer: its percentiles in ms.
  tty = RunCanopyOnTerminal({ServerFlag(), "get", "lat"},
                            {"TERM=xterm", "NO_COLOR=1"});
  EXPECT_NE(tty.out.find("p50 18"), std::string::npos) << tty.out;
  EXPECT_NE(tty.out.find(" ms, p99 "), std::string::npos) << tty.out;
  // Piped: exact values, no units.
  Result piped = RunCanopy({ServerFlag(), "get", "app,queue,depth"});
  EXPECT_EQ(KeyValues(piped.out)["app,queue,depth"], "3.5");
}

}  // namespace
}  // namespace cli_testing
}  // namespace canopy
