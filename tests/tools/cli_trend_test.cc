// Black-box tests of `canopy trend` and `canopy export` against a real
// canopyd with history (tests/tools/cli_util.h).
#include "tests/tools/cli_util.h"

namespace canopy {
namespace {

using cli_testing::Cli;
using cli_testing::CliTest;
using cli_testing::KeyValues;
using cli_testing::Lines;
using cli_testing::Result;
using cli_testing::RunCanopy;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class CliTrendTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    int64_t now = time(nullptr);
    base_ = now - now % 60 - 1800;  // half an hour ago, on a minute
    // Keep every sample in one UTC day (for export).
    int64_t last = base_ + 60 * (kMinutes - 1);
    if (last / 86400 != base_ / 86400) base_ = last / 86400 * 86400;
    for (int i = 0; i < kMinutes; ++i) {
      Push(absl::StrCat(R"({"time": )", base_ + 60 * i, R"(, "k": {"a": )", i,
                        R"(, "b": )", 10 * i, "}}"));
    }
    HttpClient http = server_->Client();
    std::string target =
        absl::StrCat("/trend?key=k&from=", base_, "&to=", To(), "&step=60");
    std::string body;
    bool all_points = testing::WaitFor(
        [&] {
          auto reply = http.Request("GET", target);
          body = reply.ok() ? reply->body : reply.status().ToString();
          rapidjson::Document doc;
          doc.Parse(body.c_str());
          return reply.ok() && reply->status == 200 && doc.IsObject() &&
                 doc["series"].Size() == 2 &&
                 doc["series"][0]["points"].Size() == kMinutes &&
                 doc["series"][1]["points"].Size() == kMinutes;
        },
        absl::Seconds(15));
    ASSERT_TRUE(all_points)
        << "history never showed the pushed points: " << body;
  }

  int64_t To() const { return base_ + 60 * kMinutes - 1; }
  std::string UtcDay() const {
    return absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(base_),
                            absl::UTCTimeZone());
  }

  static constexpr int kMinutes = 5;
  int64_t base_ = 0;
};

