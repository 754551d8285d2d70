#include <boost/test/unit_test.hpp>

#include "steppar/cluster_export.hpp"
#include "steppar/error.hpp"

using steppar::array_chunks;
using steppar::array_ranges;

BOOST_AUTO_TEST_SUITE(cluster_arrays)

BOOST_AUTO_TEST_CASE(ranges_are_compacted) {
    BOOST_TEST(array_ranges({0, 1, 2, 3, 5, 7, 8}) == "0-3,5,7-8");
    BOOST_TEST(array_ranges({4}) == "4");
    BOOST_TEST(array_ranges({}) == "");
}

// Slurm refuses task indices at or above MaxArraySize and --array lists over about 4 KB.
BOOST_AUTO_TEST_CASE(chunks_keep_every_index_below_max_array_size) {
    std::vector<int> all(1500);
    for (int i = 0; i < 1500; ++i) all[static_cast<std::size_t>(i)] = i;
    const auto chunks = array_chunks(all, 1001);
    BOOST_TEST_REQUIRE(chunks.size() == 2u);
    BOOST_TEST(chunks[0].offset == 0);
    BOOST_TEST(array_ranges(chunks[0].tasks) == "0-1000");
    BOOST_TEST(chunks[1].offset == 1001);
    BOOST_TEST(array_ranges(chunks[1].tasks) == "0-498");

    // A partial resume: every other slice of 3,000 -- short lists, every slice exactly once.
    std::vector<int> every_other;
    for (int i = 0; i < 3000; i += 2) every_other.push_back(i);
    std::vector<int> covered;
    for (const auto& chunk : array_chunks(every_other, 1001)) {
        BOOST_TEST(array_ranges(chunk.tasks).size() < 4000u);
        for (const int t : chunk.tasks) {
            BOOST_TEST(t < 1001);
            covered.push_back(chunk.offset + t);
        }
    }
    BOOST_TEST((covered == every_other));
    BOOST_CHECK_THROW(array_chunks({0, 1}, 0), steppar::UsageError);
}

BOOST_AUTO_TEST_SUITE_END()
