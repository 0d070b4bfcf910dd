// The TCP ingest's back-pressure (server/net/listeners.h) over a real
// loopback socket and a backlog the test sets: a connection is not read
// while history is behind, read again once it catches up, and read anyway
// once history is stuck past Listeners::kMaxPauseSeconds.
#include "server/net/listeners.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "canopy/key.h"
#include "gtest/gtest.h"
#include "server/ingest/line_ingest.h"
#include "server/net/protection.h"
#include "server/options.h"
#include "server/stats.h"

namespace canopy {
namespace {

class ListenersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = event_base_new();
    options_.udp = "off";
    options_.tcp = "127.0.0.1:0";
    auto protection = Protection::From(options_);
    ASSERT_TRUE(protection.ok()) << protection.status();
    protection_ = std::make_unique<Protection>(std::move(*protection));
    listeners_ = std::make_unique<Listeners>(base_, &tree_, &ingest_, &stats_,
                                             &options_, protection_.get());
    listeners_->set_backlog([this] { return backlog_; }, [this] { ++handed_; });
    ASSERT_TRUE(listeners_->Start().ok());
  }
  void TearDown() override {
    if (fd_ >= 0) close(fd_);
    listeners_.reset();
    event_base_free(base_);
  }
  void Send(const std::string& lines) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(listeners_->tcp_port()));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(write(fd_, lines.data(), lines.size()),
              static_cast<ssize_t>(lines.size()));
  }
  bool Has(const std::string& key) {
    return tree_.Find(*SplitKey(key)) != nullptr;
  }
  // Runs the loop until `done` or `seconds` pass; whether `done` held.
  template <typename F>
  bool RunUntil(F done, double seconds) {
    auto end = std::chrono::steady_clock::now() +
               std::chrono::duration<double>(seconds);
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) return false;
      timeval tick = {0, 2000};
      event_base_loopexit(base_, &tick);
      event_base_loop(base_, 0);
    }
    return true;
  }

  event_base* base_ = nullptr;
  Tree tree_{Tree::Options{}};
  Stats stats_;
  LineIngest ingest_{&tree_, &stats_};
  ServerOptions options_;
  std::unique_ptr<Protection> protection_;
  std::unique_ptr<Listeners> listeners_;
  size_t backlog_ = 0;
  int handed_ = 0;
  int fd_ = -1;
};

TEST_F(ListenersTest, AConnectionWaitsWhileHistoryIsBehindAndGoesOnAfter) {
  backlog_ = Listeners::kPauseAboveWindows + 1;
  Send("held.a 1\nheld.b 2\n");
  ASSERT_TRUE(RunUntil([&] { return listeners_->tcp_paused() == 1; }, 5));
  EXPECT_GE(handed_, 1);  // the tree's windows went to history at once
  // Behind: nothing applied, however long the loop runs (well under the
  // time history is given to catch up).
  EXPECT_FALSE(RunUntil([&] { return Has("held,a"); }, 0.3));
  backlog_ = Listeners::kPauseAboveWindows / 2;  // caught up
  ASSERT_TRUE(RunUntil([&] { return Has("held,a") && Has("held,b"); }, 5));
}

TEST_F(ListenersTest, HistoryStuckPastTheBoundDoesNotStopIngest) {
  backlog_ = Listeners::kPauseAboveWindows * 4;  // and it never falls
  auto start = std::chrono::steady_clock::now();
  Send("stuck.a 1\n");
  ASSERT_TRUE(RunUntil([&] { return Has("stuck,a"); },
                       Listeners::kMaxPauseSeconds + 5));
  double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  EXPECT_GE(waited, Listeners::kMaxPauseSeconds - 1);
  EXPECT_EQ(listeners_->tcp_paused(), 1u);
}

}  // namespace
}  // namespace canopy
