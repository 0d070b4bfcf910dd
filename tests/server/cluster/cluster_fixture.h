// The fixture of the cluster tests (cluster_test.cc, cluster_live_test.cc,
// cluster_reads_test.cc): a real nats-server (Debian nats-server) and real
// canopyd nodes on loopback ports. Each test skips, saying why, when
// nats-server is not installed (scripts/deps.sh installs it, so CI runs
// them).
#ifndef CANOPY_TESTS_SERVER_CLUSTER_CLUSTER_FIXTURE_H_
#define CANOPY_TESTS_SERVER_CLUSTER_CLUSTER_FIXTURE_H_

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "server/cluster/ring.h"
#include "tests/server/harness.h"

namespace canopy {

using testing::ConnectLoopback;
using testing::FindProgram;
using testing::FreePort;
using testing::ServerProcess;
using testing::WaitFor;

class NatsServer {
 public:
  ~NatsServer() { Stop(); }
  // On `port` (0: a free one), with `extra` flags (a cluster's routes).
  bool Start(const std::string& program, int port = 0,
             std::vector<std::string> extra = {}) {
    port_ = port ? port : FreePort();
    std::vector<std::string> argv = {program, "-a", "127.0.0.1", "-p",
                                     absl::StrCat(port_)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    pid_ = testing::Spawn(argv);
    return pid_ > 0 && WaitFor([&] {
             int fd = ConnectLoopback(port_);
             if (fd < 0) return false;
             close(fd);
             return true;
           });
  }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  int port() const { return port_; }
  std::string url() const { return absl::StrCat("nats://127.0.0.1:", port_); }

 private:
  int port_ = 0;
  pid_t pid_ = -1;
};

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    program_ = FindProgram("nats-server");
    if (program_.empty()) {
      GTEST_SKIP() << "nats-server is not installed (Debian nats-server; "
                      "scripts/deps.sh installs it)";
    }
    ASSERT_TRUE(nats_.Start(program_));
  }

  std::unique_ptr<ServerProcess> StartNode(
      const std::string& node, const std::string& shards,
      std::string data_dir = "", std::string urls = "",
      std::vector<std::string> extra = {}) {
    if (urls.empty()) urls = nats_.url();
    std::vector<std::string> flags = {absl::StrCat("--cluster=", urls),
                                      absl::StrCat("--node=", node),
                                      absl::StrCat("--shards=", shards)};
    flags.insert(flags.end(), extra.begin(), extra.end());
    auto s = ServerProcess::Start(flags, data_dir);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

  // The value of `key` on `node`, "" if it has none.
  static std::string Value(const ServerProcess& node, const std::string& key) {
    auto r = node.Client().Request("GET", absl::StrCat("/get?key=", key));
    if (!r.ok() || r->status != 200) return "";
    rapidjson::Document d;
    d.Parse(r->body.c_str());
    if (!d.IsObject() || !d.HasMember("items") || !d["items"].IsArray()) {
      return "";
    }
    for (const auto& item : d["items"].GetArray()) {
      if (!item.IsObject() || !item.HasMember(key.c_str())) continue;
      const auto& v = item[key.c_str()];
      if (v.IsNumber()) return absl::StrCat(v.GetDouble());
      if (v.IsString()) return v.GetString();
    }
    return "";
  }

  // How many nodes /api/cluster on `node` says are alive.
  static int Alive(const ServerProcess& node) {
    auto r = node.Client().Request("GET", "/api/cluster");
    if (!r.ok() || r->status != 200) return -1;
    rapidjson::Document d;
    d.Parse(r->body.c_str());
    int alive = 0;
    for (const auto& n : d["nodes"].GetArray()) alive += n["alive"].GetBool();
    return alive;
  }

  static void SendTcp(int port, const std::string& text) {
    int fd = ConnectLoopback(port);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(send(fd, text.data(), text.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(text.size()));
    close(fd);
  }

  std::string program_;
  NatsServer nats_;
};

// A key that shard `owner` owns of `ring`, under `prefix`.
inline std::string KeyOwnedBy(const Ring& ring, size_t owner,
                              const std::string& prefix) {
  for (int i = 0;; ++i) {
    std::string k = absl::StrCat(prefix, ",h", i);
    if (ring.OwnerOfKey(k) == owner) return k;
  }
}

}  // namespace canopy

#endif  // CANOPY_TESTS_SERVER_CLUSTER_CLUSTER_FIXTURE_H_
