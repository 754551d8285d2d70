// Slicing: which partitions each slice owns. Pure functions, no files.
//
// By count (the default): partitions (already in their deterministic order) are cut into N
// contiguous runs whose sizes differ by at most one. By size (`balance: size`): each partition,
// largest first, goes to the slice with the fewest bytes so far, so one huge partition does not
// drag a slice that also got its fair share of the others. Either way slices never share a
// partition, every partition is covered, and with more slices than partitions some slices are
// empty (and still succeed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace steppar {

struct SliceRange {
    std::size_t begin = 0;  ///< first partition index
    std::size_t end = 0;    ///< one past the last
    std::size_t size() const noexcept { return end - begin; }
    bool operator==(const SliceRange&) const = default;
};

/// Cuts `partitions` items into `slices` (>= 1) contiguous ranges, slice i from ceil(n*i/k), as
/// kedro-partitioned cuts (10 over 4: 3, 2, 3, 2), so slice numbers mean the same partitions.
std::vector<SliceRange> slice_evenly(std::size_t partitions, int slices);

/// Cuts partitions of the given sizes into `slices` (>= 1) groups of nearly equal total size
/// (largest first onto the lightest slice; ties go to the lower index, so the result is
/// deterministic). Each group lists partition indices in increasing order.
std::vector<std::vector<std::size_t>> slice_by_size(const std::vector<std::uint64_t>& sizes, int slices);

}  // namespace steppar
