// The feed paths of access logs, black-box: a seeded log (tests/pipes/
// log_gen.h, which also writes the true counts) goes to the real canopyd
// through POST /push accesslog=, through the real `canopy pipe FILE`, and
// through `canopy pipe --follow` while the file grows, is renamed away and
// recreated, and is copied and truncated; /get must then show exactly the
// truth (distinct visitors within the HLL's error; URLs: the hot paths from
// their admission on, the rest under <p>,url,other). Then hostile input
// through the server: lines that do not match, truncated lines, binary
// garbage, a 10 MB line, times that go backwards, 200 000 distinct URLs,
// agents and hosts, with the good lines around them counted exactly and the
// tree bounded. And a shared-object pipe loaded through canopyd --pipes_dir.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "canopy/http_client.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/pipes/log_gen.h"
#include "tests/server/harness.h"

namespace canopy {
namespace {

using testing::LogGenerator;
using testing::LogGenOptions;
using testing::LogTruth;
using testing::ServerProcess;

// A run of a program with stdout and stderr in files.
class Process {
 public:
  Process(const std::vector<std::string>& args, const std::string& dir,
          const std::string& stdin_path = "/dev/null")
      : out_path_(dir + "/out.txt"), err_path_(dir + "/err.txt") {
    int in = open(stdin_path.c_str(), O_RDONLY | O_CLOEXEC);
    int out =
        open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int err =
        open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    pid_ = testing::Spawn(args, in, out, err);
    for (int fd : {in, out, err}) {
      if (fd >= 0) close(fd);
    }
  }
  ~Process() {
    if (pid_ > 0 && exit_code_ < 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  void Signal(int sig) { kill(pid_, sig); }
  // The exit code (128+signal if killed), or -1 after `seconds`.
  int Wait(double seconds = 60) {
    testing::WaitFor(
        [&] {
          int status;
          if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
          exit_code_ =
              WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
          return true;
        },
        absl::Seconds(seconds));
    return exit_code_;
  }
  // Whether the program holds `path` open and has read it to its end: the
  // offset of its descriptor (/proc/PID/fdinfo) is the file's size. For a
  // reader that read()s (canopy pipe --follow), not one that pread()s.
  bool HasReadToEnd(const std::string& path) const {
    struct stat st;
    char* real = realpath(path.c_str(), nullptr);  // as /proc spells it
    if (real == nullptr) return false;
    const std::string file = real;
    free(real);
    if (stat(file.c_str(), &st) != 0) return false;
    const std::string proc = absl::StrCat("/proc/", pid_);
    DIR* fds = opendir((proc + "/fd").c_str());
    if (fds == nullptr) return false;
    bool done = false;
    while (dirent* e = readdir(fds)) {
      char target[4096];
      const ssize_t n =
          readlink((proc + "/fd/" + e->d_name).c_str(), target, sizeof(target));
      if (n <= 0 || std::string(target, n) != file) continue;
      std::ifstream info(proc + "/fdinfo/" + e->d_name);
      std::string field;
      int64_t pos = -1;
      while (info >> field && field != "pos:") {
      }
      info >> pos;
      done = pos == st.st_size;
      break;
    }
    closedir(fds);
    return done;
  }
  std::string out() const { return Slurp(out_path_); }
  std::string err() const { return Slurp(err_path_); }

  static std::string Slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  std::string out_path_, err_path_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

// Pacing, not waiting: keeps a deleted log file away for a couple of the
// followers' polls (every 200-250 ms) before it is written again, as a
// rotation may. Nothing asserted depends on how long: a follower that never
// saw the file missing still finds another inode under the name, or its own
// file's link count at 0, and reads the new file from its start.
void KeepDeletedFileAway() {
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
}

void Append(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::app);
  f << data;
}

class FeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir();
    // One window an hour long: every line (dated now) lands in the open
    // window, so the sets' live values hold them all.
    StartServer({});
  }
  void TearDown() override {
    server_.reset();
    std::system(("rm -rf '" + dir_ + "'").c_str());
  }

  void StartServer(std::vector<std::string> flags) {
    server_.reset();
    flags.push_back("--retention=1h:2d");
    auto s = ServerProcess::Start(std::move(flags));
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }

