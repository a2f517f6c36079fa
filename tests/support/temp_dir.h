// A fresh directory under the system temp dir for one test, removed with everything in it when
// the object goes. Unique per process, object and run, so parallel ctest jobs never share one.
#ifndef ATIPAY_TESTS_SUPPORT_TEMP_DIR_H_
#define ATIPAY_TESTS_SUPPORT_TEMP_DIR_H_

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <system_error>

namespace atipay::test_support {

class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "atipay-test") {
    static std::atomic<int> counter{0};
    std::random_device random;
    path_ = std::filesystem::temp_directory_path() /
            (std::string(prefix) + "-" + std::to_string(::getpid()) + "-" +
             std::to_string(counter++) + "-" + std::to_string(random()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // The path of `name` inside (not created).
  std::string File(const std::string& name) const { return (path_ / name).string(); }
  // Writes `content` to `name` inside, creating subdirectories; returns its path.
  std::string Write(const std::string& name, const std::string& content) const {
    std::filesystem::path file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    return file.string();
  }

 private:
  std::filesystem::path path_;
};

}  // namespace atipay::test_support

#endif  // ATIPAY_TESTS_SUPPORT_TEMP_DIR_H_
