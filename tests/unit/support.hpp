// Small helpers shared by the unit tests: substring checks with readable failure messages and
// "this call throws E; give me its message".
#pragma once

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace steppar_test {

/// True when `text` contains `needle`; on failure the message shows both.
inline boost::test_tools::predicate_result contains(const std::string& text, const std::string& needle) {
    if (text.find(needle) != std::string::npos) return true;
    boost::test_tools::predicate_result result(false);
    result.message() << "\"" << text << "\" does not contain \"" << needle << "\"";
    return result;
}

/// Runs `f`, expecting it to throw an `E`; returns the exception's what(). Records a test error
/// (and returns "") when nothing is thrown. Any other exception type escapes and fails the test.
template <class E, class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    BOOST_ERROR("expected an exception, none was thrown");
    return {};
}

/// A fresh folder under TMPDIR, removed with its contents at the end of the test.
class TempDir {
public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "steppar-unit-XXXXXX").string();
        BOOST_REQUIRE(::mkdtemp(pattern.data()));
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

}  // namespace steppar_test
