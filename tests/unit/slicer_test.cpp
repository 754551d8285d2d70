#include <boost/test/unit_test.hpp>

#include "steppar/slicer.hpp"

#include <algorithm>
#include <cstddef>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

// Lets Boost.Test print ranges in failure messages.
namespace steppar {
inline std::ostream& operator<<(std::ostream& out, const SliceRange& r) { return out << "[" << r.begin << ", " << r.end << ")"; }
}  // namespace steppar

using steppar::slice_evenly;
using steppar::SliceRange;

namespace {

// Checks every promise slice_evenly makes for (n, k); returns "" or the first broken promise.
std::string broken_promise(std::size_t n, int k, const std::vector<SliceRange>& ranges) {
    std::ostringstream why;
    why << "n=" << n << " k=" << k << ": ";
    if (ranges.size() != static_cast<std::size_t>(k)) return why.str() + "wrong number of slices " + std::to_string(ranges.size());
    std::size_t expected_begin = 0, smallest = n + 1, largest = 0;
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        const auto& r = ranges[i];
        if (r.begin > r.end) return why.str() + "slice " + std::to_string(i) + " ends before it begins";
        // Contiguous and disjoint: each slice begins exactly where the previous one ended.
        if (r.begin != expected_begin) return why.str() + "slice " + std::to_string(i) + " does not start where the previous ended";
        expected_begin = r.end;
        smallest = std::min(smallest, r.size());
        largest = std::max(largest, r.size());
        // The first slices are the larger ones.
        if (i > 0 && r.size() > ranges[i - 1].size()) return why.str() + "slice " + std::to_string(i) + " larger than its predecessor";
    }
    if (expected_begin != n) return why.str() + "slices cover " + std::to_string(expected_begin) + " partitions";
    if (largest - smallest > 1) return why.str() + "sizes differ by more than one";
    return {};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(slicer)

BOOST_AUTO_TEST_CASE(ten_partitions_into_three_slices_gives_4_3_3) {
    const auto ranges = slice_evenly(10, 3);
    const std::vector<SliceRange> expected = {{0, 4}, {4, 7}, {7, 10}};
    BOOST_TEST(ranges == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(even_division_gives_equal_slices) {
    const auto ranges = slice_evenly(12, 4);
    BOOST_TEST_REQUIRE(ranges.size() == 4u);
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        BOOST_TEST(ranges[i].begin == 3 * i);
        BOOST_TEST(ranges[i].size() == 3u);
    }
}

BOOST_AUTO_TEST_CASE(every_partition_is_owned_by_exactly_one_slice) {
    const std::size_t n = 23;
    std::vector<int> owners(n, 0);
    for (const auto& r : slice_evenly(n, 5))
        for (std::size_t p = r.begin; p < r.end; ++p) ++owners[p];
    for (std::size_t p = 0; p < n; ++p) BOOST_TEST(owners[p] == 1, "partition " << p << " owned " << owners[p] << " times");
}

BOOST_AUTO_TEST_CASE(more_slices_than_partitions_leaves_the_last_slices_empty) {
    const auto ranges = slice_evenly(3, 5);
    BOOST_TEST_REQUIRE(ranges.size() == 5u);
    for (std::size_t i = 0; i < 3; ++i) BOOST_TEST(ranges[i] == (SliceRange{i, i + 1}));
    BOOST_TEST(ranges[3].size() == 0u);
    BOOST_TEST(ranges[4].size() == 0u);
    BOOST_TEST(ranges[4].begin == 3u);
    BOOST_TEST(ranges[4].end == 3u);
}

BOOST_AUTO_TEST_CASE(zero_partitions_gives_empty_slices) {
    const auto ranges = slice_evenly(0, 4);
    BOOST_TEST_REQUIRE(ranges.size() == 4u);
    for (const auto& r : ranges) BOOST_TEST(r == (SliceRange{0, 0}));
}

BOOST_AUTO_TEST_CASE(one_slice_takes_everything) {
    const auto ranges = slice_evenly(17, 1);
    BOOST_TEST_REQUIRE(ranges.size() == 1u);
    BOOST_TEST(ranges[0] == (SliceRange{0, 17}));
}

BOOST_AUTO_TEST_CASE(slice_count_below_one_is_rejected) {
    BOOST_CHECK_THROW(slice_evenly(10, 0), std::invalid_argument);
    BOOST_CHECK_THROW(slice_evenly(10, -1), std::invalid_argument);
    BOOST_CHECK_THROW(slice_evenly(0, 0), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(promises_hold_for_many_partition_and_slice_counts) {
    int checked = 0;
    for (std::size_t n = 0; n <= 150; ++n)
        for (int k = 1; k <= 40; ++k) {
            const std::string problem = broken_promise(n, k, slice_evenly(n, k));
            BOOST_TEST(problem.empty(), problem);
            ++checked;
        }
    BOOST_TEST(checked == 151 * 40);
}

BOOST_AUTO_TEST_CASE(a_million_partitions_into_seven_slices) {
    const std::size_t n = 1'000'000;
    const auto ranges = slice_evenly(n, 7);
    const std::string problem = broken_promise(n, 7, ranges);
    BOOST_TEST(problem.empty(), problem);
    // 1,000,000 = 7 * 142,857 + 1: the first slice gets the one extra partition.
    BOOST_TEST(ranges[0].size() == 142'858u);
    for (std::size_t i = 1; i < 7; ++i) BOOST_TEST(ranges[i].size() == 142'857u);
    BOOST_TEST(ranges[6].end == n);
}

BOOST_AUTO_TEST_CASE(a_large_slice_count_with_few_partitions) {
    const auto ranges = slice_evenly(5, 1000);
    const std::string problem = broken_promise(5, 1000, ranges);
    BOOST_TEST(problem.empty(), problem);
}

BOOST_AUTO_TEST_SUITE_END()
