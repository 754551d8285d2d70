// Preconditions of tests that need root or a program: where they do not hold, Boost.Test
// reports the test as skipped (with the reason) instead of letting it pass without running.
//
//   BOOST_AUTO_TEST_CASE(unreadable_partition, *boost::unit_test::precondition(e2e::needs("setpriv", true)))
#pragma once

#include "harness.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <unistd.h>

namespace e2e {

struct Needs {
    std::string program;  ///< "" for none
    bool root = false;
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
        boost::test_tools::assertion_result result(true);
        if (root && ::geteuid() != 0) {
            result = false;
            result.message() << "needs root; skipped";
        } else if (!program.empty() && shell("command -v " + quote(program)).exit_code != 0) {
            result = false;
            result.message() << "needs '" << program << "' on PATH; skipped";
        }
        return result;
    }
};

/// The precondition "`program` is on PATH (and, with `root`, we are root)".
inline Needs needs(std::string program, bool root = false) { return Needs{std::move(program), root}; }

}  // namespace e2e
