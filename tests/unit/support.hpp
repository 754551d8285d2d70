// Small helpers shared by the unit tests: substring checks with readable failure messages and
// "this call throws E; give me its message".
#pragma once

#include <boost/test/unit_test.hpp>

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

}  // namespace steppar_test
