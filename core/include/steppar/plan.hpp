// The slice plan ("slices.json"): written once by a multinode's slicer, read by every slice.
// It lists, for each slice, the exact partitions it owns, so slices never rescan the input.
//
//   {"format": 1, "unit": "count", "plan_id": "<sha256>", "inputs": ["docs"],
//    "slice_count": 2, "partition_count": 3,
//    "slices": [{"slice": 0, "partitions": ["a", "b"]}, {"slice": 1, "partitions": ["c"]}]}
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace steppar {

struct SlicePlan {
    static constexpr int format = 1;

    std::string unit;
    std::string plan_id;  ///< SHA-256 of the plan's content: markers must name the same plan
    std::vector<std::string> inputs;
    std::vector<std::vector<std::string>> slices;  ///< partition names per slice

    std::size_t partition_count() const;
};

/// Builds a plan by cutting `partitions` (in order) into `slice_count` slices.
SlicePlan make_plan(std::string unit, std::vector<std::string> inputs, const std::vector<std::string>& partitions,
                    int slice_count);
/// Builds a plan from slices already cut (e.g. by size).
SlicePlan make_plan(std::string unit, std::vector<std::string> inputs, std::vector<std::vector<std::string>> slices);

std::string to_json(const SlicePlan& plan);
/// Parses a plan; throws StateError naming `origin` when it is not a valid plan.
SlicePlan plan_from_json(std::string_view text, const std::string& origin);

void write_plan(const std::filesystem::path& path, const SlicePlan& plan);
SlicePlan read_plan(const std::filesystem::path& path);

}  // namespace steppar
