// Named views (server/handlers/view_store.h) on their own: what a view
// document may hold, that views survive a restart through views.json, that
// a damaged file stops the start with a clear error rather than being
// overwritten, and the order /api/views lists them in.
//
// Threads: the test's thread.
#include "server/handlers/view_store.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/server/harness.h"

namespace canopy {
namespace {

class ViewStoreTest : public ::testing::Test {
 protected:
  ViewStoreTest() : dir_(testing::MakeTempDir()), path_(dir_ + "/views.json") {}
  ~ViewStoreTest() override { std::filesystem::remove_all(dir_); }

  void WriteFile(const std::string& text) {
    std::ofstream out(path_, std::ios::trunc);
    out << text;
  }
  std::string ReadFile() {
    std::ifstream in(path_);
    return std::string(std::istreambuf_iterator<char>(in),
                       std::istreambuf_iterator<char>());
  }

  std::string dir_;
  std::string path_;
};

TEST_F(ViewStoreTest, ValidatesAndPersists) {
  {
    ViewStore v(path_);
    ASSERT_TRUE(v.Load().ok());
    ASSERT_TRUE(
        v.Put("web", R"({"title": "Web", "keys": ["web,**", "host,*,cpu"]})")
            .ok());
    EXPECT_FALSE(v.Put("bad name!", R"({"keys": ["a"]})").ok());
    EXPECT_FALSE(v.Put("x", R"({"keys": []})").ok());
    EXPECT_FALSE(v.Put("x", R"({"keys": ["a,\u0001"]})").ok());
    EXPECT_FALSE(v.Put("x", R"({"keys": ["a"], "layout": "spiral"})").ok());
    EXPECT_FALSE(v.Put("x", "{not json").ok());
    EXPECT_EQ(v.all().size(), 1u);
  }
  ViewStore again(path_);
  ASSERT_TRUE(again.Load().ok());
  ASSERT_NE(again.Find("web"), nullptr);
  EXPECT_EQ(again.Find("web")->keys.size(), 2u);
  EXPECT_TRUE(again.Delete("web").ok());
  EXPECT_EQ(again.Delete("web").code(), absl::StatusCode::kNotFound);
}

TEST_F(ViewStoreTest, ADamagedFileFailsTheLoadWithAClearError) {
  for (const char* damaged :
       {"{\"views\": [", "not json at all", "[]", "{\"views\": 3}", "{}"}) {
    WriteFile(damaged);
    ViewStore views(path_);
    absl::Status s = views.Load();
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << damaged;
    // The message names the file and what to do about it.
    EXPECT_NE(s.message().find(path_), std::string::npos) << s;
    EXPECT_NE(s.message().find("damaged"), std::string::npos) << s;
    EXPECT_TRUE(views.all().empty());
    EXPECT_EQ(ReadFile(), damaged);  // left for the user to look at
  }
  // No file at all is no views, not an error.
  std::filesystem::remove(path_);
  ViewStore none(path_);
  EXPECT_TRUE(none.Load().ok());
  EXPECT_TRUE(none.all().empty());
}

TEST_F(ViewStoreTest, DeletingAnUnknownViewIsNotFoundAndChangesNothing) {
  ViewStore views(path_);
  ASSERT_TRUE(views.Load().ok());
  EXPECT_EQ(views.Delete("never").code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(views.Put("web", R"({"keys": ["web,**"]})").ok());
  const std::string before = ReadFile();
  absl::Status s = views.Delete("other");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.message().find("other"), std::string::npos) << s;
  EXPECT_EQ(ReadFile(), before);
  EXPECT_NE(views.Find("web"), nullptr);
}

TEST_F(ViewStoreTest, ANameWithASlashOrEmptyIsRefused) {
  ViewStore views(path_);
  ASSERT_TRUE(views.Load().ok());
  for (const std::string& name : std::vector<std::string>{
           "", "a/b", "/", "../etc", "web/", std::string(65, 'x')}) {
    absl::Status s = views.Put(name, R"({"keys": ["a"]})");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << name;
  }
  EXPECT_TRUE(views.all().empty());
  EXPECT_FALSE(std::filesystem::exists(path_));  // nothing was written
  // The longest and the plainest names are fine.
  EXPECT_TRUE(views.Put(std::string(64, 'x'), R"({"keys": ["a"]})").ok());
  EXPECT_TRUE(views.Put("a-b_C9", R"({"keys": ["a"]})").ok());
}

TEST_F(ViewStoreTest, AllJsonListsViewsInNameOrder) {
  ViewStore views(path_);
  ASSERT_TRUE(views.Load().ok());
  for (const char* name : {"zeta", "alpha", "Mid", "mid", "beta-2"}) {
    ASSERT_TRUE(views.Put(name, R"({"keys": ["a"]})").ok()) << name;
  }
  auto names = [](const std::string& json) {
    rapidjson::Document d;
    d.Parse(json.c_str());
    std::vector<std::string> out;
    EXPECT_TRUE(d.IsObject()) << json;
    if (!d.IsObject()) return out;
    for (const auto& v : d["views"].GetArray()) {
      out.push_back(v["name"].GetString());
    }
    return out;
  };
  const std::vector<std::string> sorted = {"Mid", "alpha", "beta-2", "mid",
                                           "zeta"};
  EXPECT_EQ(names(views.AllJson()), sorted);
  // And so after a restart.
  ViewStore again(path_);
  ASSERT_TRUE(again.Load().ok());
  EXPECT_EQ(names(again.AllJson()), sorted);
}

}  // namespace
}  // namespace canopy
