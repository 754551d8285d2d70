#include "steppar/slicer.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <queue>
#include <stdexcept>
#include <utility>

namespace steppar {

std::vector<SliceRange> slice_evenly(std::size_t partitions, int slices) {
    if (slices < 1) throw std::invalid_argument("slice count must be at least 1");
    // kedro-partitioned's bound, to the bit: ceil((n / k) * i) in double precision, so slice i
    // holds the same partitions as there (even where rounding makes 14 over 50 cut at 8, not 7).
    const double per_slice = static_cast<double>(partitions) / slices;
    auto bound = [&](int i) { return std::min(partitions, static_cast<std::size_t>(std::ceil(per_slice * i))); };
    std::vector<SliceRange> ranges;
    ranges.reserve(static_cast<std::size_t>(slices));
    for (int i = 0; i < slices; ++i) ranges.push_back({bound(i), bound(i + 1)});
    ranges.back().end = partitions;  // as a Python slice past the end: the last one runs to n
    return ranges;
}

std::vector<std::vector<std::size_t>> slice_by_size(const std::vector<std::uint64_t>& sizes, int slices) {
    if (slices < 1) throw std::invalid_argument("slice count must be at least 1");
    std::vector<std::size_t> order(sizes.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return sizes[a] > sizes[b]; });
    // Min-heap of (bytes so far, slice index): the lightest slice, lowest index on ties.
    using Load = std::pair<std::uint64_t, std::size_t>;
    std::priority_queue<Load, std::vector<Load>, std::greater<>> lightest;
    for (std::size_t s = 0; s < static_cast<std::size_t>(slices); ++s) lightest.emplace(0, s);
    std::vector<std::vector<std::size_t>> groups(static_cast<std::size_t>(slices));
    for (const std::size_t index : order) {
        auto [bytes, slice] = lightest.top();
        lightest.pop();
        groups[slice].push_back(index);
        lightest.emplace(bytes + sizes[index], slice);
    }
    for (auto& group : groups) std::sort(group.begin(), group.end());
    return groups;
}

}  // namespace steppar