  std::string ServerUrl() const {
    return absl::StrCat("--server=http://127.0.0.1:", server_->http_port());
  }

  LogGenOptions Options(const std::string& format, uint64_t seed) {
    LogGenOptions o;
    o.seed = seed;
    o.format = format;
    o.time = absl::ToUnixSeconds(absl::Now());
    return o;
  }

  // POST /push accesslog=; the reply's JSON.
  rapidjson::Document PushLog(const std::string& lines,
                              const std::string& format,
                              const std::string& prefix = "web",
                              int* status = nullptr) {
    const std::string body = absl::StrCat("format=", UrlEncode(format),
                                          "&prefix=", UrlEncode(prefix),
                                          "&accesslog=", UrlEncode(lines));
    auto r = server_->Client(120).Request(
        "POST", "/push", body,
        {{"Content-Type", "application/x-www-form-urlencoded"}});
    EXPECT_TRUE(r.ok()) << r.status();
    rapidjson::Document d;
    if (!r.ok()) return d;
    if (status != nullptr) {
      *status = r->status;
    } else {
      EXPECT_EQ(r->status, 200) << r->body;
    }
    d.Parse(r->body.c_str(), r->body.size());
    return d;
  }

  // Every leaf under `pattern` as key -> number.
  std::map<std::string, double> Get(const std::string& pattern) {
    auto r = server_->Client().Request(
        "GET", "/get?limit=100000&key=" + UrlEncode(pattern));
    std::map<std::string, double> out;
    if (!r.ok() || r->status != 200) {
      ADD_FAILURE() << (r.ok() ? r->body : r.status().ToString());
      return out;
    }
    rapidjson::Document d;
    d.Parse(r->body.c_str(), r->body.size());
    if (!d.IsObject() || !d.HasMember("items")) return out;
    for (const auto& item : d["items"].GetArray()) {
      for (const auto& m : item.GetObject()) {
        if (m.value.IsNumber()) out[m.name.GetString()] = m.value.GetDouble();
        // Timers: their count, as "<key>#count".
        if (m.value.IsObject() && m.value.HasMember("count") &&
            m.value["count"].IsNumber()) {
          out[std::string(m.name.GetString()) + "#count"] =
              m.value["count"].GetDouble();
        }
      }
    }
    return out;
  }

  // Waits until `key` reads `want` (or 30 s pass); answers the last value.
  double AwaitValue(const std::string& key, double want) {
    double v = -1;
    testing::WaitFor(
        [&] {
          auto items = Get(key);
          v = items.count(key) ? items[key] : -1;
          return v == want;
        },
        absl::Seconds(30));
    return v;
  }

  // /get against the truth.
  void ExpectTruth(const LogTruth& t, const std::string& format,
                   const std::string& p = "web") {
    auto items = Get("**");
    auto value = [&](const std::string& key) {
      auto it = items.find(key);
      return it == items.end() ? -1.0 : it->second;
    };
    EXPECT_EQ(value(p + ",hits"), t.hits);
    EXPECT_EQ(value(p + ",bytes"), t.bytes);
    EXPECT_EQ(value(p + ",errors"), t.errors ? double(t.errors) : -1.0);
    EXPECT_EQ(value(p + ",client_errors"),
              t.client_errors ? double(t.client_errors) : -1.0);
    size_t status_keys = 0;
    for (const auto& [code, n] : t.status) {
      EXPECT_EQ(value(absl::StrCat(p, ",status,", code)), n) << code;
    }
    for (const auto& [k, v] : items) {
      if (k.rfind(p + ",status,", 0) == 0) ++status_keys;
    }
    EXPECT_EQ(status_keys, t.status.size());
    // Browsers and systems: every key, nothing else.
    std::map<std::string, double> browsers, systems, urls;
    for (const auto& [k, v] : items) {
      if (k.rfind(p + ",browser,", 0) == 0) {
        browsers[k.substr(p.size() + 9)] = v;
      }
      if (k.rfind(p + ",os,", 0) == 0) systems[k.substr(p.size() + 4)] = v;
      if (k.rfind(p + ",url,", 0) == 0) urls[k.substr(p.size() + 5)] = v;
    }
    std::map<std::string, double> want_browsers(t.browsers.begin(),
                                                t.browsers.end());
    std::map<std::string, double> want_systems(t.os.begin(), t.os.end());
    EXPECT_EQ(browsers, want_browsers);
    EXPECT_EQ(systems, want_systems);
    const auto url_keys = t.UrlKeys();
    std::map<std::string, double> want_urls(url_keys.begin(), url_keys.end());
    EXPECT_EQ(urls, want_urls);
    // Domains: hits and bytes exact, visitors within the HLL's error.
    size_t domains = 0;
    for (const auto& [k, v] : items) {
      if (k.rfind("traffic,", 0) == 0 && k.size() > 5 &&
          k.compare(k.size() - 5, 5, ",hits") == 0) {
        ++domains;
      }
    }
    EXPECT_EQ(domains, t.domains.size());
    for (const auto& [d, truth] : t.domains) {
      EXPECT_EQ(value("traffic," + d + ",hits"), truth.hits) << d;
      EXPECT_EQ(value("traffic," + d + ",bytes"), truth.bytes) << d;
      const double visitors = value("traffic," + d + ",visitors");
      const double n = truth.visitors.size();
      // HLL precision 14: standard error 0.81%; allow three of them.
      EXPECT_NEAR(visitors, n, std::max(1.0, 3 * 0.0081 * n)) << d;
    }
    // Request times (nginx, Squid): one sample per line.
    EXPECT_EQ(value(p + ",request_time#count"),
              format == "combined" ? -1.0 : double(t.timed));
  }