TEST_F(CliTrendTest, TablePrintsLocalTimesAndValuesPerSeries) {
  Result trend = Canopy({"trend", "k", absl::StrCat("--from=", base_),
                         absl::StrCat("--to=", To()), "--step=60"});
  ASSERT_EQ(trend.exit_code, 0) << trend.err;
  EXPECT_EQ(trend.err, "");
  std::vector<std::string> lines = Lines(trend.out);
  // "k,a  (every 1m, avg)", 5 rows, a blank line, "k,b ...", 5 rows.
  ASSERT_EQ(lines.size(), 2u * (kMinutes + 1) + 1) << trend.out;
  EXPECT_EQ(lines[0], "k,a  (every 1m, avg)");
  EXPECT_EQ(lines[kMinutes + 1], "");
  EXPECT_EQ(lines[kMinutes + 2], "k,b  (every 1m, avg)");
  for (int i = 0; i < kMinutes; ++i) {
    std::string time = absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez",
                                        absl::FromUnixSeconds(base_ + 60 * i),
                                        absl::LocalTimeZone());
    EXPECT_EQ(lines[1 + i], absl::StrCat(time, "  ", i));
    EXPECT_EQ(lines[kMinutes + 3 + i], absl::StrCat(time, "  ", 10 * i));
  }

  // One key, another fn, the range given as local times.
  std::string from = absl::FormatTime(
      "%Y-%m-%dT%H:%M:%S", absl::FromUnixSeconds(base_), absl::LocalTimeZone());
  Result one = Canopy({"trend", "k,b", "--from=" + from,
                       absl::StrCat("--to=", To()), "--step=1m", "--fn=count"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  lines = Lines(one.out);
  ASSERT_EQ(lines.size(), kMinutes + 1u) << one.out;
  EXPECT_EQ(lines[0], "k,b  (every 1m, count)");
  EXPECT_THAT(lines[kMinutes], ::testing::EndsWith("  1"));
}

TEST_F(CliTrendTest, SparkPrintsOneLinePerSeries) {
  Result spark = Canopy({"trend", "k", absl::StrCat("--from=", base_),
                         absl::StrCat("--to=", To()), "--step=60", "--spark"});
  ASSERT_EQ(spark.exit_code, 0) << spark.err;
  std::vector<std::string> lines = Lines(spark.out);
  ASSERT_EQ(lines.size(), 2u) << spark.out;
  // 0..4: bars 0, 2, 4, 5, 7 of eight.
  EXPECT_EQ(lines[0],
            "k,a  \u2581\u2583\u2585\u2586\u2588  min 0  max 4   last 4");
  EXPECT_EQ(lines[1],
            "k,b  \u2581\u2583\u2585\u2586\u2588  min 0  max 40  last 40");
}

TEST_F(CliTrendTest, CsvAndJsonAreTheServersReply) {
  Result csv = Canopy({"trend", "k", absl::StrCat("--from=", base_),
                       absl::StrCat("--to=", To()), "--step=60", "--csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  std::vector<std::string> lines = Lines(csv.out);
  ASSERT_EQ(lines.size(), kMinutes + 1u) << csv.out;
  EXPECT_EQ(lines[0], "time,\"k,a\",\"k,b\"");
  EXPECT_EQ(lines[kMinutes], absl::StrCat(base_ + 240, ",4,40"));

  Result json = Canopy({"trend", "k,a", absl::StrCat("--from=", base_),
                        absl::StrCat("--to=", To()), "--step=60", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  rapidjson::Document doc;
  doc.Parse(json.out.c_str());
  ASSERT_TRUE(doc.IsObject()) << json.out;
  EXPECT_EQ(doc["step"].GetInt(), 60);
  EXPECT_EQ(doc["series"][0]["points"].Size(), static_cast<unsigned>(kMinutes));
}

TEST_F(CliTrendTest, ErrorsAreOneLine) {
  Result bad_fn = Canopy({"trend", "k", "--fn=median"});
  EXPECT_EQ(bad_fn.exit_code, 1);
  EXPECT_EQ(bad_fn.out, "");
  ASSERT_EQ(Lines(bad_fn.err).size(), 1u) << bad_fn.err;
  EXPECT_THAT(bad_fn.err, StartsWith("canopy: "));

  Result bad_time = Canopy({"trend", "k", "--from=yesterday-ish"});
  EXPECT_EQ(bad_time.exit_code, 1);
  ASSERT_EQ(Lines(bad_time.err).size(), 1u) << bad_time.err;
  EXPECT_THAT(bad_time.err, StartsWith("canopy: bad time"));

  Result backwards = Canopy({"trend", "k", "--from=-1h", "--to=-2h"});
  EXPECT_EQ(backwards.exit_code, 1);
  EXPECT_THAT(backwards.err, StartsWith("canopy: "));

  Result no_key = Canopy({"trend"});
  EXPECT_EQ(no_key.exit_code, 2);
  EXPECT_EQ(Lines(no_key.err).size(), 1u) << no_key.err;
}

TEST_F(CliTrendTest, ExportWritesOneCsvPerKeyAndATarGz) {
  std::string dir = testing::MakeTempDir() + "/out";  // export creates it
  std::string day = UtcDay();
  Result exp = Canopy(
      {"export", "--day=" + day, "--key=k,**", "--step=60", "--out=" + dir});
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  std::vector<std::string> lines = Lines(exp.out);
  ASSERT_EQ(lines.size(), 3u) << exp.out;
  EXPECT_EQ(lines[0], absl::StrCat("wrote ", dir, "/k,a.csv (5 rows)"));
  EXPECT_EQ(lines[1], absl::StrCat("wrote ", dir, "/k,b.csv (5 rows)"));
  std::string archive = absl::StrCat(dir, "/canopy-export-", day, ".tar.gz");
  EXPECT_THAT(lines[2],
              StartsWith(absl::StrCat("wrote ", archive, " (2 files, ")));

  auto read = [](const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in),
                       std::istreambuf_iterator<char>());
  };
  std::vector<std::string> a = Lines(read(dir + "/k,a.csv"));
  ASSERT_EQ(a.size(), kMinutes + 1u);
  EXPECT_EQ(a[0], "time,\"k,a\"");
  for (int i = 0; i < kMinutes; ++i) {
    EXPECT_EQ(a[1 + i], absl::StrCat(base_ + 60 * i, ",", i));
  }
  std::vector<std::string> b = Lines(read(dir + "/k,b.csv"));
  ASSERT_EQ(b.size(), kMinutes + 1u);
  EXPECT_EQ(b[0], "time,\"k,b\"");
  EXPECT_EQ(b[kMinutes], absl::StrCat(base_ + 240, ",40"));

  std::string listing;
  FILE* tar = popen(absl::StrCat("tar -tzf '", archive, "'").c_str(), "r");
  ASSERT_NE(tar, nullptr);
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, tar)) > 0;)
    listing.append(buf, n);
  EXPECT_EQ(pclose(tar), 0);
  std::string top = absl::StrCat("canopy-export-", day, "/");
  EXPECT_THAT(Lines(listing), ElementsAre(top + "k,a.csv", top + "k,b.csv"));

  // A day without history writes nothing and says so.
  Result empty = Canopy(
      {"export", "--day=2001-01-01", "--key=k,**", "--out=" + dir + "/old"});
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_THAT(empty.err, StartsWith("canopy: no history under k,**"));
  Result bad_day = Canopy({"export", "--day=2026-13-01", "--out=" + dir});
  EXPECT_EQ(bad_day.exit_code, 2);
  EXPECT_THAT(bad_day.err, HasSubstr("bad --day"));

  std::string rm = absl::StrCat("rm -rf '", dir.substr(0, dir.size() - 4), "'");
  EXPECT_EQ(std::system(rm.c_str()), 0);
}

}  // namespace
}  // namespace canopy
