// Slicing: which partitions each slice owns. Pure functions, no files.
//
// Partitions (already in their deterministic order) are cut into N contiguous runs whose sizes
// differ by at most one: slices never share a partition, every partition is covered, and with
// more slices than partitions the last slices are empty (and still succeed).
#pragma once

#include <cstddef>
#include <vector>

namespace steppar {

struct SliceRange {
    std::size_t begin = 0;  ///< first partition index
    std::size_t end = 0;    ///< one past the last
    std::size_t size() const noexcept { return end - begin; }
    bool operator==(const SliceRange&) const = default;
};

/// Cuts `partitions` items into `slices` (>= 1) contiguous ranges, the first ones one larger
/// when it does not divide evenly.
std::vector<SliceRange> slice_evenly(std::size_t partitions, int slices);

}  // namespace steppar