  std::string Cli() const { return testing::BinPath("canopy"); }

  std::unique_ptr<ServerProcess> server_;
  std::string dir_;
};

// (a) POST /push accesslog=, every format, in batches.
TEST_F(FeedTest, PushAccessLogMatchesTheTruth) {
  for (const std::string format : {"combined", "nginx", "squid"}) {
    SCOPED_TRACE(format);
    StartServer({});
    LogGenerator gen(Options(format, 11));
    size_t lines = 0, skipped = 0;
    for (int batch = 0; batch < 6; ++batch) {
      rapidjson::Document d = PushLog(gen.Lines(5000), gen.FormatArg());
      ASSERT_TRUE(d.IsObject() && d.HasMember("lines"));
      lines += d["lines"].GetUint64();
      skipped += d["skipped"].GetUint64();
    }
    EXPECT_EQ(lines, 30000u);
    EXPECT_EQ(skipped, 0u);
    ExpectTruth(gen.truth(), format);
  }
}

// (b) canopy pipe FILE..., and stdin.
TEST_F(FeedTest, CliReplayMatchesTheTruth) {
  LogGenerator gen(Options("nginx", 12));
  const std::string a = dir_ + "/a.log", b = dir_ + "/b.log";
  Append(a, gen.Lines(12000));
  Append(b, gen.Lines(7001));
  // The last line without its newline still counts.
  Append(b, gen.Line());
  Process cli({Cli(), ServerUrl(), "pipe", "--format", gen.FormatArg(),
               "--prefix=web", "--batch_lines=3000", a, b},
              dir_);
  ASSERT_EQ(cli.Wait(), 0) << cli.err();
  EXPECT_NE(cli.out().find("sent 19002 lines in 7 batches: 19002 counted, 0 "
                           "skipped by the server"),
            std::string::npos)
      << cli.out();
  ExpectTruth(gen.truth(), "nginx");

  // stdin, into another prefix.
  StartServer({});
  LogGenerator gen2(Options("combined", 13));
  const std::string c = dir_ + "/c.log";
  Append(c, gen2.Lines(9000));
  Process piped({Cli(), ServerUrl(), "pipe", "--prefix=edge,eu", "-"}, dir_, c);
  ASSERT_EQ(piped.Wait(), 0) << piped.err();
  EXPECT_NE(piped.out().find("sent 9000 lines"), std::string::npos)
      << piped.out();
  ExpectTruth(gen2.truth(), "combined", "edge,eu");
}

TEST_F(FeedTest, CliErrorsAreOneLine) {
  Process missing({Cli(), ServerUrl(), "pipe", dir_ + "/nope.log"}, dir_);
  EXPECT_EQ(missing.Wait(), 1);
  EXPECT_EQ(missing.err(), "canopy: cannot read " + dir_ +
                               "/nope.log: No such file or directory\n");
  Append(dir_ + "/x.log", "1.2.3.4 - - [x] \"GET / HTTP/1.1\" 200 1 \"-\"\n");
  Process bad_format(
      {Cli(), ServerUrl(), "pipe", "--format=$status $", dir_ + "/x.log"},
      dir_);
  EXPECT_EQ(bad_format.Wait(), 1);
  const std::string bad_err = bad_format.err();
  EXPECT_EQ(std::count(bad_err.begin(), bad_err.end(), '\n'), 1) << bad_err;
  Append(dir_ + "/junk.log", "not a log line\nnor this\n");
  Process junk({Cli(), ServerUrl(), "pipe", dir_ + "/junk.log"}, dir_);
  EXPECT_EQ(junk.Wait(), 1);
  EXPECT_NE(junk.err().find("no line matched --format=combined"),
            std::string::npos)
      << junk.err();
  Process down({Cli(), "--server=http://127.0.0.1:1", "pipe", dir_ + "/x.log"},
               dir_);
  EXPECT_EQ(down.Wait(), 1);
  EXPECT_NE(down.err().find("is canopyd running?"), std::string::npos)
      << down.err();
}

// (c) canopy pipe --follow through growth, rename rotation and
// copy-truncate.
TEST_F(FeedTest, CliFollowAcrossRotation) {
  LogGenerator gen(Options("nginx", 14));
  const std::string log = dir_ + "/access.log";
  Append(log, gen.Lines(3000));
  Process cli({Cli(), ServerUrl(), "pipe", "--follow", "--format",
               gen.FormatArg(), log},
              dir_);
  EXPECT_EQ(AwaitValue("web,hits", 3000), 3000);

  // Growth, with a line written in two pieces.
  Append(log, gen.Lines(2000));
  const std::string split = gen.Line() + "\n";
  Append(log, split.substr(0, 40));
  ASSERT_TRUE(testing::WaitFor([&] { return cli.HasReadToEnd(log); }));
  Append(log, split.substr(40));
  EXPECT_EQ(AwaitValue("web,hits", 5001), 5001);

  // Rotation by rename: the lines written to the old file after the
  // rename are still read, then the new file from its start.
  ASSERT_EQ(rename(log.c_str(), (log + ".1").c_str()), 0);
  Append(log + ".1", gen.Lines(500));
  Append(log, gen.Lines(1500));
  EXPECT_EQ(AwaitValue("web,hits", 7001), 7001);

  // Copy-truncate: the copy is not read, the truncated file from 0.
  std::system(("cp '" + log + "' '" + log + ".2'").c_str());
  ASSERT_EQ(truncate(log.c_str(), 0), 0);
  Append(log, gen.Lines(700));
  EXPECT_EQ(AwaitValue("web,hits", 7701), 7701);

  // The file goes away and comes back.
  ASSERT_EQ(unlink(log.c_str()), 0);
  KeepDeletedFileAway();
  Append(log, gen.Lines(300));
  EXPECT_EQ(AwaitValue("web,hits", 8001), 8001);

  // SIGTERM: what was read goes out, even a last line without a newline.
  Append(log, gen.Line());
  ASSERT_TRUE(testing::WaitFor([&] { return cli.HasReadToEnd(log); }));
  cli.Signal(SIGTERM);
  ASSERT_EQ(cli.Wait(), 0) << cli.err();
  EXPECT_NE(cli.out().find("sent 8002 lines"), std::string::npos) << cli.out();
  ExpectTruth(gen.truth(), "nginx");
}

// (d) canopy-agent --access_log: follows the file (created after the
// agent starts, so read from its start) through growth, rename rotation and
// copy-truncate, and pushes each interval's aggregate over HTTP.
TEST_F(FeedTest, AgentAccessLogAcrossRotation) {
  LogGenerator gen(Options("nginx", 18));
  const std::string log = dir_ + "/agent.log";
  Process agent(
      {testing::BinPath("canopy-agent"),
       absl::StrCat("--server=http://127.0.0.1:", server_->http_port()),
       "--interval=200ms", "--host=feedtest", "--spool_dir=" + dir_ + "/spool",
       // from=start: however late the agent starts (a loaded machine), it
       // reads the file whole, so no line is missed.
       "--access_log=" + log + ",format=" + gen.FormatArg() +
           ",prefix=web,from=start"},
      dir_);
  Append(log, gen.Lines(4000));
  EXPECT_EQ(AwaitValue("web,hits", 4000), 4000);
  Append(log, gen.Lines(1000));
  EXPECT_EQ(AwaitValue("web,hits", 5000), 5000);
  // Rename: the old file's late lines, then the new file.
  ASSERT_EQ(rename(log.c_str(), (log + ".1").c_str()), 0);
  Append(log + ".1", gen.Lines(300));
  Append(log, gen.Lines(1200));
  EXPECT_EQ(AwaitValue("web,hits", 6500), 6500);
  // Copy-truncate.
  std::system(("cp '" + log + "' '" + log + ".2'").c_str());
  ASSERT_EQ(truncate(log.c_str(), 0), 0);
  Append(log, gen.Lines(500));
  EXPECT_EQ(AwaitValue("web,hits", 7000), 7000);
  // Deleted and written again (the new file may reuse the inode number).
  ASSERT_EQ(unlink(log.c_str()), 0);
  KeepDeletedFileAway();
  Append(log, gen.Lines(200));
  EXPECT_EQ(AwaitValue("web,hits", 7200), 7200);
  // SIGTERM: the last lines still go out.
  Append(log, gen.Lines(10));
  agent.Signal(SIGTERM);
  EXPECT_EQ(agent.Wait(), 0) << agent.err();
  EXPECT_EQ(AwaitValue("web,hits", 7210), 7210) << agent.err();
  ExpectTruth(gen.truth(), "nginx");
}

// The same follower configured as a module file in --conf_dir.
TEST_F(FeedTest, AgentAccessLogModuleFile) {
  LogGenerator gen(Options("combined", 21));
  const std::string log = dir_ + "/module.log";
  const std::string conf = dir_ + "/conf";
  ASSERT_EQ(mkdir(conf.c_str(), 0755), 0);
  Append(log, gen.Lines(1500));
  {
    std::ofstream f(conf + "/web.conf");
    f << "type = accesslog\npath = " << log << "\nformat = " << gen.FormatArg()
      << "\nprefix = web\nfrom = start\n";
  }
  Process agent(
      {testing::BinPath("canopy-agent"),
       absl::StrCat("--server=http://127.0.0.1:", server_->http_port()),
       "--interval=200ms", "--host=feedmod", "--spool_dir=" + dir_ + "/spool",
       "--conf_dir=" + conf},
      dir_);
  EXPECT_EQ(AwaitValue("web,hits", 1500), 1500) << agent.err();
  Append(log, gen.Lines(500));
  EXPECT_EQ(AwaitValue("web,hits", 2000), 2000) << agent.err();
  agent.Signal(SIGTERM);
  EXPECT_EQ(agent.Wait(), 0) << agent.err();
  ExpectTruth(gen.truth(), "combined");
}

// Bad input through the server: every bad line counted and skipped, the
// good lines around them exact.
TEST_F(FeedTest, HostileInputThroughTheServer) {
  LogGenerator gen(Options("nginx", 15));
  LogGenerator other(Options("nginx", 99));  // the truncated lines' source
  std::string log;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 40; ++i) {
    log += gen.Lines(250);
    log += "this line does not match the format\n";
    // Cut inside the quoted request: the quote never closes.
    const std::string good = other.Line();
    log += good.substr(0, good.find('"') + 6) + "\n";
    std::string garbage;
    for (int j = 0; j < 300; ++j) {
      const char c = static_cast<char>(rng() & 0xff);
      garbage.push_back(c == '\n' ? '\x01' : c);
    }
    log += garbage + "\n";
  }
  rapidjson::Document d = PushLog(log, gen.FormatArg());
  ASSERT_TRUE(d.IsObject() && d.HasMember("lines"));
  EXPECT_EQ(d["lines"].GetUint64(), 40u * 250);
  EXPECT_EQ(d["skipped"].GetUint64(), 40u * 3);

