#include "steppar/slicer.hpp"

#include <stdexcept>

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

}  // namespace steppar
