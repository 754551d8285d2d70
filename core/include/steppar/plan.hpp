// The slice plan: written by a unit's slicer on every run, read by every slice. It lists, for
// each slice, the exact partitions it must (re)compute: only the dirty ones (freshness.hpp), so
// a rerun after one new file plans one partition. Each plan has a new generation (one more than
// any before it), which the slices' ledger segments and markers carry: nothing a slice wrote for
// an earlier plan can vouch for this one. `definition` is the unit's definition digest when it
// was sliced: a slice or barrier that finds another one (the pipeline file or a plugin changed
// during the run) fails instead of mixing the two. On disk it is split so that a slice reads
// only its own share, however many partitions the plan holds:
//
//   units/<u>/slices.json          the index, O(slices):
//     {"format": 3, "unit": "count", "plan_id": "<sha256>", "generation": 7, "definition": "<sha256>",
//      "inputs": ["docs"], "slice_count": 2, "partition_count": 3,
//      "slices": [{"slice": 0, "partitions": 2, "digest": "<sha256 of the part's file>"}, ...],
//      "summary": {"new": 1, "changed": 2, "up_to_date": 7527, "retracted": 0},
//      "checksum": "<sha256>"}                  sealed (sealed.hpp): checked on every read
//   units/<u>/slices/slice-<i>.json  one slice's part:
//     {"format": 3, "unit": "count", "plan_id": "<sha256>", "slice": 0, "partitions": ["a", "b"]}
//
// The parts are written first and synced once, the index last and durably: an index always
// describes parts that are complete, and a part that is not exactly the one it describes (from
// an older plan, or edited) is refused by its digest.
#pragma once

#include "steppar/state.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace steppar {

/// A whole plan, as the slicer makes it and the host keeps it.
/// How the slicer found the unit: what the plan's partitions are, and what it left alone.
struct PlanSummary {
    std::size_t new_count = 0, changed = 0, up_to_date = 0, retracted = 0;
    bool operator==(const PlanSummary&) const = default;
};

struct SlicePlan {
    static constexpr int format = 3;

    std::string unit;
    std::string plan_id;  ///< SHA-256 of unit, generation, definition, inputs and every slice's partitions
    std::uint64_t generation = 0;
    std::string definition;  ///< the unit's definition digest when sliced
    std::vector<std::string> inputs;
    std::vector<std::vector<std::string>> slices;  ///< partition names per slice
    PlanSummary summary;

    std::size_t partition_count() const;
};

/// The index: what the barrier needs.
struct PlanIndex {
    std::string unit;
    std::string plan_id;
    std::uint64_t generation = 0;
    std::string definition;
    std::vector<std::string> inputs;
    std::vector<std::size_t> slice_sizes;  ///< partitions per slice
    std::vector<std::string> part_digests;  ///< SHA-256 of each part's file: the index vouches for its parts
    PlanSummary summary;
};

/// One slice's share of a plan: what a slice process reads.
struct SlicePart {
    std::string unit;
    std::string plan_id;
    int slice = 0;
    std::vector<std::string> partitions;
};

/// Builds a plan by cutting `partitions` (in order) into `slice_count` slices.
SlicePlan make_plan(std::string unit, std::vector<std::string> inputs, const std::vector<std::string>& partitions,
                    int slice_count);
/// Builds a plan from slices already cut (e.g. by size).
SlicePlan make_plan(std::string unit, std::vector<std::string> inputs, std::vector<std::vector<std::string>> slices);
/// The plan's id from its fields (make_plan sets it; set it again after changing a field).
std::string plan_identity(const SlicePlan& plan);
/// Slice `slice` of an in-memory plan (a copy of its partition names).
SlicePart part_of(const SlicePlan& plan, int slice);

std::string index_json(const SlicePlan& plan);
std::string part_json(const SlicePlan& plan, int slice);
/// The readers throw StateError naming `origin` when the text is not a valid index or part.
PlanIndex index_from_json(std::string_view text, const std::string& origin);
SlicePart part_from_json(std::string_view text, const std::string& origin);

/// Writes the parts, then the index (replacing any earlier plan of the unit).
void write_plan(const StateLayout& state, const SlicePlan& plan);
/// Throws StateError when the unit has no plan yet (or it is unreadable).
PlanIndex read_plan_index(const StateLayout& state, std::string_view unit);
/// Slice `slice`'s part of the current plan; throws UsageError when there is no such slice and
/// StateError when the part is missing, corrupt or from another plan.
SlicePart read_slice_part(const StateLayout& state, std::string_view unit, int slice);
/// The slice of the plan `index` (the unit's, as read_plan_index() gives it) whose part holds
/// `partition`, or -1 when none does. Parts are read in slice order up to that one, each
/// streamed rather than held or parsed whole, and checked as read_slice_part() checks it (the
/// same SHA-256 check of its bytes, then its unit, plan, slice and count of names): a part
/// missing, damaged or of another plan throws the same StateError. What `why` uses to name the
/// slice of one partition among millions.
int slice_holding(const StateLayout& state, std::string_view unit, const PlanIndex& index, std::string_view partition);

}  // namespace steppar