  // A 10 MB line between good lines.
  std::string big = gen.Lines(10);
  big += std::string(10 << 20, 'A') + "\n";
  big += gen.Lines(10);
  d = PushLog(big, gen.FormatArg());
  ASSERT_TRUE(d.IsObject() && d.HasMember("lines"));
  EXPECT_EQ(d["lines"].GetUint64(), 20u);
  EXPECT_EQ(d["skipped"].GetUint64(), 1u);

  // The same through canopy pipe: the long line is not even sent.
  const std::string file = dir_ + "/big.log";
  Append(file, gen.Lines(5) + std::string(10 << 20, 'B') + "\n" + gen.Lines(5) +
                   "garbage\n");
  Process cli({Cli(), ServerUrl(), "pipe", "--format", gen.FormatArg(), file},
              dir_);
  ASSERT_EQ(cli.Wait(), 0) << cli.err();
  EXPECT_NE(cli.out().find("sent 11 lines in 1 batch: 10 counted, 1 skipped "
                           "by the server, "),
            std::string::npos)
      << cli.out();
  EXPECT_NE(cli.out().find("; 1 lines over 64 KiB not sent"), std::string::npos)
      << cli.out();

  // A push of garbage only: 400 with the position, nothing counted.
  int status = 0;
  d = PushLog(std::string("\x16\x03\x01\x02\x00garbage\n", 13), gen.FormatArg(),
              "web", &status);
  EXPECT_EQ(status, 400);

