#include <boost/test/unit_test.hpp>

#include "steppar/slicer.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
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
    }
    if (expected_begin != n) return why.str() + "slices cover " + std::to_string(expected_begin) + " partitions";
    if (largest - smallest > 1) return why.str() + "sizes differ by more than one";
    return {};
}

std::vector<std::size_t> sizes_of(const std::vector<SliceRange>& ranges) {
    std::vector<std::size_t> sizes;
    for (const auto& r : ranges) sizes.push_back(r.size());
    return sizes;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(slicer)

// kedro-partitioned's _SlicerNode cuts slice i at ceil((n / k) * i): the values below are what
// its formula gives (and its doctests: 2 over 2 is [a], [b]; 3 over 2 is [a, b], [c]).
BOOST_AUTO_TEST_CASE(the_cut_is_kedro_partitioneds) {
    BOOST_TEST((sizes_of(slice_evenly(10, 4)) == std::vector<std::size_t>{3, 2, 3, 2}));
    BOOST_TEST((sizes_of(slice_evenly(10, 3)) == std::vector<std::size_t>{4, 3, 3}));
    BOOST_TEST((sizes_of(slice_evenly(2, 2)) == std::vector<std::size_t>{1, 1}));
    BOOST_TEST((sizes_of(slice_evenly(3, 2)) == std::vector<std::size_t>{2, 1}));
    BOOST_TEST((sizes_of(slice_evenly(3, 3)) == std::vector<std::size_t>{1, 1, 1}));
    BOOST_TEST((sizes_of(slice_evenly(1, 2)) == std::vector<std::size_t>{1, 0}));
    BOOST_TEST((sizes_of(slice_evenly(3, 5)) == std::vector<std::size_t>{1, 1, 0, 1, 0}));
    BOOST_TEST((sizes_of(slice_evenly(0, 3)) == std::vector<std::size_t>{0, 0, 0}));
    // Double precision as in Python: (14 / 50) * 25 is 7.000000000000001, so the cut is at 8.
    BOOST_TEST(slice_evenly(14, 50)[25].begin == 8u);
    BOOST_TEST(slice_evenly(14, 50)[24].end == 8u);
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

// --- balance: size ---------------------------------------------------------------------------

namespace {
std::vector<std::uint64_t> loads(const std::vector<std::vector<std::size_t>>& groups, const std::vector<std::uint64_t>& sizes) {
    std::vector<std::uint64_t> out;
    for (const auto& g : groups) {
        std::uint64_t bytes = 0;
        for (const auto i : g) bytes += sizes[i];
        out.push_back(bytes);
    }
    return out;
}
}  // namespace

BOOST_AUTO_TEST_CASE(by_size_covers_every_partition_once_in_increasing_order) {
    std::vector<std::uint64_t> sizes;
    for (std::uint64_t i = 0; i < 1000; ++i) sizes.push_back((i * 7919) % 997 + (i % 50 == 0 ? 100000 : 0));
    for (const int k : {1, 2, 3, 8, 64}) {
        const auto groups = steppar::slice_by_size(sizes, k);
        BOOST_TEST_REQUIRE(groups.size() == static_cast<std::size_t>(k));
        std::vector<int> owners(sizes.size(), 0);
        for (const auto& g : groups) {
            BOOST_TEST(std::is_sorted(g.begin(), g.end()));
            for (const auto i : g) ++owners[i];
        }
        BOOST_TEST(std::all_of(owners.begin(), owners.end(), [](int n) { return n == 1; }), "k=" << k);
        BOOST_TEST((groups == steppar::slice_by_size(sizes, k)), "the cut must be deterministic");
    }
}

BOOST_AUTO_TEST_CASE(by_size_stays_near_the_lower_bound_where_count_does_not) {
    // A heavy tail at the front: count-based slicing gives slice 0 all the giants.
    std::vector<std::uint64_t> sizes(400, 100);
    for (std::size_t i = 0; i < 8; ++i) sizes[i] = 10000;
    const std::uint64_t total = 392 * 100 + 8 * 10000;
    for (const int k : {2, 4, 8}) {
        const auto by_size = loads(steppar::slice_by_size(sizes, k), sizes);
        const std::uint64_t bound = std::max<std::uint64_t>(total / static_cast<std::uint64_t>(k), 10000);
        const std::uint64_t makespan = *std::max_element(by_size.begin(), by_size.end());
        BOOST_TEST(makespan <= bound + 100, "k=" << k << " makespan " << makespan << " bound " << bound);
        std::uint64_t by_count = 0;
        for (const auto& r : slice_evenly(sizes.size(), k)) {
            std::uint64_t bytes = 0;
            for (auto i = r.begin; i < r.end; ++i) bytes += sizes[i];
            by_count = std::max(by_count, bytes);
        }
        BOOST_TEST(makespan < by_count, "k=" << k);
    }
}

BOOST_AUTO_TEST_CASE(by_size_gives_a_giant_its_own_slice_and_leaves_extra_slices_empty) {
    const std::vector<std::uint64_t> sizes = {5, 1000, 5, 5, 5};
    const auto groups = steppar::slice_by_size(sizes, 2);
    BOOST_TEST((groups[0] == std::vector<std::size_t>{1}));
    BOOST_TEST((groups[1] == std::vector<std::size_t>{0, 2, 3, 4}));
    const auto many = steppar::slice_by_size({3, 2}, 4);
    BOOST_TEST((many[0] == std::vector<std::size_t>{0}));
    BOOST_TEST((many[1] == std::vector<std::size_t>{1}));
    BOOST_TEST(many[2].empty());
    BOOST_TEST(many[3].empty());
    BOOST_CHECK_THROW(steppar::slice_by_size(sizes, 0), std::invalid_argument);
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
    // 1,000,000 = 7 * 142,857 + 1: ceil cuts give the first slice the one extra partition.
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
