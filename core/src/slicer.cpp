#include "steppar/slicer.hpp"

#include <algorithm>
#include <numeric>
#include <queue>
#include <stdexcept>
#include <utility>

namespace steppar {

std::vector<SliceRange> slice_evenly(std::size_t partitions, int slices) {
    if (slices < 1) throw std::invalid_argument("slice count must be at least 1");
    const auto n = static_cast<std::size_t>(slices);
    const std::size_t base = partitions / n, extra = partitions % n;
    std::vector<SliceRange> ranges;
    ranges.reserve(n);
    std::size_t begin = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t size = base + (i < extra ? 1 : 0);
        ranges.push_back({begin, begin + size});
        begin += size;
    }
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