  ExpectTruth(gen.truth(), "nginx");
}

// Times that go backwards (and lines from long ago, and from the future):
// counted all the same.
TEST_F(FeedTest, TimesGoingBackwardsStillCount) {
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  size_t hits = 0;
  for (int64_t t :
       {now, now - 3 * 3600, now - 30 * 86400, now + 86400, now - 600}) {
    LogGenOptions o = Options("combined", 16 + t % 7);
    o.time = t;
    LogGenerator gen(o);
    PushLog(gen.Lines(1000), "combined");
    hits += 1000;
  }
  EXPECT_EQ(Get("web,hits")["web,hits"], hits);
}

// A million distinct URLs, agents and hosts in the issue; 200 000 here:
// the tree stays bounded and the hits exact.
TEST_F(FeedTest, DistinctFloodStaysBounded) {
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  std::mt19937_64 rng(5);
  const std::string format = testing::kNginxFormat;
  size_t total = 0;
  for (int batch = 0; batch < 20; ++batch) {
    std::string lines;
    for (int i = 0; i < 10000; ++i) {
      const uint64_t r = rng();
      absl::StrAppend(
          &lines, "10.", r % 256, ".", (r >> 8) % 256, ".", (r >> 16) % 256,
          " - - [01/Jan/2024:00:00:00 +0000] \"GET /u/", r, "/", total,
          " HTTP/1.1\" 200 1 \"-\" \"Mozilla/5.0 (X11; Linux x86_64; rv:",
          r % 100000, ") Gecko/20100101 Firefox/", r % 100000, ".", total,
          "\" 0.001 - h", r, ".example\n");
      ++total;
    }
    (void)now;
    rapidjson::Document d = PushLog(lines, format);
    ASSERT_EQ(d["lines"].GetUint64(), 10000u);
  }
  EXPECT_EQ(Get("web,hits")["web,hits"], total);
  // url_top_k 100, ua_top_k 500 (x2), traffic_top_k 1000 (x3 leaves):
  // a few thousand nodes at most, whatever the number of distinct values.
  const double nodes = server_->Metric("canopy_nodes");
  EXPECT_GT(nodes, 0);
  EXPECT_LT(nodes, 6000);
  EXPECT_LE(Get("web,url,*").size(), 101u);
}

// The example shared-object pipe through canopyd --pipes_dir.
TEST_F(FeedTest, PluginFromPipesDir) {
  const char* bin = std::getenv("CANOPY_BIN_DIR");
  const std::string plugins =
      std::string(bin ? bin : "build") + "/test_plugins";
  StartServer({"--pipes_dir=" + plugins});
  LogGenerator gen(Options("combined", 17));
  PushLog(gen.Lines(4000), "combined");
  ASSERT_GT(gen.truth().posts, 0u);
  EXPECT_EQ(Get("web,posts")["web,posts"], gen.truth().posts);
  ExpectTruth(gen.truth(), "combined");

  // A directory that will not load stops canopyd at its start.
  auto refused = ServerProcess::Start({"--pipes_dir=" + dir_ + "/none"});
  EXPECT_FALSE(refused.ok());
}

}  // namespace
}  // namespace canopy
